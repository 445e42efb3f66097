/* SPDX-License-Identifier: Apache-2.0 */
/* Training on real data (issue 12): spconv 2.3.8's forward outputs and
 * gradients on the SECOND voxels of KITTI 000008 (../shared/data/grad,
 * README.md there): SubMConv3d 16->32, SparseConv3d 32->64 k3 s2 p1 and
 * its SparseInverseConv3d 32->16, matched to 1e-5 (Y, dX, dW); and
 * SparseMaxPool3d k3 s2 p1 on the entries where spconv's definition
 * (max(0, window max), every tied maximum gets dY) and ours (max over the
 * active inputs, one arg-max, lowest row on ties) agree. spconv's regular
 * conv lists its output sites in another order than ours: rows are matched
 * by coordinates. X and dY are stored as float16 (read here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/npy.h"

#define TOL 1e-5

static char grad_dir[512];

static int data_present(void) {
  const char *env = getenv("CLSP_GRAD_DIR");
  snprintf(grad_dir, sizeof grad_dir, "%s", env && env[0] ? env : CLSP_GRAD_DEFAULT_DIR);
  char path[600];
  snprintf(path, sizeof path, "%s/coords.npy", grad_dir);
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31u, m = h & 1023u;
  float v;
  if (e == 0)
    v = ldexpf((float)m, -24);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = ldexpf((float)(m | 1024u), (int)e - 25);
  return sign ? -v : v;
}

/* A '<f2' array of rank 2 (the format of the stored X and dY). */
static float *read_f16(const char *path, size_t *rows, size_t *cols) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char pre[10];
  assert_int_equal(fread(pre, 1, 10, f), 10);
  assert_int_equal(memcmp(pre, "\x93NUMPY", 6), 0);
  assert_int_equal(pre[6], 1); /* version 1.0: 2-byte header length */
  size_t hl = (size_t)pre[8] | (size_t)pre[9] << 8;
  char *hdr = calloc(hl + 1, 1);
  assert_non_null(hdr);
  assert_int_equal(fread(hdr, 1, hl, f), hl);
  assert_non_null(strstr(hdr, "'<f2'"));
  assert_non_null(strstr(hdr, "'fortran_order': False"));
  const char *sh = strstr(hdr, "'shape': (");
  assert_non_null(sh);
  assert_int_equal(sscanf(sh, "'shape': (%zu, %zu)", rows, cols), 2);
  free(hdr);
  size_t n = *rows * *cols;
  uint16_t *h = malloc(n * sizeof *h);
  float *out = malloc(n * sizeof *out);
  assert_true(h && out);
  assert_int_equal(fread(h, 2, n, f), n);
  fclose(f);
  for (size_t i = 0; i < n; i++) out[i] = half_to_float(h[i]);
  free(h);
  return out;
}

static void *read_npy(const char *name, clsp_npy_array *a) {
  char path[600], err[256];
  snprintf(path, sizeof path, "%s/%s", grad_dir, name);
  if (clsp_npy_read(path, a, err, sizeof err) != 0) fail_msg("%s", err);
  return a->data;
}

static float *read_half(const char *name, size_t *rows, size_t *cols) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", grad_dir, name);
  return read_f16(path, rows, cols);
}

