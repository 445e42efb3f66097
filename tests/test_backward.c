/* SPDX-License-Identifier: Apache-2.0 */
/* Convolution backward (issue 12): dX, dW and db of all four kinds, on the
 * forward suite's geometry combinations and channels 1 to 65, against the
 * dense double-precision reference (ref_conv_backward, itself checked by
 * finite differences in the reference self-test); deterministic mode
 * bit-identical over 3 runs; the scatter modes; argument errors. Outputs
 * are poisoned (NaN) before every pass. spconv's real-data gradients are
 * in test_train_data.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_cases.h"
#include "conv_stages.h"
#include "harness.h"
#include "ref_conv.h"

#define TOL 1e-5
#define SMALL_MAC_BUDGET 150e3
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One layer and its gradient problem, built through the public API. */
typedef struct bw_layer {
  conv_case c;
  ref_geom g;
  int32_t grid[4], batch, in_shape[4];
  int32_t *sites, *in_coords, *out_coords;
  size_t n_sites, n_in, n_out, kvol;
  float *x, *w, *bias, *dy;
  clsp_tensor *pre, *in, *d_out;
  clsp_rulebook *pre_rb, *rb;
  clsp_weights *dw;
} bw_layer;

/* Results of one backward call (host copies). */
typedef struct grads {
  float *dx, *dw, *db;
  int32_t *dx_coords;
} grads;

static float *random_floats(harness_rng *rng, size_t n) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = harness_unit(rng);
  return f;
}

static clsp_conv_geometry device_geometry(const ref_geom *g) {
  clsp_conv_geometry d;
  memset(&d, 0, sizeof d);
  for (int a = 0; a < g->ndim; a++) {
    d.kernel[a] = g->kernel[a];
    d.stride[a] = g->stride[a];
    d.padding[a] = g->padding[a];
    d.dilation[a] = g->dilation[a];
  }
  return d;
}

static int32_t *download_out_coords(clsp_context *ctx, const clsp_rulebook *rb, size_t n,
                                    int nd) {
  int32_t *c = malloc((n * (size_t)(nd + 1) + 1) * sizeof *c);
  assert_non_null(c);
  assert_int_equal(clsp_rulebook_download_out_coords(ctx, rb, c), CLSP_SUCCESS);
  return c;
}

/* The input tensor and the rulebook; an inverse conv's input lives on its
 * regular conv's output sites (clsp_tensor_create_on_output). */
static void layer_inputs(bw_layer *L, clsp_context *ctx, harness_rng *rng) {
  clsp_tensor_desc d = {0};
  d.ndim = L->c.ndim;
  memcpy(d.shape, L->grid, sizeof L->grid);
  d.batch_size = L->batch;
  d.n_sites = L->n_sites;
  d.channels = L->c.cin;
  clsp_conv_geometry g = device_geometry(&L->g);
  clsp_rulebook_info info;
  if (L->c.kind != REF_INVERSE) {
    L->n_in = L->n_sites;
    L->x = random_floats(rng, L->n_in * L->c.cin);
    assert_int_equal(clsp_tensor_create(ctx, &d, L->sites, L->x, &L->in), CLSP_SUCCESS);
    assert_int_equal(clsp_rulebook_build(ctx, (clsp_conv_kind)L->c.kind, &g, L->in,
                                         &L->rb),
                     CLSP_SUCCESS);
    L->in_coords = L->sites;
    memcpy(L->in_shape, L->grid, sizeof L->grid);
    return;
  }
  assert_int_equal(clsp_tensor_create(ctx, &d, L->sites, NULL, &L->pre), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, L->pre, &L->pre_rb),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_inverse(ctx, L->pre_rb, &L->rb), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_describe(L->pre_rb, &info), CLSP_SUCCESS);
  L->n_in = info.n_out;
  memcpy(L->in_shape, info.out_shape, sizeof L->in_shape);
  L->x = random_floats(rng, L->n_in * L->c.cin);
  assert_int_equal(clsp_tensor_create_on_output(ctx, L->pre_rb, L->c.cin, L->x, &L->in),
                   CLSP_SUCCESS);
  L->in_coords = download_out_coords(ctx, L->pre_rb, L->n_in, L->c.ndim);
}

