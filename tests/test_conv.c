/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse convolution forward (issue 4): all four kinds against the dense
 * double-precision reference (ref_conv_dense), impulse tests for tap and
 * channel orientation, weight-layout converters, deterministic mode,
 * workspace chunking, argument errors, stats, and KITTI layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_stages.h"
#include "harness.h"
#include "ref_conv.h"
#include "ref_voxel.h"

#define TOL 1e-5
#define SMALL_MAC_BUDGET 150e3

/* ---- cases ---- */

typedef struct conv_case {
  int kind, ndim;
  int32_t k[4], s[4], p[4], d[4];
  size_t cin, cout;
  int bias;
} conv_case;

/* One layer: random sites and data, its reference rulebook, device objects. */
typedef struct layer {
  conv_case c;
  ref_geom g;
  int32_t grid[4], batch;
  int32_t *sites;           /* random sites (regular conv's input for kind 3) */
  size_t n_sites;
  ref_rulebook rb, fwd;     /* fwd: the regular rulebook an inverse reverses */
  const int32_t *in_coords; /* the conv's input sites */
  const int32_t *in_shape;
  size_t n_in;
  float *feats, *w, *bias;
  clsp_tensor *in;
  clsp_rulebook *dev_rb;
  clsp_weights *dw;
  /* Inverse convs run the API's own flow: a regular conv on `pre` (the
   * random sites) gives the input tensor (its output carries the regular
   * rulebook's site identity), whose sites and features then replace
   * in_coords and feats (downloaded into mid_coords). */
  clsp_tensor *pre;
  clsp_rulebook *pre_rb;
  int32_t *mid_coords;
} layer;

static ref_geom geom_of(const conv_case *c) {
  ref_geom g = {0};
  g.ndim = c->ndim;
  for (int a = 0; a < c->ndim; a++) {
    g.kernel[a] = c->k[a] ? c->k[a] : 1;
    g.stride[a] = c->s[a] ? c->s[a] : 1;
    g.padding[a] = c->p[a];
    g.dilation[a] = c->d[a] ? c->d[a] : 1;
  }
  return g;
}

/* n unique random sites in batch x grid (partial Fisher-Yates). */
static int32_t *random_sites(harness_rng *rng, int ndim, const int32_t *grid,
                             int32_t batch, size_t *n) {
  size_t cells = (size_t)batch;
  for (int a = 0; a < ndim; a++) cells *= (size_t)grid[a];
  if (*n > cells) *n = cells;
  uint32_t *idx = malloc(cells * sizeof *idx);
  int32_t *coords = malloc(*n * (size_t)(1 + ndim) * sizeof *coords);
  assert_non_null(idx);
  assert_non_null(coords);
  for (size_t i = 0; i < cells; i++) idx[i] = (uint32_t)i;
  for (size_t i = 0; i < *n; i++) {
    size_t j = i + harness_below(rng, (uint32_t)(cells - i));
    uint32_t v = idx[j];
    idx[j] = idx[i];
    idx[i] = v;
    int32_t *c = coords + i * (size_t)(1 + ndim);
    for (int a = ndim - 1; a >= 0; a--) {
      c[1 + a] = (int32_t)(v % (uint32_t)grid[a]);
      v /= (uint32_t)grid[a];
    }
    c[0] = (int32_t)v;
  }
  free(idx);
  return coords;
}

static float *random_floats(harness_rng *rng, size_t n) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = harness_unit(rng);
  return f;
}

/* The device rulebook engine builds the rulebooks the convs run on; the
 * reference rulebook (L->rb) only sizes the host side of a case. */
static clsp_conv_geometry device_geometry(const ref_geom *g) {
  clsp_conv_geometry d;
  for (int a = 0; a < CLSP_MAX_DIMS; a++) {
    d.kernel[a] = g->kernel[a];
    d.stride[a] = g->stride[a];
    d.padding[a] = g->padding[a];
    d.dilation[a] = g->dilation[a];
  }
  return d;
}

static clsp_status make_rulebook(clsp_context *ctx, layer *L) {
  if (L->c.kind == REF_INVERSE) return clsp_rulebook_inverse(ctx, L->pre_rb, &L->dev_rb);
  clsp_conv_geometry g = device_geometry(&L->g);
  return clsp_rulebook_build(ctx, (clsp_conv_kind)L->c.kind, &g, L->in, &L->dev_rb);
}

/* The regular rulebook an inverse conv reverses, for the sites of L->pre. */
static clsp_status make_regular_rulebook(clsp_context *ctx, layer *L) {
  clsp_conv_geometry g = device_geometry(&L->g);
  return clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, L->pre, &L->pre_rb);
}

static void destroy_rulebook(clsp_rulebook *rb) { clsp_rulebook_destroy(rb); }