/* ||a - b|| / ||b|| over the entries with mask[j] (NULL: all). */
static double rel_err(const float *a, const float *b, size_t n,
                      const unsigned char *mask) {
  double num = 0, den = 0;
  for (size_t j = 0; j < n; j++) {
    if (mask && !mask[j]) continue;
    double e = (double)a[j] - (double)b[j];
    num += e * e;
    den += (double)b[j] * b[j];
  }
  return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

/* ---- row matching: our output rows vs spconv's ---- */

typedef struct keyed {
  int64_t key;
  size_t row;
} keyed;

static int by_key(const void *pa, const void *pb) {
  const keyed *a = pa, *b = pb;
  return (a->key > b->key) - (a->key < b->key);
}

static int64_t key_of(const int32_t *c) {
  return (((int64_t)c[0] * 4096 + c[1]) * 4096 + c[2]) * 4096 + c[3];
}

/* perm[r] = row of `theirs` with the coordinates of row r of `ours`. */
static size_t *match_rows(const int32_t *ours, const int32_t *theirs, size_t n) {
  keyed *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  size_t *perm = malloc(n * sizeof *perm);
  assert_true(a && b && perm);
  for (size_t r = 0; r < n; r++) {
    a[r] = (keyed){key_of(ours + 4 * r), r};
    b[r] = (keyed){key_of(theirs + 4 * r), r};
  }
  qsort(a, n, sizeof *a, by_key);
  qsort(b, n, sizeof *b, by_key);
  for (size_t k = 0; k < n; k++) {
    assert_true(a[k].key == b[k].key);
    perm[a[k].row] = b[k].row;
  }
  free(a);
  free(b);
  return perm;
}

/* dst[r] = src[perm[r]] (rows of `cols` floats). */
static float *permute_rows(const float *src, const size_t *perm, size_t n, size_t cols) {
  float *dst = malloc((n * cols + 1) * sizeof *dst);
  assert_non_null(dst);
  for (size_t r = 0; r < n; r++) memcpy(dst + r * cols, src + perm[r] * cols, cols * 4);
  return dst;
}

/* ---- the scene: KITTI 000008 voxels and the regular rulebook ---- */

typedef struct scene {
  clsp_npy_array coords, b_out;
  size_t n, n_out;
  clsp_tensor_desc desc;
  clsp_rulebook *regular; /* k3 s2 p1 (B, C and D), for the row matching */
  clsp_tensor *sites;     /* a 1-channel tensor it is built on */
  size_t *perm;           /* our output row -> spconv's row */
} scene;

static void scene_open(scene *s, clsp_context *ctx) {
  memset(s, 0, sizeof *s);
  const int32_t *c = read_npy("coords.npy", &s->coords);
  s->n = s->coords.shape[0];
  clsp_tensor_desc d = {3, {41, 1600, 1408}, 1, s->n, 1, 0};
  s->desc = d;
  assert_int_equal(clsp_tensor_create(ctx, &d, c, NULL, &s->sites), CLSP_SUCCESS);
  clsp_conv_geometry g = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, s->sites, &s->regular),
                   CLSP_SUCCESS);
  const int32_t *theirs = read_npy("B_conv_out_coords.npy", &s->b_out);
  s->n_out = s->b_out.shape[0];
  clsp_rulebook_info info;
  assert_int_equal(clsp_rulebook_describe(s->regular, &info), CLSP_SUCCESS);
  assert_int_equal(info.n_out, s->n_out); /* 20309 */
  int32_t *ours = malloc(s->n_out * 4 * sizeof *ours);
  assert_non_null(ours);
  assert_int_equal(clsp_rulebook_download_out_coords(ctx, s->regular, ours),
                   CLSP_SUCCESS);
  s->perm = match_rows(ours, theirs, s->n_out);
  free(ours);
}

static void scene_close(scene *s) {
  clsp_rulebook_destroy(s->regular);
  clsp_tensor_destroy(s->sites);
  clsp_npy_free(&s->coords);
  clsp_npy_free(&s->b_out);
  free(s->perm);
}

/* Runs forward and backward of one conv layer and compares with spconv. */
typedef struct layer_io {
  const char *name;
  const clsp_rulebook *rb;
  const clsp_tensor *in;
  size_t cin, cout, n_out;
  const size_t *out_perm; /* our output row -> spconv row, or NULL */
  const size_t *in_perm;  /* our input row -> spconv row, or NULL */
  const char *w_file, *y_file, *dy_file, *dx_file, *dw_file;
} layer_io;