static void layer_make(bw_layer *L, clsp_context *ctx, const conv_case *c,
                       const int32_t *grid, size_t want, uint64_t seed) {
  memset(L, 0, sizeof *L);
  harness_rng rng = {seed};
  L->c = *c;
  L->g = conv_case_geom(c);
  L->batch = 2;
  memcpy(L->grid, grid, (size_t)c->ndim * sizeof(int32_t));
  for (int a = c->ndim; a < 4; a++) L->grid[a] = 1;
  size_t cells = (size_t)L->batch;
  for (int a = 0; a < c->ndim; a++) cells *= (size_t)grid[a];
  uint32_t keep = (uint32_t)(want >= cells ? 1000 : 1000 * want / cells + 1);
  L->sites = conv_case_sites(&rng, c->ndim, grid, L->batch, keep, &L->n_sites);
  layer_inputs(L, ctx, &rng);
  clsp_rulebook_info info;
  assert_int_equal(clsp_rulebook_describe(L->rb, &info), CLSP_SUCCESS);
  L->n_out = info.n_out;
  L->kvol = info.kernel_volume;
  L->out_coords = download_out_coords(ctx, L->rb, L->n_out, c->ndim);
  L->w = random_floats(&rng, L->kvol * c->cin * c->cout);
  L->bias = c->bias ? random_floats(&rng, c->cout) : NULL;
  L->dy = random_floats(&rng, L->n_out * c->cout);
  assert_int_equal(clsp_weights_create(ctx, L->kvol, c->cin, c->cout, L->w, L->bias,
                                       &L->dw),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_create_on_output(ctx, L->rb, c->cout, L->dy, &L->d_out),
                   CLSP_SUCCESS);
}

static void layer_free(bw_layer *L) {
  clsp_tensor_destroy(L->d_out);
  clsp_weights_destroy(L->dw);
  clsp_rulebook_destroy(L->rb);
  clsp_tensor_destroy(L->in);
  clsp_rulebook_destroy(L->pre_rb);
  clsp_tensor_destroy(L->pre);
  if (L->in_coords != L->sites) free(L->in_coords);
  free(L->sites);
  free(L->out_coords);
  free(L->x);
  free(L->w);
  free(L->bias);
  free(L->dy);
}

static void grads_free(grads *r) {
  free(r->dx);
  free(r->dw);
  free(r->db);
  free(r->dx_coords);
}

/* Runs the backward; host arrays are poisoned with NaN first. */
static grads layer_backward(bw_layer *L, clsp_context *ctx, uint32_t flags) {
  grads r;
  size_t ndw = L->kvol * L->c.cin * L->c.cout;
  r.dx = malloc((L->n_in * L->c.cin + 1) * sizeof *r.dx);
  r.dw = malloc((ndw + 1) * sizeof *r.dw);
  r.db = malloc((L->c.cout + 1) * sizeof *r.db);
  r.dx_coords = malloc((L->n_in * (size_t)(L->c.ndim + 1) + 1) * sizeof *r.dx_coords);
  assert_true(r.dx && r.dw && r.db && r.dx_coords);
  for (size_t i = 0; i < ndw; i++) r.dw[i] = NAN;
  for (size_t i = 0; i < L->c.cout; i++) r.db[i] = NAN;
  clsp_tensor *dx = NULL;
  clsp__conv_debug_poison(1);
  clsp_status st =
    clsp_conv_backward(ctx, L->rb, L->in, L->dw, L->d_out, flags, &dx, r.dw, r.db, NULL);
  clsp__conv_debug_poison(0);
  if (st != CLSP_SUCCESS)
    fail_msg("clsp_conv_backward: %s: %s", clsp_status_string(st),
             clsp_context_last_error(ctx));
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(dx, &d), CLSP_SUCCESS);
  assert_int_equal(d.n_sites, L->n_in);
  assert_int_equal(d.channels, L->c.cin);
  assert_int_equal(clsp_tensor_download(ctx, dx, r.dx_coords, r.dx), CLSP_SUCCESS);
  clsp_tensor_destroy(dx);
  return r;
}

static double worst_seen[3]; /* largest dX, dW, db errors of the run */

