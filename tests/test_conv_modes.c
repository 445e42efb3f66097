/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse convolution forward, continued (cases in conv_layers.c):
 * deterministic mode, workspace chunking, stats (both dataflows), kernel
 * shapes, empty input, argument errors and KITTI layers (both dataflows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_layers.h"
#include "ref_voxel.h"

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
    /* The ordered scatter (the fused dataflow's determinism: check_case). */
    const uint32_t det = CLSP_CONV_DETERMINISTIC | CLSP_CONV_GATHER_GEMM;
    float *first = layer_run(&L, ctx, det, NULL, NULL);
    for (int run = 0; run < 2; run++) {
      float *again = layer_run(&L, ctx, det, NULL, NULL);
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
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_GEMM); /* the fused one has no workspace */
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
      fail_msg("case %zu: errors %.3g / %.3g, diff %.3g, chunks %zu vs %zu (%s)", i,
               err_a, err_b, diff, s_tiny.chunks, s_big.chunks, harness_device_label());
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
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_AUTO);
  clsp_context_destroy(tiny);
}

/* A mode case on the device, for the stats tests. */
static void stats_layer(layer *L, clsp_context *ctx, size_t mode_case, uint64_t salt) {
  int32_t grid[4];
  size_t n;
  grid_for(3, grid, &n);
  layer_host(L, &mode_cases[mode_case], grid, n, harness_seed() + salt);
  layer_device(L, ctx);
}

/* Stage times add up to no more than the call's device time. */
static void check_stage_sum(const clsp_conv_stats *s) {
  double sum = 0;
  for (int k = 0; k < CLSP_STAGE_COUNT; k++) sum += s->stage_ms[k];
  assert_true(s->total_ms > 0.0 && sum <= s->total_ms * 1.001 + 1e-3);
}

static void test_stats(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  layer L;
  stats_layer(&L, ctx, 0, 990);
  clsp_conv_stats s;
  free(layer_run(&L, ctx, CLSP_CONV_GATHER_GEMM, &s, NULL));
  size_t pairs = L.rb.start[L.rb.kvol];
  assert_int_equal(s.fused, 0);
  assert_int_equal(s.pair_rows, pairs);
  assert_true(s.gemm_rows >= s.pair_rows);
  /* bound 0.25: padding <= 1/3 of the real rows */
  assert_true((double)(s.gemm_rows - s.pair_rows) <= (double)s.pair_rows / 3.0 + 1.0);
  assert_true(s.gemm_groups >= 2 && s.chunks >= 1);
  assert_true(s.stage_ms[CLSP_STAGE_RULEBOOK] == 0.0);
  assert_true(s.stage_ms[CLSP_STAGE_GATHER] > 0.0 && s.stage_ms[CLSP_STAGE_GEMM] > 0.0 &&
              s.stage_ms[CLSP_STAGE_SCATTER] > 0.0);
  check_stage_sum(&s);
  printf(
    "stats: %zu pairs, %zu GEMM rows (padding %.1f%%), %zu groups, %zu chunks, "
    "%.2f ms (gather %.2f, gemm %.2f, scatter %.2f, other %.2f)\n",
    s.pair_rows, s.gemm_rows,
    100.0 * (double)(s.gemm_rows - s.pair_rows) / (double)s.pair_rows, s.gemm_groups,
    s.chunks, s.total_ms, s.stage_ms[CLSP_STAGE_GATHER], s.stage_ms[CLSP_STAGE_GEMM],
    s.stage_ms[CLSP_STAGE_SCATTER], s.stage_ms[CLSP_STAGE_OTHER]);
  assert_string_equal(clsp_stage_name(CLSP_STAGE_GEMM), "gemm");
  assert_string_equal(clsp_stage_name((clsp_stage)42), "unknown");
  layer_free(&L);
}

/* The fused dataflow's stats, chosen per call, whatever the device default
 * (FUSED wins over GATHER_GEMM; ATOMIC means gather-GEMM-scatter). */
static void test_fused_stats(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  layer L;
  stats_layer(&L, ctx, 1, 995);
  clsp_conv_stats s;
  free(layer_run(&L, ctx, CLSP_CONV_FUSED | CLSP_CONV_GATHER_GEMM, &s, NULL));
  size_t pairs = L.rb.start[L.rb.kvol];
  assert_int_equal(s.fused, 1);
  assert_int_equal(s.atomic, 0);
  assert_int_equal(s.pair_rows, pairs);
  assert_int_equal(s.gemm_rows, pairs);
  assert_int_equal(s.chunks, 0);
  assert_true(s.stage_ms[CLSP_STAGE_GEMM] > 0.0 && s.stage_ms[CLSP_STAGE_OTHER] > 0.0);
  assert_true(s.stage_ms[CLSP_STAGE_GATHER] == 0.0 &&
              s.stage_ms[CLSP_STAGE_SCATTER] == 0.0);
  check_stage_sum(&s);
  free(layer_run(&L, ctx, CLSP_CONV_ATOMIC, &s, NULL)); /* atomic: gather-GEMM-scatter */
  assert_int_equal(s.fused, 0);
  assert_int_equal(s.atomic, 1);
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
  assert_int_equal(clsp_tensor_create(ctx, &d, L.in_coords, L.feats, &other),
                   CLSP_SUCCESS);
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
  assert_int_equal(clsp_conv_forward(tiny, L.dev_rb, L.in, L.dw, CLSP_CONV_GATHER_GEMM,
                                     &out, NULL),
                   CLSP_ERROR_TOO_LARGE);
  assert_non_null(strstr(clsp_context_last_error(tiny), "workspace_bytes = 64"));
  /* The fused dataflow needs no workspace. */
  assert_int_equal(clsp_conv_forward(tiny, L.dev_rb, L.in, L.dw, CLSP_CONV_FUSED, &out,
                                     NULL),
                   CLSP_SUCCESS);
  clsp_tensor_destroy(out);
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
    double *ref = NULL;
    for (int d = 0; d < 2; d++) {
      float *out = layer_run(&L, ctx, d ? CLSP_CONV_FUSED : CLSP_CONV_GATHER_GEMM, NULL,
                             d ? NULL : &oc);
      if (!ref) ref = layer_reference(&L, oc);
      double err = ref_rel_error(out, ref, L.rb.n_out * L.c.cout);
      printf("kitti %s (%s): %zu sites -> %zu, %zu pairs, rel error %.3g\n",
             i ? "regular k3 s2 16->32" : "subm k3 16->16", DATAFLOW_NAMES[d], L.n_in,
             L.rb.n_out, L.rb.start[L.rb.kvol], err);
      HARNESS_CHECK(err < TOL, harness_seed() + 999);
      free(out);
    }
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
    cmocka_unit_test(test_deterministic_mode),
    cmocka_unit_test(test_workspace_chunks),
    cmocka_unit_test(test_stats),
    cmocka_unit_test(test_fused_stats),
    cmocka_unit_test(test_kernel_shapes),
    cmocka_unit_test(test_empty_input),
    cmocka_unit_test(test_argument_errors),
    cmocka_unit_test(test_kitti_layers),
  };
  return HARNESS_RUN("conv_modes", tests, 1);
}
