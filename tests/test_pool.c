/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse pooling (issue 12): max and average pooling over regular-conv
 * windows, forward and backward, 1D to 4D, channels 1 to 65, continuous
 * and tie-heavy data, and global pooling per batch item, against the
 * double-precision reference (ref_pool.c, checked by finite differences
 * in the reference self-test); bit-identical over 3 runs; errors. spconv's
 * max-pool cases are in test_train_data.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_cases.h"
#include "harness.h"
#include "ref_pool.h"

#define TOL 1e-5
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct pool_case {
  int ndim;
  int32_t k, s, p;
  size_t channels;
  int ties; /* values from {-1, -0.5, 0, 0.5, 1} */
} pool_case;

typedef struct pool_layer {
  pool_case c;
  ref_geom g;
  int32_t grid[4], batch;
  int32_t *coords, *out_coords;
  size_t n_in, n_out;
  float *x, *dy;
  clsp_tensor *in, *d_out;
  clsp_rulebook *rb;
} pool_layer;

static float value(harness_rng *rng, int ties) {
  if (ties) return 0.5f * (float)((int)harness_below(rng, 5) - 2);
  return harness_unit(rng);
}

static float *values(harness_rng *rng, size_t n, int ties) {
  float *f = malloc((n + 1) * sizeof *f);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = value(rng, ties);
  return f;
}

static void layer_make(pool_layer *L, clsp_context *ctx, const pool_case *c,
                       uint64_t seed) {
  static const int32_t grids[4][4] = {{30}, {11, 9}, {7, 6, 5}, {5, 4, 4, 3}};
  memset(L, 0, sizeof *L);
  harness_rng rng = {seed};
  L->c = *c;
  L->batch = 2;
  L->g.ndim = c->ndim;
  clsp_conv_geometry g;
  memset(&g, 0, sizeof g);
  for (int a = 0; a < c->ndim; a++) {
    L->g.kernel[a] = g.kernel[a] = c->k;
    L->g.stride[a] = g.stride[a] = c->s;
    L->g.padding[a] = g.padding[a] = c->p;
    L->g.dilation[a] = g.dilation[a] = 1;
  }
  memcpy(L->grid, grids[c->ndim - 1], sizeof L->grid);
  L->coords = conv_case_sites(&rng, c->ndim, L->grid, L->batch, 400, &L->n_in);
  L->x = values(&rng, L->n_in * c->channels, c->ties);
  clsp_tensor_desc d = {0};
  d.ndim = c->ndim;
  memcpy(d.shape, L->grid, sizeof d.shape);
  d.batch_size = L->batch;
  d.n_sites = L->n_in;
  d.channels = c->channels;
  assert_int_equal(clsp_tensor_create(ctx, &d, L->coords, L->x, &L->in), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, L->in, &L->rb),
                   CLSP_SUCCESS);
  clsp_rulebook_info info;
  assert_int_equal(clsp_rulebook_describe(L->rb, &info), CLSP_SUCCESS);
  L->n_out = info.n_out;
  L->out_coords = malloc((L->n_out * (size_t)(c->ndim + 1) + 1) * sizeof *L->out_coords);
  assert_non_null(L->out_coords);
  assert_int_equal(clsp_rulebook_download_out_coords(ctx, L->rb, L->out_coords),
                   CLSP_SUCCESS);
  L->dy = values(&rng, L->n_out * c->channels, 0);
  assert_int_equal(clsp_tensor_create_on_output(ctx, L->rb, c->channels, L->dy,
                                                &L->d_out),
                   CLSP_SUCCESS);
}

static void layer_free(pool_layer *L) {
  clsp_tensor_destroy(L->d_out);
  clsp_rulebook_destroy(L->rb);
  clsp_tensor_destroy(L->in);
  free(L->coords);
  free(L->out_coords);
  free(L->x);
  free(L->dy);
}