/* Host side of a layer: sites, reference rulebook, data. */
static void layer_host_sites(layer *L, const conv_case *c, const int32_t *grid,
                             int32_t batch, const int32_t *given, size_t n,
                             uint64_t seed) {
  memset(L, 0, sizeof *L);
  harness_rng rng = {seed};
  L->c = *c;
  L->g = geom_of(c);
  L->batch = batch;
  memcpy(L->grid, grid, (size_t)c->ndim * sizeof(int32_t));
  L->n_sites = n;
  if (given) {
    size_t bytes = n * (size_t)(1 + c->ndim) * sizeof(int32_t);
    L->sites = malloc(bytes + 4);
    assert_non_null(L->sites);
    memcpy(L->sites, given, bytes);
  } else {
    L->sites = random_sites(&rng, c->ndim, grid, L->batch, &L->n_sites);
  }
  if (c->kind == REF_INVERSE) {
    assert_int_equal(ref_rulebook_build(REF_REGULAR, &L->g, grid, L->batch, L->n_sites,
                                        L->sites, &L->fwd), 0);
    assert_int_equal(ref_rulebook_inverse(&L->fwd, L->n_sites, L->sites, &L->rb), 0);
    L->in_coords = L->fwd.out_coords;
    L->in_shape = L->fwd.out_shape;
    L->n_in = L->fwd.n_out;
  } else {
    assert_int_equal(ref_rulebook_build(c->kind, &L->g, grid, L->batch, L->n_sites,
                                        L->sites, &L->rb), 0);
    L->in_coords = L->sites;
    L->in_shape = L->grid;
    L->n_in = L->n_sites;
  }
  L->feats = random_floats(&rng, L->n_in * c->cin);
  L->w = random_floats(&rng, L->rb.kvol * c->cin * c->cout);
  L->bias = c->bias ? random_floats(&rng, c->cout) : NULL;
}

static void layer_host(layer *L, const conv_case *c, const int32_t *grid, size_t n,
                       uint64_t seed) {
  layer_host_sites(L, c, grid, 2, NULL, n, seed);
}

/* Inverse convs: the input tensor is a regular conv's output on L->sites;
 * its sites and features become the layer's input (for the reference). */
static void inverse_input(layer *L, clsp_context *ctx) {
  clsp_tensor_desc d = {0};
  d.ndim = L->c.ndim;
  memcpy(d.shape, L->grid, (size_t)d.ndim * sizeof(int32_t));
  d.batch_size = L->batch;
  d.n_sites = L->n_sites;
  d.channels = L->c.cin;
  harness_rng rng = {L->n_sites * 7919u + L->c.cin};
  size_t kvol = L->fwd.kvol, cin = L->c.cin;
  float *pre_feats = random_floats(&rng, L->n_sites * cin);
  float *pre_w = random_floats(&rng, kvol * cin * cin);
  clsp_weights *w = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, L->sites, pre_feats, &L->pre), CLSP_SUCCESS);
  assert_int_equal(make_regular_rulebook(ctx, L), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(ctx, kvol, cin, cin, pre_w, NULL, &w), CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, L->pre_rb, L->pre, w, 0, &L->in, NULL),
                   CLSP_SUCCESS);
  clsp_tensor_desc mid;
  assert_int_equal(clsp_tensor_describe(L->in, &mid), CLSP_SUCCESS);
  assert_int_equal(mid.n_sites, L->n_in);
  free(L->mid_coords);
  L->mid_coords = malloc((L->n_in * (size_t)(1 + d.ndim) + 1) * sizeof(int32_t));
  assert_non_null(L->mid_coords);
  assert_int_equal(clsp_tensor_download(ctx, L->in, L->mid_coords, L->feats),
                   CLSP_SUCCESS);
  L->in_coords = L->mid_coords;
  clsp_weights_destroy(w);
  free(pre_feats);
  free(pre_w);
}

static void layer_device(layer *L, clsp_context *ctx) {
  if (L->c.kind == REF_INVERSE) {
    inverse_input(L, ctx);
    assert_int_equal(make_rulebook(ctx, L), CLSP_SUCCESS);
    assert_int_equal(clsp_weights_create(ctx, L->rb.kvol, L->c.cin, L->c.cout, L->w,
                                         L->bias, &L->dw), CLSP_SUCCESS);
    return;
  }
  clsp_tensor_desc d = {0};
  d.ndim = L->c.ndim;
  memcpy(d.shape, L->in_shape, (size_t)d.ndim * sizeof(int32_t));
  d.batch_size = L->batch;
  d.n_sites = L->n_in;
  d.channels = L->c.cin;
  assert_int_equal(clsp_tensor_create(ctx, &d, L->in_coords, L->feats, &L->in),
                   CLSP_SUCCESS);
  assert_int_equal(make_rulebook(ctx, L), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(ctx, L->rb.kvol, L->c.cin, L->c.cout, L->w,
                                       L->bias, &L->dw), CLSP_SUCCESS);
}

static void layer_device_free(layer *L) {
  clsp_weights_destroy(L->dw);
  destroy_rulebook(L->dev_rb);
  clsp_tensor_destroy(L->in);
  destroy_rulebook(L->pre_rb);
  clsp_tensor_destroy(L->pre);
  L->dw = NULL;
  L->dev_rb = L->pre_rb = NULL;
  L->in = L->pre = NULL;
}

static void layer_free(layer *L) {
  layer_device_free(L);
  ref_rulebook_free(&L->rb);
  ref_rulebook_free(&L->fwd);
  free(L->mid_coords);
  free(L->sites);
  free(L->feats);
  free(L->w);
  free(L->bias);
}