static void check_against_ref(bw_layer *L, const grads *r, uint64_t seed) {
  size_t nx = L->n_in * L->c.cin, nw = L->kvol * L->c.cin * L->c.cout;
  double *rx = malloc((nx + 1) * sizeof *rx), *rw = malloc((nw + 1) * sizeof *rw);
  double *rb = malloc((L->c.cout + 1) * sizeof *rb);
  assert_true(rx && rw && rb);
  assert_int_equal(ref_conv_backward(L->c.kind, &L->g, L->in_shape, L->batch, L->n_in,
                                     L->in_coords, L->x, L->c.cin, L->n_out,
                                     L->out_coords, L->dy, L->c.cout, L->w, rx, rw, rb),
                   0);
  double e[3] = {ref_rel_error(r->dx, rx, nx), ref_rel_error(r->dw, rw, nw),
                 ref_rel_error(r->db, rb, L->c.cout)};
  int coords_ok = memcmp(r->dx_coords, L->in_coords,
                         L->n_in * (size_t)(L->c.ndim + 1) * sizeof(int32_t)) == 0;
  char what[256];
  conv_case_describe(&L->c, what, sizeof what);
  if (!(e[0] < TOL && e[1] < TOL && e[2] < TOL) || !coords_ok)
    fail_msg(
      "%s: rel error dX %.3g dW %.3g db %.3g, dX coords %s (%zu in, %zu out; seed "
      "%llu, %s)",
      what, e[0], e[1], e[2], coords_ok ? "ok" : "WRONG", L->n_in, L->n_out,
      (unsigned long long)seed, harness_device_label());
  for (int k = 0; k < 3; k++)
    if (e[k] > worst_seen[k]) worst_seen[k] = e[k];
  free(rx);
  free(rw);
  free(rb);
}

static void check_case_on(clsp_context *ctx, const conv_case *c, uint32_t flags,
                          uint64_t seed) {
  int32_t grid[4];
  size_t n;
  conv_case_grid(c->ndim, grid, &n);
  /* Simulators run GEMMs at ~1e5 multiply-adds per second: small runs
   * keep sites x 8 pairs x c_in x c_out under a budget. */
  double macs = (double)n * 8.0 * (double)(c->cin * c->cout);
  if (harness_small() && macs > SMALL_MAC_BUDGET)
    n = (size_t)fmax(4.0, (double)n * SMALL_MAC_BUDGET / macs);
  bw_layer L;
  layer_make(&L, ctx, c, grid, n, seed);
  /* dX runs clsp_conv_forward with these flags: both dataflows (the
   * atomic scatter is gather -> GEMM -> scatter's only). */
  static const uint32_t flows[2] = {CLSP_CONV_GATHER_GEMM, CLSP_CONV_FUSED};
  for (int d = 0; d < 2; d++) {
    if (d == 1 && (flags & CLSP_CONV_ATOMIC)) continue;
    grads r = layer_backward(&L, ctx, flags | flows[d]);
    check_against_ref(&L, &r, seed);
    grads_free(&r);
  }
  layer_free(&L);
}

static void check_case(const conv_case *c, uint32_t flags, uint64_t seed) {
  check_case_on(harness_ctx(), c, flags, seed);
}

static void check_cases(const conv_case *cases, size_t n, uint64_t salt) {
  for (size_t i = 0; i < n; i++)
    check_case(&cases[i], 0, harness_seed() + salt * 1000 + i);
}

CONV_CASE_TESTS

/* Channels 1 to 65 in and out, every kind (small runs: a rotation). */
static void test_channel_counts(void **state) {
  (void)state;
  const size_t *ch = conv_case_channels, n_ch = N_OF(conv_case_channels);
  for (size_t i = 0; i < n_ch; i++) {
    size_t j = (i + 3) % n_ch;
    conv_case cases[4] = {
      {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, ch[i], ch[j], (int)(i & 1)},
      {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, ch[j], ch[i], (int)(~i & 1)},
      {REF_TRANSPOSED, 2, {2, 2}, {2, 2}, {0}, {0}, ch[i], ch[i], 1},
      {REF_INVERSE, 2, {3, 3}, {2, 2}, {1, 1}, {0}, ch[j], ch[j], 0},
    };
    for (size_t k = 0; k < 4; k++) {
      if (harness_small() && k != i % 4) continue;
      check_case(&cases[k], 0, harness_seed() + 700 + 20 * k + i);
    }
  }
}