static float *download(clsp_context *ctx, clsp_tensor *t, size_t n, int32_t *coords) {
  float *f = malloc((n + 1) * sizeof *f);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = NAN;
  assert_int_equal(clsp_tensor_download(ctx, t, coords, f), CLSP_SUCCESS);
  return f;
}

static void describe(const pool_case *c, int type, char *buf, size_t cap) {
  snprintf(buf, cap, "%s pool %dD k%d s%d p%d, %zu channels%s", type ? "avg" : "max",
           c->ndim, c->k, c->s, c->p, c->channels, c->ties ? ", tie-heavy" : "");
}

/* Forward and backward of one type against the reference; returns the
 * device dX for the determinism check. */
static float *check_type(pool_layer *L, clsp_context *ctx, int type, uint64_t seed) {
  size_t ny = L->n_out * L->c.channels, nx = L->n_in * L->c.channels;
  clsp_tensor *y = NULL, *dx = NULL;
  assert_int_equal(clsp_pool_forward(ctx, L->rb, (clsp_pool_type)type, L->in, &y),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_pool_backward(ctx, L->rb, (clsp_pool_type)type, L->in, L->d_out,
                                      &dx),
                   CLSP_SUCCESS);
  int32_t *yc = malloc((L->n_out * (size_t)(L->c.ndim + 1) + 1) * sizeof *yc);
  int32_t *xc = malloc((L->n_in * (size_t)(L->c.ndim + 1) + 1) * sizeof *xc);
  assert_true(yc && xc);
  float *yf = download(ctx, y, ny, yc), *dxf = download(ctx, dx, nx, xc);
  double *ry = malloc((ny + 1) * sizeof *ry), *rdx = malloc((nx + 1) * sizeof *rdx);
  assert_true(ry && rdx);
  assert_int_equal(ref_pool(type, REF_REGULAR, &L->g, L->grid, L->batch, L->n_in,
                            L->coords, L->x, L->c.channels, L->n_out, L->out_coords,
                            L->dy, ry, rdx),
                   0);
  double ey = ref_rel_error(yf, ry, ny), ex = ref_rel_error(dxf, rdx, nx);
  int coords_ok =
    memcmp(yc, L->out_coords, L->n_out * (size_t)(L->c.ndim + 1) * 4) == 0 &&
    memcmp(xc, L->coords, L->n_in * (size_t)(L->c.ndim + 1) * 4) == 0;
  char what[160];
  describe(&L->c, type, what, sizeof what);
  if (!(ey < TOL && ex < TOL) || !coords_ok)
    fail_msg("%s: rel error Y %.3g dX %.3g, coords %s (seed %llu, %s)", what, ey, ex,
             coords_ok ? "ok" : "WRONG", (unsigned long long)seed,
             harness_device_label());
  clsp_tensor_destroy(y);
  clsp_tensor_destroy(dx);
  free(yc);
  free(xc);
  free(yf);
  free(ry);
  free(rdx);
  return dxf;
}

static const pool_case cases[] = {
  {3, 3, 2, 1, 4, 0},  {3, 3, 2, 1, 8, 1}, {3, 2, 2, 0, 16, 0}, {2, 3, 1, 1, 1, 0},
  {2, 2, 2, 0, 65, 1}, {1, 3, 2, 1, 7, 0}, {4, 2, 2, 0, 3, 1},  {3, 3, 1, 1, 33, 1},
};

static void test_pool_against_reference(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  for (size_t i = 0; i < N_OF(cases); i++)
    for (int type = 0; type < 2; type++) {
      uint64_t seed = harness_seed() + 100 * i + (uint64_t)type;
      pool_layer L;
      layer_make(&L, ctx, &cases[i], seed);
      free(check_type(&L, ctx, type, seed));
      layer_free(&L);
    }
}

static void test_pool_deterministic(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  for (int type = 0; type < 2; type++) {
    uint64_t seed = harness_seed() + 5000 + (uint64_t)type;
    pool_layer L;
    layer_make(&L, ctx, &cases[1], seed);
    float *first = check_type(&L, ctx, type, seed);
    for (int run = 1; run < 3; run++) {
      float *again = check_type(&L, ctx, type, seed);
      assert_memory_equal(first, again, L.n_in * L.c.channels * sizeof(float));
      free(again);
    }
    free(first);
    layer_free(&L);
  }
}