/* Runs the layer; returns n_out x cout floats (caller frees). */
static float *layer_run(layer *L, clsp_context *ctx, uint32_t flags,
                        clsp_conv_stats *stats, int32_t **coords_out) {
  clsp_tensor *out = NULL;
  clsp_status st = clsp_conv_forward(ctx, L->dev_rb, L->in, L->dw, flags, &out, stats);
  if (st != CLSP_SUCCESS) fail_msg("clsp_conv_forward: %s: %s", clsp_status_string(st),
                                   clsp_context_last_error(ctx));
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(out, &d), CLSP_SUCCESS);
  assert_int_equal(d.n_sites, L->rb.n_out);
  assert_int_equal(d.channels, L->c.cout);
  float *f = malloc((d.n_sites * d.channels + 1) * sizeof *f);
  int32_t *c = malloc((d.n_sites * (size_t)(1 + d.ndim) + 1) * sizeof *c);
  assert_non_null(f);
  assert_non_null(c);
  assert_int_equal(clsp_tensor_download(ctx, out, c, f), CLSP_SUCCESS);
  clsp_tensor_destroy(out);
  if (coords_out) *coords_out = c;
  else free(c);
  return f;
}

/* Reference at the output sites the device reports (independent of the
 * order a rulebook lists them in). */
static double *layer_reference(const layer *L, const int32_t *out_coords) {
  double *ref = malloc((L->rb.n_out * L->c.cout + 1) * sizeof *ref);
  assert_non_null(ref);
  assert_int_equal(ref_conv_dense(L->c.kind, &L->g, L->in_shape, L->batch, L->n_in,
                                  L->in_coords, L->feats, L->c.cin, L->rb.n_out,
                                  out_coords, L->c.cout, L->w, L->bias, ref), 0);
  return ref;
}

static void describe_case(const conv_case *c, char *buf, size_t cap) {
  static const char *kinds[] = {"subm", "regular", "transposed", "inverse"};
  int n = snprintf(buf, cap, "%s %dD cin %zu cout %zu bias %d k/s/p/d", kinds[c->kind],
                   c->ndim, c->cin, c->cout, c->bias);
  ref_geom g = geom_of(c);
  for (int a = 0; a < c->ndim && n > 0 && (size_t)n < cap; a++)
    n += snprintf(buf + n, cap - (size_t)n, " %d/%d/%d/%d", g.kernel[a], g.stride[a],
                  g.padding[a], g.dilation[a]);
}

static size_t count_nan(const float *f, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += isnan(f[i]) != 0;
  return bad;
}

/* Runs one case against the reference; fails with a readable message. */
static void check_case(const conv_case *c, const int32_t *grid, size_t n_sites,
                       uint32_t flags, uint64_t seed) {
  clsp_context *ctx = harness_ctx();
  layer L;
  layer_host(&L, c, grid, n_sites, seed);
  /* Simulators run GEMMs at ~1e5 multiply-adds per second: small runs
   * keep pairs x c_in x c_out under a budget by taking fewer sites. */
  double macs = (double)L.rb.start[L.rb.kvol] * (double)(c->cin * c->cout);
  if (harness_small() && macs > SMALL_MAC_BUDGET) {
    size_t fewer = (size_t)((double)n_sites * SMALL_MAC_BUDGET / macs);
    layer_free(&L);
    layer_host(&L, c, grid, fewer > 4 ? fewer : 4, seed);
  }
  layer_device(&L, ctx);
  int32_t *oc = NULL;
  clsp_conv_stats stats;
  float *out = layer_run(&L, ctx, flags, &stats, &oc);
  double *ref = layer_reference(&L, oc);
  size_t n = L.rb.n_out * c->cout;
  double err = ref_rel_error(out, ref, n);
  size_t nans = count_nan(out, n);
  char what[256];
  describe_case(c, what, sizeof what);
  if (nans || !(err < TOL) || stats.pair_rows != L.rb.start[L.rb.kvol])
    fail_msg("%s: rel error %.3g, %zu NaN of %zu, pair_rows %zu of %zu (seed %llu, %s)",
             what, err, nans, n, stats.pair_rows, L.rb.start[L.rb.kvol],
             (unsigned long long)seed, harness_device_label());
  free(out);
  free(oc);
  free(ref);
  layer_free(&L);
}

/* Grid and site count per dimensionality, smaller on slow devices. */
static void grid_for(int ndim, int32_t *grid, size_t *n) {
  static const int32_t big[4][4] = {{200}, {40, 37}, {19, 18, 17}, {9, 8, 7, 6}};
  static const int32_t small[4][4] = {{40}, {13, 11}, {9, 8, 7}, {5, 5, 4, 4}};
  static const size_t nbig[4] = {60, 400, 1500, 400}, nsmall[4] = {20, 50, 120, 60};
  memcpy(grid, harness_small() ? small[ndim - 1] : big[ndim - 1], 4 * sizeof(int32_t));
  *n = harness_small() ? nsmall[ndim - 1] : nbig[ndim - 1];
}