static const conv_case mode_cases[] = {
  {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 16, 16, 1},
  {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 32, 0},
  {REF_TRANSPOSED, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 8, 8, 1},
  {REF_INVERSE, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 8, 8, 1},
};

/* Deterministic flag: three runs give the same bits (dX, dW, db), and
 * match the reference. */
static void test_deterministic_bit_identical(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  for (size_t i = 0; i < N_OF(mode_cases); i++) {
    int32_t grid[4];
    size_t n;
    conv_case_grid(3, grid, &n);
    uint64_t seed = harness_seed() + 900 + i;
    bw_layer L;
    layer_make(&L, ctx, &mode_cases[i], grid, n, seed);
    grads first = layer_backward(&L, ctx, CLSP_CONV_DETERMINISTIC);
    check_against_ref(&L, &first, seed);
    for (int run = 1; run < 3; run++) {
      grads again = layer_backward(&L, ctx, CLSP_CONV_DETERMINISTIC);
      size_t nx = L.n_in * L.c.cin, nw = L.kvol * L.c.cin * L.c.cout;
      int same = memcmp(first.dx, again.dx, nx * sizeof(float)) == 0 &&
                 memcmp(first.dw, again.dw, nw * sizeof(float)) == 0 &&
                 memcmp(first.db, again.db, L.c.cout * sizeof(float)) == 0;
      if (!same)
        fail_msg(
          "case %zu run %d: deterministic backward differs from run 0 (seed %llu, %s)", i,
          run, (unsigned long long)seed, harness_device_label());
      grads_free(&again);
    }
    grads_free(&first);
    layer_free(&L);
  }
}

/* The atomic scatter of dX (forced) is correct too. */
static void test_atomic_scatter(void **state) {
  (void)state;
  for (size_t i = 0; i < N_OF(mode_cases); i++)
    check_case(&mode_cases[i], CLSP_CONV_ATOMIC, harness_seed() + 950 + i);
}

/* A workspace of a few rows: dX runs in many chunks, each dW tap in row
 * ranges accumulated with beta = 1. */
static void test_small_workspace(void **state) {
  (void)state;
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_PROFILING;
  o.workspace_bytes = 1536; /* 24 rows of 8 + 8 channels */
  clsp_context *tiny = NULL;
  assert_int_equal(clsp_context_create(&o, &tiny), CLSP_SUCCESS);
  for (size_t i = 0; i < N_OF(mode_cases); i++) {
    conv_case c = mode_cases[i];
    c.cin = c.cout = 8;
    check_case_on(tiny, &c, 0, harness_seed() + 960 + i);
    check_case_on(tiny, &c, CLSP_CONV_DETERMINISTIC, harness_seed() + 960 + i);
  }
  clsp_context_destroy(tiny);
}

/* The regular mode case on the context's grid, seeded by `salt`. */
static void mode_layer(bw_layer *L, clsp_context *ctx, uint64_t salt) {
  int32_t grid[4];
  size_t n;
  conv_case_grid(3, grid, &n);
  layer_make(L, ctx, &mode_cases[1], grid, n, harness_seed() + salt);
}

/* Any subset of the outputs may be asked for; none is an empty call. */
static void test_optional_outputs(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  bw_layer L;
  mode_layer(&L, ctx, 970);
  grads all = layer_backward(&L, ctx, CLSP_CONV_DETERMINISTIC);
  size_t nw = L.kvol * L.c.cin * L.c.cout;
  float *dw = malloc(nw * sizeof *dw);
  assert_non_null(dw);
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, L.d_out,
                                      CLSP_CONV_DETERMINISTIC, NULL, dw, NULL, NULL),
                   CLSP_SUCCESS);
  assert_memory_equal(dw, all.dw, nw * sizeof *dw);
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, L.d_out, 0, NULL, NULL, NULL,
                                      NULL),
                   CLSP_SUCCESS);
  clsp_conv_stats stats;
  clsp_tensor *dx = NULL;
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, L.d_out, 0, &dx, dw, NULL,
                                      &stats),
                   CLSP_SUCCESS);
  /* The dX pass multiplies every pair once. */
  size_t pairs = 0;
  uint32_t *counts = malloc(L.kvol * sizeof *counts);
  assert_non_null(counts);
  assert_int_equal(clsp_rulebook_pair_counts(L.rb, counts), CLSP_SUCCESS);
  for (size_t t = 0; t < L.kvol; t++) pairs += counts[t];
  assert_int_equal(stats.pair_rows, pairs);
  clsp_tensor_destroy(dx);
  free(counts);
  free(dw);
  grads_free(&all);
  layer_free(&L);
}