static void test_global_pool(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  static const size_t chans[] = {1, 5, 65};
  for (size_t i = 0; i < N_OF(chans); i++)
    for (int type = 0; type < 2; type++) {
      uint64_t seed = harness_seed() + 7000 + 10 * i + (uint64_t)type;
      harness_rng rng = {seed};
      int32_t grid[3] = {6, 5, 4}, batch = 3;
      size_t n = 0, ch = chans[i];
      int32_t *coords = conv_case_sites(&rng, 3, grid, batch, 400, &n);
      float *x = values(&rng, n * ch, (int)(i & 1)), *dy = values(&rng, 3 * ch, 0);
      clsp_tensor_desc d = {3, {6, 5, 4}, batch, n, ch, 0};
      clsp_tensor *in = NULL, *dx = NULL;
      assert_int_equal(clsp_tensor_create(ctx, &d, coords, x, &in), CLSP_SUCCESS);
      float y[3 * 65];
      assert_int_equal(clsp_global_pool_forward(ctx, (clsp_pool_type)type, in, y),
                       CLSP_SUCCESS);
      assert_int_equal(clsp_global_pool_backward(ctx, (clsp_pool_type)type, in, dy, &dx),
                       CLSP_SUCCESS);
      float *dxf = download(ctx, dx, n * ch, NULL);
      double ry[3 * 65], *rdx = malloc((n * ch + 1) * sizeof *rdx);
      assert_non_null(rdx);
      assert_int_equal(ref_global_pool(type, 3, batch, n, coords, x, ch, dy, ry, rdx), 0);
      double ey = ref_rel_error(y, ry, 3 * ch), ex = ref_rel_error(dxf, rdx, n * ch);
      if (!(ey < TOL && ex < TOL))
        fail_msg("global %s pool, %zu channels: rel error Y %.3g dX %.3g (seed %llu, %s)",
                 type ? "avg" : "max", ch, ey, ex, (unsigned long long)seed,
                 harness_device_label());
      clsp_tensor_destroy(in);
      clsp_tensor_destroy(dx);
      free(coords), free(x), free(dy), free(dxf), free(rdx);
    }
}

static void test_pool_errors(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  pool_layer L;
  layer_make(&L, ctx, &cases[0], harness_seed() + 9000);
  clsp_tensor *out = NULL;
  float y[16];
  assert_int_equal(clsp_pool_forward(ctx, L.rb, (clsp_pool_type)7, L.in, &out),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(ctx), "type"));
  assert_null(out);
  assert_int_equal(clsp_pool_forward(ctx, NULL, CLSP_POOL_MAX, L.in, &out),
                   CLSP_ERROR_INVALID_ARGUMENT);
  /* The gradient must be on the pooling's output sites. */
  assert_int_equal(clsp_pool_backward(ctx, L.rb, CLSP_POOL_MAX, L.in, L.in, &out),
                   CLSP_ERROR_MISMATCH);
  assert_non_null(strstr(clsp_context_last_error(ctx), "d_out"));
  /* The input must be on the rulebook's input sites. */
  assert_int_equal(clsp_pool_forward(ctx, L.rb, CLSP_POOL_AVG, L.d_out, &out),
                   CLSP_ERROR_MISMATCH);
  assert_int_equal(clsp_global_pool_forward(ctx, CLSP_POOL_MAX, L.in, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_global_pool_forward(ctx, (clsp_pool_type)-1, L.in, y),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_global_pool_backward(ctx, CLSP_POOL_MAX, L.in, y, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  layer_free(&L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pool_against_reference),
    cmocka_unit_test(test_pool_deterministic),
    cmocka_unit_test(test_global_pool),
    cmocka_unit_test(test_pool_errors),
  };
  return HARNESS_RUN("pool", tests, 1);
}