static void check_cases(const conv_case *cases, size_t n_cases, uint64_t salt) {
  for (size_t i = 0; i < n_cases; i++) {
    int32_t grid[4];
    size_t n;
    grid_for(cases[i].ndim, grid, &n);
    check_case(&cases[i], grid, n, 0, harness_seed() + salt * 1000 + i);
  }
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- tests: kinds and geometries ---- */

static void test_submanifold_3d(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 16, 16, 0},
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 7, 5, 1},
    {REF_SUBM, 3, {3, 1, 1}, {0}, {0}, {0}, 3, 4, 1},
    {REF_SUBM, 3, {5, 3, 1}, {0}, {0}, {2, 1, 1}, 4, 6, 0},
    {REF_SUBM, 3, {1, 1, 1}, {0}, {0}, {0}, 5, 3, 1},
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {2, 2, 2}, 8, 8, 0},
  };
  check_cases(cases, N_OF(cases), 1);
}

static void test_regular_3d(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 32, 0},
    {REF_REGULAR, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 5, 7, 1},
    {REF_REGULAR, 3, {3, 3, 3}, {1, 1, 1}, {0}, {0}, 4, 4, 1},
    {REF_REGULAR, 3, {3, 1, 1}, {2, 1, 1}, {1, 0, 0}, {0}, 6, 3, 0},
    {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {2, 2, 2}, 3, 5, 1},
    {REF_REGULAR, 3, {2, 3, 1}, {1, 2, 3}, {0, 1, 0}, {1, 2, 1}, 4, 9, 1},
  };
  check_cases(cases, N_OF(cases), 2);
}

static void test_transposed_3d(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_TRANSPOSED, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 8, 0},
    {REF_TRANSPOSED, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 5, 7, 1},
    {REF_TRANSPOSED, 3, {3, 1, 1}, {2, 1, 1}, {0}, {0}, 3, 6, 1},
    {REF_TRANSPOSED, 3, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {2, 2, 2}, 4, 4, 0},
    {REF_TRANSPOSED, 3, {1, 2, 3}, {3, 2, 1}, {0, 0, 1}, {0}, 2, 5, 1},
  };
  check_cases(cases, N_OF(cases), 3);
}

static void test_inverse_3d(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_INVERSE, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 8, 0},
    {REF_INVERSE, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 7, 5, 1},
    {REF_INVERSE, 3, {3, 1, 1}, {2, 1, 1}, {1, 0, 0}, {0}, 3, 3, 1},
    {REF_INVERSE, 3, {3, 3, 3}, {1, 1, 1}, {0}, {2, 1, 2}, 4, 6, 0},
  };
  check_cases(cases, N_OF(cases), 4);
}

static void test_2d_all_kinds(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_SUBM, 2, {3, 3}, {0}, {0}, {0}, 8, 8, 1},
    {REF_SUBM, 2, {3, 1}, {0}, {0}, {1, 2}, 3, 5, 0},
    {REF_REGULAR, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 8, 16, 1},
    {REF_REGULAR, 2, {4, 2}, {2, 1}, {1, 0}, {1, 2}, 5, 3, 0},
    {REF_TRANSPOSED, 2, {2, 2}, {2, 2}, {0}, {0}, 8, 4, 1},
    {REF_TRANSPOSED, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 4, 4, 0},
    {REF_INVERSE, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 8, 8, 1},
    {REF_INVERSE, 2, {2, 3}, {2, 1}, {0, 1}, {0}, 3, 2, 0},
  };
  check_cases(cases, N_OF(cases), 5);
}

static void test_1d_and_4d(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_SUBM, 1, {3}, {0}, {0}, {0}, 4, 4, 1},
    {REF_REGULAR, 1, {4}, {2}, {1}, {0}, 3, 5, 0},
    {REF_TRANSPOSED, 1, {3}, {2}, {1}, {0}, 5, 3, 1},
    {REF_INVERSE, 1, {3}, {2}, {1}, {0}, 2, 2, 0},
    {REF_SUBM, 4, {3, 3, 3, 3}, {0}, {0}, {0}, 4, 4, 1},
    {REF_REGULAR, 4, {2, 2, 2, 2}, {2, 2, 2, 2}, {0}, {0}, 3, 5, 0},
    {REF_TRANSPOSED, 4, {2, 1, 2, 1}, {2, 1, 2, 1}, {0}, {0}, 3, 3, 1},
    {REF_INVERSE, 4, {3, 3, 1, 1}, {2, 2, 1, 1}, {1, 1, 0, 0}, {0}, 2, 3, 0},
  };
  check_cases(cases, N_OF(cases), 6);
}

static void test_channel_counts(void **state) {
  (void)state;
  static const size_t ch[] = {1, 3, 7, 16, 33, 64, 65};
  for (size_t i = 0; i < N_OF(ch); i++) {
    size_t j = (i + 3) % N_OF(ch); /* mixes small and large in/out pairs */
    conv_case cases[3] = {
      {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, ch[i], ch[j], (int)(i & 1)},
      {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, ch[j], ch[i], (int)(~i & 1)},
      {REF_TRANSPOSED, 2, {2, 2}, {2, 2}, {0}, {0}, ch[i], ch[i], 1},
    };
    for (size_t k = 0; k < 3; k++) {
      /* Small runs: one kind per channel count, in rotation. */
      if (harness_small() && k != i % 3) continue;
      int32_t grid[4];
      size_t n;
      grid_for(cases[k].ndim, grid, &n);
      check_case(&cases[k], grid, n, 0, harness_seed() + 700 + 20 * k + i);
    }
  }
}