static void check_layer(clsp_context *ctx, const layer_io *io) {
  char f[80];
  clsp_npy_array wa = {0}, ya = {0}, dxa = {0}, dwa = {0};
  size_t kvol = 27, nw = kvol * io->cin * io->cout, rows, cols;
  snprintf(f, sizeof f, "%s", io->w_file);
  float *w = malloc(nw * sizeof *w), *dw = malloc(nw * sizeof *dw),
        *dw_sp = malloc(nw * sizeof *dw_sp);
  assert_true(w && dw && dw_sp);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_SPCONV, kvol, io->cin, io->cout,
                                        read_npy(f, &wa), w),
                   CLSP_SUCCESS);
  clsp_weights *wt = NULL;
  assert_int_equal(clsp_weights_create(ctx, kvol, io->cin, io->cout, w, NULL, &wt),
                   CLSP_SUCCESS);
  clsp_tensor *y = NULL, *dy_t = NULL, *dx = NULL;
  assert_int_equal(clsp_conv_forward(ctx, io->rb, io->in, wt, CLSP_CONV_DETERMINISTIC, &y,
                                     NULL),
                   CLSP_SUCCESS);
  float *yf = malloc(io->n_out * io->cout * sizeof *yf);
  assert_non_null(yf);
  assert_int_equal(clsp_tensor_download(ctx, y, NULL, yf), CLSP_SUCCESS);
  const float *y_sp = read_npy(io->y_file, &ya);
  float *y_ref =
    io->out_perm ? permute_rows(y_sp, io->out_perm, io->n_out, io->cout) : NULL;
  double ey = rel_err(yf, y_ref ? y_ref : y_sp, io->n_out * io->cout, NULL);
  float *dy = read_half(io->dy_file, &rows, &cols);
  assert_int_equal(rows, io->n_out);
  float *dy_ours = io->out_perm ? permute_rows(dy, io->out_perm, rows, cols) : NULL;
  assert_int_equal(clsp_tensor_create_on_output(ctx, io->rb, io->cout,
                                                dy_ours ? dy_ours : dy, &dy_t),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_backward(ctx, io->rb, io->in, wt, dy_t,
                                      CLSP_CONV_DETERMINISTIC, &dx, dw, NULL, NULL),
                   CLSP_SUCCESS);
  clsp_tensor_desc dd;
  assert_int_equal(clsp_tensor_describe(dx, &dd), CLSP_SUCCESS);
  float *dxf = malloc(dd.n_sites * io->cin * sizeof *dxf);
  assert_non_null(dxf);
  assert_int_equal(clsp_tensor_download(ctx, dx, NULL, dxf), CLSP_SUCCESS);
  const float *dx_sp = read_npy(io->dx_file, &dxa);
  float *dx_ref =
    io->in_perm ? permute_rows(dx_sp, io->in_perm, dd.n_sites, io->cin) : NULL;
  double ex = rel_err(dxf, dx_ref ? dx_ref : dx_sp, dd.n_sites * io->cin, NULL);
  assert_int_equal(clsp_weights_convert_back(CLSP_LAYOUT_SPCONV, kvol, io->cin, io->cout,
                                             dw, dw_sp),
                   CLSP_SUCCESS);
  double ew = rel_err(dw_sp, read_npy(io->dw_file, &dwa), nw, NULL);
  printf("%s vs spconv 2.3.8: rel error Y %.3g, dX %.3g, dW %.3g (tol %.0e, %s)\n",
         io->name, ey, ex, ew, TOL, harness_device_label());
  if (!(ey < TOL && ex < TOL && ew < TOL))
    fail_msg("%s: rel error Y %.3g dX %.3g dW %.3g", io->name, ey, ex, ew);
  clsp_tensor_destroy(y);
  clsp_tensor_destroy(dy_t);
  clsp_tensor_destroy(dx);
  clsp_weights_destroy(wt);
  clsp_npy_free(&wa), clsp_npy_free(&ya), clsp_npy_free(&dxa), clsp_npy_free(&dwa);
  free(w), free(dw), free(dw_sp), free(yf), free(y_ref), free(dy), free(dy_ours);
  free(dxf), free(dx_ref);
}

#define SKIP_IF_NO_DATA()                                                                \
  do {                                                                                   \
    if (harness_small())                                                                 \
      HARNESS_SKIP("real-data gradients are not run with CLSP_TEST_SMALL");              \
    if (!data_present()) HARNESS_SKIP("no gradient data at %s", grad_dir);               \
  } while (0)

/* A tensor of `ch` channels on the scene's input sites (a rulebook is then
 * built on it: a rulebook takes only the tensor it was built for). */
static void scene_input(clsp_context *ctx, const scene *s, const float *x, size_t ch,
                        clsp_tensor **in) {
  clsp_tensor_desc d = s->desc;
  d.channels = ch;
  assert_int_equal(clsp_tensor_create(ctx, &d, s->coords.data, x, in), CLSP_SUCCESS);
}

/* The input of layer `xfile` on the scene's sites and its rulebook of
 * `kind` with kernel 3 (stride 2, padding 1 unless submanifold). */