static void test_errors(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  bw_layer L;
  mode_layer(&L, ctx, 990);
  clsp_tensor *dx = (clsp_tensor *)&L; /* must be reset to NULL on error */
  float db[64];
  /* dY with the output coordinates but not from the rulebook: MISMATCH. */
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(L.d_out, &d), CLSP_SUCCESS);
  clsp_tensor *lookalike = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, L.out_coords, L.dy, &lookalike),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, lookalike, 0, &dx, NULL, db,
                                      NULL),
                   CLSP_ERROR_MISMATCH);
  assert_null(dx);
  assert_non_null(strstr(clsp_context_last_error(ctx), "d_out"));
  /* dY with the wrong channel count. */
  clsp_tensor *narrow = NULL;
  assert_int_equal(clsp_tensor_create_on_output(ctx, L.rb, L.c.cout - 1, NULL, &narrow),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, narrow, 0, &dx, NULL, NULL,
                                      NULL),
                   CLSP_ERROR_MISMATCH);
  /* dY on the input sites (the forward's input) instead of the output. */
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, L.in, 0, &dx, NULL, NULL,
                                      NULL),
                   CLSP_ERROR_MISMATCH);
  assert_int_equal(clsp_conv_backward(ctx, L.rb, L.in, L.dw, NULL, 0, &dx, NULL, NULL,
                                      NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_conv_backward(ctx, NULL, L.in, L.dw, L.d_out, 0, &dx, NULL, NULL,
                                      NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_conv_backward(NULL, L.rb, L.in, L.dw, L.d_out, 0, &dx, NULL, NULL,
                                      NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clsp_tensor_destroy(lookalike);
  clsp_tensor_destroy(narrow);
  layer_free(&L);
}

/* The layout converters' inverse restores every layout. */
static void test_convert_back(void **state) {
  (void)state;
  const size_t kvol = 27, cin = 5, cout = 7, n = kvol * cin * cout;
  harness_rng rng = {harness_seed()};
  float *src = random_floats(&rng, n), *nat = malloc(n * sizeof *nat),
        *back = malloc(n * sizeof *back);
  assert_true(nat && back);
  for (int layout = 0; layout <= CLSP_LAYOUT_SPCONV; layout++) {
    assert_int_equal(clsp_weights_convert((clsp_weight_layout)layout, kvol, cin, cout,
                                          src, nat),
                     CLSP_SUCCESS);
    assert_int_equal(clsp_weights_convert_back((clsp_weight_layout)layout, kvol, cin,
                                               cout, nat, back),
                     CLSP_SUCCESS);
    assert_memory_equal(back, src, n * sizeof *src);
  }
  assert_int_equal(clsp_weights_convert_back(CLSP_LAYOUT_SPCONV, kvol, cin, cout, nat,
                                             nat),
                   CLSP_ERROR_INVALID_ARGUMENT);
  free(src);
  free(nat);
  free(back);
}

/* Prints the largest errors seen, so the run documents its margins. */
static void test_report_margins(void **state) {
  (void)state;
  printf("backward: largest rel errors on %s: dX %.3g, dW %.3g, db %.3g (tol %.0e)\n",
         harness_device_label(), worst_seen[0], worst_seen[1], worst_seen[2], TOL);
  worst_seen[0] = worst_seen[1] = worst_seen[2] = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_submanifold_3d),
    cmocka_unit_test(test_regular_3d),
    cmocka_unit_test(test_transposed_3d),
    cmocka_unit_test(test_inverse_3d),
    cmocka_unit_test(test_2d_all_kinds),
    cmocka_unit_test(test_1d_and_4d),
    cmocka_unit_test(test_channel_counts),
    cmocka_unit_test(test_deterministic_bit_identical),
    cmocka_unit_test(test_atomic_scatter),
    cmocka_unit_test(test_small_workspace),
    cmocka_unit_test(test_optional_outputs),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_convert_back),
    cmocka_unit_test(test_report_margins),
  };
  return HARNESS_RUN("backward", tests, 1);
}