/* ---- impulse tests: one-hot kernels catch flipped taps and swapped
 * channel axes. The input is a 3x3x3 block of sites of which only the
 * centre carries features (0.5, 2.0); with c_out = kernel volume,
 * W[t][1][t] = 1 and all else 0, output channel t holds 2.0 exactly at
 * the output that the geometry connects to the centre through tap t, and
 * 0 everywhere else. Positions are computed here, per axis, independently
 * of the rulebook code. */

static int expected_site(int kind, const ref_geom *g, size_t tap, const int32_t *i,
                         int32_t *o) {
  int32_t ta[4];
  for (int a = g->ndim - 1; a >= 0; a--) { /* first axis slowest */
    ta[a] = (int32_t)(tap % (size_t)g->kernel[a]);
    tap /= (size_t)g->kernel[a];
  }
  for (int a = 0; a < g->ndim; a++) {
    int32_t k = g->kernel[a], s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    if (kind == REF_SUBM) o[a] = i[a] - (ta[a] - (k - 1) / 2) * d;
    else if (kind == REF_TRANSPOSED) o[a] = i[a] * s - p + ta[a] * d;
    else {
      int32_t num = i[a] + p - ta[a] * d; /* o s - p + t d = i */
      if (num < 0 || num % s) return 0;
      o[a] = num / s;
    }
  }
  return 1;
}

/* Checks every output value; returns how many taps hit an output site. */
static size_t impulse_check(const layer *L, const float *out, const int32_t *oc) {
  const size_t kvol = L->rb.kvol;
  const int32_t centre[3] = {4, 4, 4};
  size_t hits = 0;
  for (size_t t = 0; t < kvol; t++) {
    int32_t o[3];
    int want = expected_site(L->c.kind, &L->g, t, centre, o);
    for (size_t r = 0; r < L->rb.n_out; r++) {
      const int32_t *c = oc + r * 4;
      int here = want && c[0] == 0 && c[1] == o[0] && c[2] == o[1] && c[3] == o[2];
      float v = out[r * kvol + t], e = here ? 2.0f : 0.0f;
      if (fabsf(v - e) > 1e-6f)
        fail_msg("kind %d tap %zu: output (%d,%d,%d,%d) = %g, want %g (%s)", L->c.kind, t,
                 c[0], c[1], c[2], c[3], v, e, harness_device_label());
      hits += (size_t)here;
    }
  }
  return hits;
}

static void impulse_kind(const conv_case *c) {
  clsp_context *ctx = harness_ctx();
  int32_t grid[3] = {9, 9, 9}, sites[27 * 4];
  for (int n = 0; n < 27; n++) {
    int32_t *s = sites + 4 * n;
    s[0] = 0;
    s[1] = 3 + n / 9;
    s[2] = 3 + (n / 3) % 3;
    s[3] = 3 + n % 3;
  }
  conv_case cc = *c;
  ref_geom g = geom_of(c);
  cc.cout = ref_kernel_volume(&g);
  layer L;
  layer_host_sites(&L, &cc, grid, 1, sites, 27, 1);
  memset(L.feats, 0, 27 * 2 * sizeof(float));
  L.feats[13 * 2] = 0.5f; /* site 13 is the centre (4, 4, 4) */
  L.feats[13 * 2 + 1] = 2.0f;
  size_t kvol = L.rb.kvol;
  memset(L.w, 0, kvol * 2 * kvol * sizeof(float));
  for (size_t t = 0; t < kvol; t++) L.w[(t * 2 + 1) * kvol + t] = 1.0f;
  layer_device(&L, ctx);
  int32_t *oc = NULL;
  float *out = layer_run(&L, ctx, 0, NULL, &oc);
  size_t hits = impulse_check(&L, out, oc);
  /* Every tap reaches an output site except submanifold ones off the
   * block and regular ones that the stride skips. */
  if (c->kind == REF_TRANSPOSED) assert_int_equal(hits, kvol);
  assert_true(hits >= 1);
  free(out);
  free(oc);
  layer_free(&L);
}

static void test_impulse_taps(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 2, 0, 0},
    {REF_SUBM, 3, {3, 1, 5}, {0}, {0}, {1, 1, 1}, 2, 0, 0},
    {REF_REGULAR, 3, {3, 2, 3}, {1, 1, 1}, {1, 0, 1}, {0}, 2, 0, 0},
    {REF_REGULAR, 3, {3, 2, 3}, {2, 2, 2}, {1, 1, 0}, {0}, 2, 0, 0},
    {REF_TRANSPOSED, 3, {3, 2, 3}, {2, 2, 2}, {1, 0, 1}, {0}, 2, 0, 0},
  };
  for (size_t i = 0; i < N_OF(cases); i++) impulse_kind(&cases[i]);
}

/* ---- weight layouts ---- */