static float *scene_layer(clsp_context *ctx, const scene *s, const char *xfile,
                          clsp_conv_kind kind, clsp_tensor **in, clsp_rulebook **rb) {
  size_t rows, cols;
  float *x = read_half(xfile, &rows, &cols);
  scene_input(ctx, s, x, cols, in);
  int sub = kind == CLSP_CONV_SUBMANIFOLD;
  clsp_conv_geometry g = {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  for (int a = 0; a < 3; a++) g.stride[a] = sub ? 1 : 2, g.padding[a] = sub ? 0 : 1;
  assert_int_equal(clsp_rulebook_build(ctx, kind, &g, *in, rb), CLSP_SUCCESS);
  return x;
}

static void test_subm(void **state) {
  (void)state;
  SKIP_IF_NO_DATA();
  clsp_context *ctx = harness_ctx();
  scene s;
  scene_open(&s, ctx);
  clsp_tensor *in = NULL;
  clsp_rulebook *rb = NULL;
  float *x = scene_layer(ctx, &s, "A_subm_X.npy", CLSP_CONV_SUBMANIFOLD, &in, &rb);
  layer_io io = {"A SubMConv3d 16->32",
                 rb,
                 in,
                 16,
                 32,
                 s.n,
                 NULL,
                 NULL,
                 "A_subm_W.npy",
                 "A_subm_Y.npy",
                 "A_subm_dY.npy",
                 "A_subm_dX.npy",
                 "A_subm_dW.npy"};
  check_layer(ctx, &io);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(in);
  free(x);
  scene_close(&s);
}

static void test_regular_and_inverse(void **state) {
  (void)state;
  SKIP_IF_NO_DATA();
  clsp_context *ctx = harness_ctx();
  scene s;
  scene_open(&s, ctx);
  size_t rows, cols;
  clsp_tensor *in = NULL, *inv_in = NULL;
  clsp_rulebook *rb = NULL, *inv = NULL;
  float *x = scene_layer(ctx, &s, "B_conv_X.npy", CLSP_CONV_REGULAR, &in, &rb);
  layer_io b = {"B SparseConv3d 32->64 k3 s2 p1",
                rb,
                in,
                32,
                64,
                s.n_out,
                s.perm,
                NULL,
                "B_conv_W.npy",
                "B_conv_Y.npy",
                "B_conv_dY.npy",
                "B_conv_dX.npy",
                "B_conv_dW.npy"};
  check_layer(ctx, &b);
  /* C: the inverse of B's rulebook, fed features on B's output sites. */
  float *cx = read_half("C_inv_X.npy", &rows, &cols);
  float *cx_ours = permute_rows(cx, s.perm, rows, cols);
  assert_int_equal(clsp_tensor_create_on_output(ctx, rb, cols, cx_ours, &inv_in),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_inverse(ctx, rb, &inv), CLSP_SUCCESS);
  layer_io c = {"C SparseInverseConv3d 32->16",
                inv,
                inv_in,
                32,
                16,
                s.n,
                NULL,
                s.perm,
                "C_inv_W.npy",
                "C_inv_Y.npy",
                "C_inv_dY.npy",
                "C_inv_dX.npy",
                "C_inv_dW.npy"};
  check_layer(ctx, &c);
  clsp_rulebook_destroy(inv);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(inv_in);
  clsp_tensor_destroy(in);
  free(x), free(cx), free(cx_ours);
  scene_close(&s);
}

/* ---- max pooling (D1, D2) ---- */

typedef struct pool_data {
  const float *x, *y_sp; /* y_sp in our output row order */
  uint32_t *start, *pin, *pout;
  size_t n_in, n_out, ch;
  unsigned char *win_ok, *dx_ok; /* entries where the definitions agree */
} pool_data;

/* A window (o, c) agrees when spconv's value is its positive maximum held
 * by exactly one input; an input entry (i, c) when all its windows agree. */
static void agreement(pool_data *p) {
  size_t n_pairs = p->start[27], ch = p->ch;
  unsigned *holders = calloc(p->n_out * ch, sizeof *holders);
  p->win_ok = malloc(p->n_out * ch);
  p->dx_ok = malloc(p->n_in * ch);
  assert_true(holders && p->win_ok && p->dx_ok);
  for (size_t k = 0; k < n_pairs; k++)
    for (size_t c = 0; c < ch; c++)
      holders[p->pout[k] * ch + c] +=
        p->x[p->pin[k] * ch + c] == p->y_sp[p->pout[k] * ch + c];
  for (size_t e = 0; e < p->n_out * ch; e++)
    p->win_ok[e] = p->y_sp[e] > 0 && holders[e] == 1;
  memset(p->dx_ok, 1, p->n_in * ch);
  for (size_t k = 0; k < n_pairs; k++)
    for (size_t c = 0; c < ch; c++)
      if (!p->win_ok[p->pout[k] * ch + c]) p->dx_ok[p->pin[k] * ch + c] = 0;
  free(holders);
}

static size_t count_set(const unsigned char *m, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += m[i];
  return k;
}

static void check_maxpool(clsp_context *ctx, const scene *s, const char *tag) {
  char f[64];
  size_t rows, ch;
  snprintf(f, sizeof f, "%s_maxpool_X.npy", tag);
  float *x = read_half(f, &rows, &ch);
  snprintf(f, sizeof f, "%s_maxpool_dY.npy", tag);
  float *dy_sp = read_half(f, &rows, &ch);
  clsp_npy_array ya = {0}, dxa = {0};
  snprintf(f, sizeof f, "%s_maxpool_Y.npy", tag);
  float *y_sp = permute_rows(read_npy(f, &ya), s->perm, s->n_out, ch);
  float *dy = permute_rows(dy_sp, s->perm, s->n_out, ch);
  snprintf(f, sizeof f, "%s_maxpool_dX.npy", tag);
  const float *dx_sp = read_npy(f, &dxa);
  clsp_tensor *in = NULL, *y = NULL, *dy_t = NULL, *dx = NULL;
  clsp_rulebook *rb = NULL;
  scene_input(ctx, s, x, ch, &in);
  clsp_conv_geometry g = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, in, &rb),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_pool_forward(ctx, rb, CLSP_POOL_MAX, in, &y), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_create_on_output(ctx, rb, ch, dy, &dy_t), CLSP_SUCCESS);
  assert_int_equal(clsp_pool_backward(ctx, rb, CLSP_POOL_MAX, in, dy_t, &dx),
                   CLSP_SUCCESS);
  pool_data p = {x, y_sp, NULL, NULL, NULL, s->n, s->n_out, ch, NULL, NULL};
  p.start = malloc(28 * 4);
  p.pin = malloc(s->n_out * 27 * 4);
  p.pout = malloc(s->n_out * 27 * 4);
  float *yf = malloc(s->n_out * ch * 4), *dxf = malloc(s->n * ch * 4);
  assert_true(p.start && p.pin && p.pout && yf && dxf);
  assert_int_equal(clsp_rulebook_download(ctx, rb, p.start, p.pin, p.pout), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_download(ctx, y, NULL, yf), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_download(ctx, dx, NULL, dxf), CLSP_SUCCESS);
  agreement(&p);
  size_t ny = count_set(p.win_ok, s->n_out * ch), nx = count_set(p.dx_ok, s->n * ch);
  double ey = rel_err(yf, y_sp, s->n_out * ch, p.win_ok);
  double ex = rel_err(dxf, dx_sp, s->n * ch, p.dx_ok);
  printf(
    "%s SparseMaxPool3d vs spconv 2.3.8 where the definitions agree: Y %.3g on %zu of "
    "%zu, dX %.3g on %zu of %zu entries (tol %.0e, %s)\n",
    tag, ey, ny, s->n_out * ch, ex, nx, s->n * ch, TOL, harness_device_label());
  /* Enough entries compared that the check means something. */
  if (!(ey < TOL && ex < TOL) || ny * 10 < s->n_out * ch || nx * 10 < s->n * ch)
    fail_msg("%s max pool: Y %.3g on %zu, dX %.3g on %zu entries", tag, ey, ny, ex, nx);
  clsp_tensor_destroy(in), clsp_tensor_destroy(y), clsp_tensor_destroy(dy_t);
  clsp_tensor_destroy(dx);
  clsp_rulebook_destroy(rb);
  clsp_npy_free(&ya), clsp_npy_free(&dxa);
  free(x), free(dy_sp), free(y_sp), free(dy), free(yf), free(dxf);
  free(p.start), free(p.pin), free(p.pout), free(p.win_ok), free(p.dx_ok);
}

static void test_maxpool(void **state) {
  (void)state;
  SKIP_IF_NO_DATA();
  clsp_context *ctx = harness_ctx();
  scene s;
  scene_open(&s, ctx);
  check_maxpool(ctx, &s, "D1");
  check_maxpool(ctx, &s, "D2");
  scene_close(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_subm),
    cmocka_unit_test(test_regular_and_inverse),
    cmocka_unit_test(test_maxpool),
  };
  return HARNESS_RUN("train_data", tests, 1);
}