static void test_weight_converters(void **state) {
  (void)state;
  const size_t kvol = 27, cin = 5, cout = 7, n = kvol * cin * cout;
  harness_rng rng = {harness_seed()};
  float *src = random_floats(&rng, n), *dst = malloc(n * sizeof *dst),
        *want = malloc(n * sizeof *want);
  assert_non_null(dst);
  assert_non_null(want);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_NATIVE, kvol, cin, cout, src, dst),
                   CLSP_SUCCESS);
  assert_memory_equal(dst, src, n * sizeof *dst);
  ref_weights_from_torch(src, kvol, cin, cout, want);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_TORCH_CONV, kvol, cin, cout, src, dst),
                   CLSP_SUCCESS);
  assert_memory_equal(dst, want, n * sizeof *dst);
  ref_weights_from_torch_transposed(src, kvol, cin, cout, want);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_TORCH_TRANSPOSED, kvol, cin, cout, src,
                                        dst), CLSP_SUCCESS);
  assert_memory_equal(dst, want, n * sizeof *dst);
  ref_weights_from_spconv(src, kvol, cin, cout, want);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_SPCONV, kvol, cin, cout, src, dst),
                   CLSP_SUCCESS);
  assert_memory_equal(dst, want, n * sizeof *dst);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_SPCONV, kvol, cin, cout, src, src),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_convert((clsp_weight_layout)9, kvol, cin, cout, src, dst),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_NATIVE, 0, cin, cout, src, dst),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_NATIVE, kvol, cin, cout, NULL, dst),
                   CLSP_ERROR_INVALID_ARGUMENT);
  free(src);
  free(dst);
  free(want);
}

/* ---- modes ---- */

static const conv_case mode_cases[] = {
  {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 16, 16, 1},
  {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 32, 0},
  {REF_INVERSE, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 8, 8, 1},
};

static void test_deterministic_mode(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  for (size_t i = 0; i < N_OF(mode_cases); i++) {
    int32_t grid[4];
    size_t n;
    grid_for(3, grid, &n);
    conv_case c = mode_cases[i];
    if (harness_small()) c.cin = c.cout = 8; /* simulators: see check_case */
    layer L;
    layer_host(&L, &c, grid, n, harness_seed() + 900 + i);
    layer_device(&L, ctx);
    size_t elems = L.rb.n_out * L.c.cout;
    float *first = layer_run(&L, ctx, CLSP_CONV_DETERMINISTIC, NULL, NULL);
    for (int run = 0; run < 2; run++) {
      float *again = layer_run(&L, ctx, CLSP_CONV_DETERMINISTIC, NULL, NULL);
      assert_memory_equal(first, again, elems * sizeof *first);
      free(again);
    }
    float *atomic = layer_run(&L, ctx, CLSP_CONV_ATOMIC, NULL, NULL);
    double *ref = malloc(elems * sizeof *ref + 8);
    assert_non_null(ref);
    for (size_t e = 0; e < elems; e++) ref[e] = first[e];
    double err = ref_rel_error(atomic, ref, elems);
    HARNESS_CHECK(err < TOL, harness_seed() + 900 + i);
    assert_int_equal(count_nan(first, elems), 0);
    free(first);
    free(atomic);
    free(ref);
    layer_free(&L);
  }
}

static clsp_context *context_with_workspace(size_t bytes, uint32_t flags) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_PROFILING | flags;
  o.workspace_bytes = bytes;
  clsp_context *ctx = NULL;
  assert_int_equal(clsp_context_create(&o, &ctx), CLSP_SUCCESS);
  return ctx;
}

static void test_workspace_chunks(void **state) {
  (void)state;
  /* 64 KiB: 128 rows of 64 + 64 channels per chunk. Small sizes have
   * fewer pairs per tap (and every GEMM call is slow on simulators):
   * 1.5 KiB, 24 rows of 8 + 8 channels, two cases. */
  int small = harness_small();
  size_t ws = small ? 1536 : 64 * 1024, n_cases = small ? 2 : N_OF(mode_cases);
  clsp_context *big = harness_ctx(), *tiny = context_with_workspace(ws, 0);
  for (size_t i = 0; i < n_cases; i++) {
    conv_case c = mode_cases[i];
    c.cin = c.cout = small ? 8 : 64;
    int32_t grid[4];
    size_t n;
    grid_for(3, grid, &n);
    layer L;
    layer_host(&L, &c, grid, n, harness_seed() + 950 + i);
    layer_device(&L, big);
    clsp_conv_stats s_big, s_tiny;
    float *a = layer_run(&L, big, 0, &s_big, NULL);
    layer_device_free(&L);
    layer_device(&L, tiny);
    int32_t *oc = NULL;
    float *b = layer_run(&L, tiny, 0, &s_tiny, &oc);
    size_t elems = L.rb.n_out * c.cout;
    double *ref = layer_reference(&L, oc);
    double err_a = ref_rel_error(a, ref, elems), err_b = ref_rel_error(b, ref, elems);
    for (size_t e = 0; e < elems; e++) ref[e] = a[e];
    double diff = ref_rel_error(b, ref, elems);
    if (!(err_a < TOL && err_b < TOL && diff < TOL) || s_tiny.chunks <= s_big.chunks ||
        s_tiny.chunks < 2 || count_nan(b, elems))
      fail_msg("case %zu: errors %.3g / %.3g, diff %.3g, chunks %zu vs %zu (%s)", i, err_a,
               err_b, diff, s_tiny.chunks, s_big.chunks, harness_device_label());
    assert_int_equal(s_tiny.pair_rows, s_big.pair_rows);
    float *det = layer_run(&L, tiny, CLSP_CONV_DETERMINISTIC, NULL, NULL);
    assert_true(ref_rel_error(det, ref, elems) < TOL);
    free(a);
    free(b);
    free(det);
    free(oc);
    free(ref);
    layer_free(&L);
  }
  clsp_context_destroy(tiny);
}

static void test_stats(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t grid[4];
  size_t n;
  grid_for(3, grid, &n);
  layer L;
  layer_host(&L, &mode_cases[0], grid, n, harness_seed() + 990);
  layer_device(&L, ctx);
  clsp_conv_stats s;
  free(layer_run(&L, ctx, 0, &s, NULL));
  size_t pairs = L.rb.start[L.rb.kvol];
  assert_int_equal(s.pair_rows, pairs);
  assert_true(s.gemm_rows >= s.pair_rows);
  /* bound 0.25: padding <= 1/3 of the real rows */
  assert_true((double)(s.gemm_rows - s.pair_rows) <= (double)s.pair_rows / 3.0 + 1.0);
  assert_true(s.gemm_groups >= 2 && s.chunks >= 1);
  assert_true(s.stage_ms[CLSP_STAGE_RULEBOOK] == 0.0);
  assert_true(s.stage_ms[CLSP_STAGE_GATHER] > 0.0 && s.stage_ms[CLSP_STAGE_GEMM] > 0.0 &&
              s.stage_ms[CLSP_STAGE_SCATTER] > 0.0);
  double sum = 0;
  for (int k = 0; k < CLSP_STAGE_COUNT; k++) sum += s.stage_ms[k];
  assert_true(s.total_ms > 0.0 && sum <= s.total_ms * 1.001 + 1e-3);
  printf("stats: %zu pairs, %zu GEMM rows (padding %.1f%%), %zu groups, %zu chunks, "
         "%.2f ms (gather %.2f, gemm %.2f, scatter %.2f, other %.2f)\n",
         s.pair_rows, s.gemm_rows, 100.0 * (double)(s.gemm_rows - s.pair_rows) /
         (double)s.pair_rows, s.gemm_groups, s.chunks, s.total_ms,
         s.stage_ms[CLSP_STAGE_GATHER], s.stage_ms[CLSP_STAGE_GEMM],
         s.stage_ms[CLSP_STAGE_SCATTER], s.stage_ms[CLSP_STAGE_OTHER]);
  assert_string_equal(clsp_stage_name(CLSP_STAGE_GEMM), "gemm");
  assert_string_equal(clsp_stage_name((clsp_stage)42), "unknown");
  layer_free(&L);
}

/* Both kernel shapes (element and row), whatever the device would pick. */
static void test_kernel_shapes(void **state) {
  (void)state;
  static const clsp__shape shapes[] = {CLSP_SHAPE_ELEMENTS, CLSP_SHAPE_ROWS};
  static const uint32_t flags[] = {CLSP_CONV_ATOMIC, CLSP_CONV_DETERMINISTIC};
  for (size_t i = 0; i < N_OF(shapes); i++) {
    clsp__conv_debug_shape(shapes[i]);
    for (size_t m = 0; m < N_OF(mode_cases); m++) {
      conv_case c = mode_cases[m];
      if (harness_small()) c.cin = c.cout = 5;
      int32_t grid[4];
      size_t n;
      grid_for(3, grid, &n);
      check_case(&c, grid, n, flags[m % 2], harness_seed() + 60 + 10 * i + m);
    }
  }
  clsp__conv_debug_shape(CLSP_SHAPE_AUTO);
}

/* No sites: an empty output, no GEMM, no error. */
static void test_empty_input(void **state) {
  (void)state;
  static const conv_case cases[] = {
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 4, 5, 1},
    {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 4, 5, 1},
  };
  const int32_t grid[4] = {9, 8, 7};
  for (size_t i = 0; i < N_OF(cases); i++) {
    layer L;
    int32_t none[4] = {0};
    layer_host_sites(&L, &cases[i], grid, 1, none, 0, 1);
    layer_device(&L, harness_ctx());
    clsp_conv_stats s;
    float *out = layer_run(&L, harness_ctx(), 0, &s, NULL);
    assert_int_equal(L.rb.n_out, 0);
    assert_int_equal(s.pair_rows, 0);
    assert_int_equal(s.chunks, 0);
    free(out);
    layer_free(&L);
  }
}

/* ---- errors ---- */

static void test_argument_errors(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t grid[4];
  size_t n;
  grid_for(3, grid, &n);
  layer L;
  layer_host(&L, &mode_cases[1], grid, n, harness_seed() + 995);
  layer_device(&L, ctx);
  clsp_tensor *out = (clsp_tensor *)&out;
  assert_int_equal(clsp_conv_forward(ctx, NULL, L.in, L.dw, 0, &out, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_null(out);
  assert_int_equal(clsp_conv_forward(ctx, L.dev_rb, L.in, L.dw, 0, NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_conv_forward(NULL, L.dev_rb, L.in, L.dw, 0, &out, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clsp_weights *w = NULL;
  float *wv = calloc(L.rb.kvol * 32 * 32, sizeof *wv);
  assert_non_null(wv);
  assert_int_equal(clsp_weights_create(ctx, L.rb.kvol, L.c.cin + 1, 4, wv, NULL, &w),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, L.dev_rb, L.in, w, 0, &out, NULL),
                   CLSP_ERROR_MISMATCH);
  assert_non_null(strstr(clsp_context_last_error(ctx), "c_in = 17"));
  clsp_weights_destroy(w);
  assert_int_equal(clsp_weights_create(ctx, L.rb.kvol - 1, L.c.cin, 4, wv, NULL, &w),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, L.dev_rb, L.in, w, 0, &out, NULL),
                   CLSP_ERROR_MISMATCH);
  clsp_weights_destroy(w);
  /* Same coordinates, but another site set: the rulebook may not apply. */
  clsp_tensor_desc d;
  clsp_tensor *other = NULL;
  assert_int_equal(clsp_tensor_describe(L.in, &d), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_create(ctx, &d, L.in_coords, L.feats, &other), CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, L.dev_rb, other, L.dw, 0, &out, NULL),
                   CLSP_ERROR_MISMATCH);
  assert_null(out);
  clsp_tensor_destroy(other);
  assert_int_equal(clsp_weights_create(ctx, 0, 1, 1, wv, NULL, &w),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_create(ctx, 1, 1, 1, NULL, NULL, &w),
                   CLSP_ERROR_INVALID_ARGUMENT);
  free(wv);
  /* A workspace too small for one row is refused, naming the budget. */
  clsp_context *tiny = context_with_workspace(64, 0);
  layer_device_free(&L);
  layer_device(&L, tiny);
  assert_int_equal(clsp_conv_forward(tiny, L.dev_rb, L.in, L.dw, 0, &out, NULL),
                   CLSP_ERROR_TOO_LARGE);
  assert_non_null(strstr(clsp_context_last_error(tiny), "workspace_bytes = 64"));
  layer_free(&L);
  clsp_context_destroy(tiny);
}

/* ---- real data ---- */

static int kitti_path(char *buf, size_t cap) {
  const char *dir = getenv("CLSP_KITTI_DIR");
  snprintf(buf, cap, "%s/000000.bin", dir && dir[0] ? dir : CLSP_KITTI_DEFAULT_DIR);
  FILE *f = fopen(buf, "rb");
  if (f) fclose(f);
  return f != NULL;
}

static void test_kitti_layers(void **state) {
  (void)state;
  char path[2048];
  if (harness_small()) HARNESS_SKIP("KITTI layers are not run with CLSP_TEST_SMALL");
  if (!kitti_path(path, sizeof path)) HARNESS_SKIP("no KITTI scan at %s", path);
  float *pts = NULL;
  size_t n_pts = 0;
  ref_voxels v;
  assert_int_equal(ref_load_kitti_bin(path, &pts, &n_pts), 0);
  assert_int_equal(ref_voxelize_second(pts, n_pts, 0, &v), 0);
  free(pts);
  static const conv_case cases[] = {
    {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 16, 16, 1},
    {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 32, 1},
  };
  clsp_context *ctx = harness_ctx();
  for (size_t i = 0; i < N_OF(cases); i++) {
    layer L;
    layer_host_sites(&L, &cases[i], v.shape, 1, v.coords, v.n, harness_seed() + 999);
    layer_device(&L, ctx);
    int32_t *oc = NULL;
    float *out = layer_run(&L, ctx, 0, NULL, &oc);
    double *ref = layer_reference(&L, oc);
    double err = ref_rel_error(out, ref, L.rb.n_out * L.c.cout);
    printf("kitti %s: %zu sites -> %zu, %zu pairs, rel error %.3g\n",
           i ? "regular k3 s2 16->32" : "subm k3 16->16", L.n_in, L.rb.n_out,
           L.rb.start[L.rb.kvol], err);
    HARNESS_CHECK(err < TOL, harness_seed() + 999);
    free(out);
    free(oc);
    free(ref);
    layer_free(&L);
  }
  ref_voxels_free(&v);
}

int main(void) {
  /* Every conv in this suite fills its output and workspace with NaN
   * first: a missed element or a stale row shows up as NaN. */
  clsp__conv_debug_poison(1);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_weight_converters),
    cmocka_unit_test(test_impulse_taps),
    cmocka_unit_test(test_submanifold_3d),
    cmocka_unit_test(test_regular_3d),
    cmocka_unit_test(test_transposed_3d),
    cmocka_unit_test(test_inverse_3d),
    cmocka_unit_test(test_2d_all_kinds),
    cmocka_unit_test(test_1d_and_4d),
    cmocka_unit_test(test_channel_counts),
    cmocka_unit_test(test_deterministic_mode),
    cmocka_unit_test(test_workspace_chunks),
    cmocka_unit_test(test_stats),
    cmocka_unit_test(test_kernel_shapes),
    cmocka_unit_test(test_empty_input),
    cmocka_unit_test(test_argument_errors),
    cmocka_unit_test(test_kitti_layers),
  };
  return HARNESS_RUN("conv", tests, 1);
}
