/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse convolution forward (issue 4): all four kinds against the dense
 * double-precision reference (ref_conv_dense), impulse tests for tap and
 * channel orientation, the weight-layout converters, and every tile of the
 * fused dataflow (check_case runs both dataflows). Modes, workspace
 * chunking, stats, errors and KITTI layers: test_conv_modes.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_layers.h"

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

/* ---- fused tiles ---- */

typedef struct fused_tile {
  const char *name; /* as CLSP_FUSED_TILE spells it */
  unsigned vec, blocks, ksplit, rows, groups;
} fused_tile;

/* One-row tiles, then row tiles: 3 and 5 rows leave a partial last tile
 * on every grid, 128 is the limit; then the work-group tiles (the GPU
 * shape; the other fields do not apply). */
static const fused_tile TILES[] = {
  {"16x4", 16, 4, 1, 1, 0},     {"16x4k2", 16, 4, 2, 1, 0}, {"16x3", 16, 3, 1, 1, 0},
  {"16x3k2", 16, 3, 2, 1, 0},   {"16x2", 16, 2, 1, 1, 0},   {"16x1", 16, 1, 1, 1, 0},
  {"8x1", 8, 1, 1, 1, 0},       {"4x1", 4, 1, 1, 1, 0},     {"1x1", 1, 1, 1, 1, 0},
  {"16x4r32", 16, 4, 1, 32, 0}, {"16x3r5", 16, 3, 1, 5, 0}, {"16x2r3", 16, 2, 1, 3, 0},
  {"8x1r128", 8, 1, 1, 128, 0}, {"1x1r7", 1, 1, 1, 7, 0},   {"groups", 16, 4, 1, 1, 1},
};

/* Every fused tile, set in the context's tuning record, on column counts
 * that need every slice kind: 50 = 3 float16 + float/scalar remainders,
 * 29, 64, 130. Every other tile with tuning.fused off, so that rulebooks
 * are built without the pair list and the first fused conv builds it from
 * the pairs (the path of GPUs), else it comes from the rulebook's map. */
static void test_fused_tiles(void **state) {
  (void)state;
  static const size_t couts[] = {50, 29, 64, 130};
  clsp_tuning *t = &harness_ctx()->tuning, saved = *t;
  check_fused_only(1); /* the tiles are the fused dataflow's */
  for (size_t i = 0; i < N_OF(TILES); i++) {
    t->fused_vec = TILES[i].vec;
    t->fused_blocks = TILES[i].blocks;
    t->fused_ksplit = TILES[i].ksplit;
    t->fused_rows = TILES[i].rows;
    t->fused_groups = (int)TILES[i].groups;
    t->fused_rows_min_macs = 0; /* row tiles on every slice */
    t->fused = (int)(i & 1);
    /* Small runs: one column count per tile, in rotation. */
    for (size_t j = 0; j < N_OF(couts); j++) {
      if (harness_small() && j != i % N_OF(couts)) continue;
      /* Row tiles: two column counts each, one submanifold and one
       * strided map (j even / odd), rotating across the tiles. */
      int strided_too = TILES[i].rows > 1 || TILES[i].groups;
      if (strided_too && j != i % N_OF(couts) && j != (i + 1) % N_OF(couts)) continue;
      conv_case c = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 7, couts[j], (int)(i & 1)};
      /* Row and group tiles also on strided maps, whose rows read few
       * taps. */
      if (strided_too && (j & 1)) {
        conv_case strided = {j == 1 ? REF_REGULAR : REF_TRANSPOSED,
                             3,
                             {3, 3, 3},
                             {2, 2, 2},
                             {1, 1, 1},
                             {0},
                             7,
                             couts[j],
                             1};
        c = strided;
      }
      /* Row and group tiles: 70 input channels on the submanifold map,
       * more than the 16 a group tile stages at a time and not a
       * multiple of them, and more than a 64-column slice is wide. */
      if (strided_too && !(j & 1)) c.cin = 70;
      int32_t grid[4];
      size_t n;
      grid_for(3, grid, &n);
      check_case(&c, grid, n, 0, harness_seed() + 1100 + 10 * i + j);
    }
  }
  check_fused_only(0);
  *t = saved;
}

/* ---- float16 storage ---- */

/* Within HALF_TOL of the float64 reference on the float inputs: features,
 * weights and outputs each rounded to float16 (11-bit significands). */
#define HALF_TOL 5e-3

/* One fused conv of L on float16 features and weights in the context's
 * shape, its output back in float32 (coords into *coords when asked). */
static float *run_half(layer *L, clsp_context *ctx, const clsp_tensor *in_half,
                       int32_t **coords) {
  clsp_tensor *out = NULL, *out_f = NULL;
  assert_int_equal(clsp_conv_forward(ctx, L->dev_rb, in_half, L->dw, 0, &out, NULL),
                   CLSP_SUCCESS);
  assert_int_equal(clsp__tensor_storage(ctx, out, 0, &out_f), CLSP_SUCCESS);
  size_t n = L->rb.n_out * L->c.cout;
  float *f = malloc((n + 1) * sizeof *f);
  int32_t *c = malloc((L->rb.n_out * 4 + 1) * sizeof *c);
  assert_true(f && c);
  assert_int_equal(clsp_tensor_download(ctx, out_f, c, f), CLSP_SUCCESS);
  clsp_tensor_destroy(out);
  clsp_tensor_destroy(out_f);
  if (coords)
    *coords = c;
  else
    free(c);
  return f;
}

/* The float16-storage builds of the fused kernels (a model's
 * CLSP_MODEL_FLOAT16_STORAGE) in both shapes against the reference: 29
 * output columns take the 32-column group tile, 130 two 64-column blocks
 * and a 16-column one from column 128 (and, in work-item tiles, every
 * slice kind). */
static void test_float16_storage(void **state) {
  (void)state;
  static const size_t couts[] = {29, 130};
  clsp_context *ctx = harness_ctx();
  int groups = ctx->tuning.fused_groups;
  for (size_t j = 0; j < N_OF(couts); j++) {
    conv_case c = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 20, couts[j], 1};
    int32_t grid[4];
    size_t n_sites;
    grid_for(3, grid, &n_sites);
    if (harness_small()) n_sites = n_sites < 60 ? n_sites : 60;
    uint64_t seed = harness_seed() + 1400 + j;
    layer L;
    layer_host(&L, &c, grid, n_sites, seed);
    layer_device(&L, ctx);
    clsp_tensor *in_half = NULL;
    assert_int_equal(clsp__tensor_storage(ctx, L.in, 1, &in_half), CLSP_SUCCESS);
    assert_int_equal(clsp__weights_to_half(ctx, L.dw), CLSP_SUCCESS);
    int32_t *oc = NULL;
    double *ref = NULL;
    size_t n = L.rb.n_out * c.cout;
    for (int shape = 0; shape < 2; shape++) {
      ctx->tuning.fused_groups = shape;
      unsigned long launches = clsp__fused_group_launches();
      float *out = run_half(&L, ctx, in_half, oc ? NULL : &oc);
      if (n) check_group_launches(ctx, launches, shape, 1, "float16 storage");
      if (!ref) ref = layer_reference(&L, oc);
      double err = ref_rel_error(out, ref, n);
      if (count_nan(out, n) || !(err < HALF_TOL))
        fail_msg(
          "float16 storage, cout %zu, work-%s tiles: rel error %.3g (tolerance "
          "%g, seed %llu, %s)",
          c.cout, shape ? "group" : "item", err, HALF_TOL, (unsigned long long)seed,
          harness_device_label());
      free(out);
    }
    ctx->tuning.fused_groups = groups;
    clsp_tensor_destroy(in_half);
    free(oc);
    free(ref);
    layer_free(&L);
  }
}

/* dX of L's conv (d_out: the conv's output) on the context's tuning; the
 * row-tile launches it made into *tile_launches. */
static float *row_tile_dx(clsp_context *ctx, layer *L, clsp_tensor *d_out,
                          unsigned long *tile_launches) {
  unsigned long before = clsp__fused_tile_launches();
  clsp_tensor *d_in = NULL;
  assert_int_equal(clsp_conv_backward(ctx, L->dev_rb, L->in, L->dw, d_out, 0, &d_in, NULL,
                                      NULL, NULL),
                   CLSP_SUCCESS);
  *tile_launches = clsp__fused_tile_launches() - before;
  float *dx = malloc(L->n_in * L->c.cin * sizeof *dx + 1);
  assert_non_null(dx);
  assert_int_equal(clsp_tensor_download(ctx, d_in, NULL, dx), CLSP_SUCCESS);
  clsp_tensor_destroy(d_in);
  return dx;
}

/* The row tiles against the one-row 16x4 kernel without a k split (same
 * sum order: the same bits), and the rulebook's tap-sorted lists
 * (tile_entries, bw_tile_entries): kept between convs, made again when the
 * rows per tile change, the backward one apart from the forward one. One
 * rulebook of at least 2 x 128 output rows (a full 128-row tile and row
 * index 127), 64 output columns (one 16x4 slice), bias: forward at 1, 128,
 * 128 again, 5 and 128 rows; dX at 5 and 128 rows in row tiles (launches
 * counted) and at 1 row. */
static void test_row_tiles_and_their_lists(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tuning *t = &ctx->tuning, saved = *t;
  t->fused_vec = 16;
  t->fused_blocks = 4;
  t->fused_ksplit = 1;
  t->fused_groups = 0;
  t->fused_rows_min_macs = 0; /* row tiles on every slice */
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_FUSED);
  conv_case c = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 24, 64, 1};
  int32_t grid[4];
  size_t n;
  grid_for(3, grid, &n);
  if (n < 300) n = 300; /* the small grid has 504 cells */
  uint64_t seed = harness_seed() + 1700;
  layer L;
  layer_host(&L, &c, grid, n, seed);
  layer_device(&L, ctx);
  assert_true(L.rb.n_out >= 2 * 128);
  size_t total = L.rb.n_out * c.cout;
  /* Rows per tile, and the lists each conv makes: none at 1 row, one for
   * 128, none for 128 again (kept), one for 5, one for 128 again. */
  static const unsigned rows[] = {1, 128, 128, 5, 128};
  static const unsigned long sorts[] = {0, 1, 0, 1, 1};
  float *one_row = NULL, *out = NULL;
  int32_t *oc = NULL;
  for (size_t i = 0; i < N_OF(rows); i++) {
    t->fused_rows = rows[i];
    free(out);
    free(oc);
    unsigned long sorted = clsp__fused_tile_sorts();
    out = layer_run(&L, ctx, 0, NULL, &oc);
    sorted = clsp__fused_tile_sorts() - sorted;
    double *ref = layer_reference(&L, oc);
    double err = ref_rel_error(out, ref, total);
    free(ref);
    int same = !one_row || memcmp(one_row, out, total * sizeof *out) == 0;
    if (!(err < TOL) || !same)
      fail_msg("rows %u: rel error %.3g, %s the one-row kernel's bits (seed %llu, %s)",
               rows[i], err, same ? "has" : "differs from", (unsigned long long)seed,
               harness_device_label());
    if (sorted != sorts[i] ||
        (rows[i] > 1 && (L.dev_rb->tile_rows != rows[i] || !L.dev_rb->tile_entries)))
      fail_msg("rows %u: %lu lists made (want %lu), the rulebook's for %u rows", rows[i],
               sorted, sorts[i], L.dev_rb->tile_rows);
    if (i == 0) {
      one_row = out;
      out = NULL;
    }
  }
  /* dX: row tiles at 5 and 128 rows give the same bits, within the
   * tolerance of the one-row kernels (which split k for 24 columns). */
  clsp_tensor *d_out = NULL;
  assert_int_equal(clsp_tensor_create_on_output(ctx, L.dev_rb, c.cout, out, &d_out),
                   CLSP_SUCCESS);
  static const unsigned dx_rows[3] = {5, 128, 1};
  float *dx[3];
  unsigned long launches[3];
  size_t n_dx = L.n_in * c.cin;
  for (int k = 0; k < 3; k++) {
    t->fused_rows = dx_rows[k];
    dx[k] = row_tile_dx(ctx, &L, d_out, &launches[k]);
  }
  double diff = ref_rel_diff(dx[0], dx[2], n_dx);
  int same = memcmp(dx[0], dx[1], n_dx * sizeof(float)) == 0;
  if (!same || !(diff < TOL) || !launches[0] || !launches[1] || launches[2])
    fail_msg(
      "dX: 5 and 128 rows %s, %.3g from one row; row-tile launches %lu, %lu, %lu "
      "(seed %llu, %s)",
      same ? "agree" : "differ", diff, launches[0], launches[1], launches[2],
      (unsigned long long)seed, harness_device_label());
  assert_int_equal(L.dev_rb->bw_tile_rows, 128); /* the last row-tile dX's */
  assert_int_equal(L.dev_rb->tile_rows, 128);    /* the forward's, untouched */
  /* A further dX at 128 rows reuses the backward list: no new list, no
   * memory left behind. */
  t->fused_rows = 128;
  uint64_t mem = ctx->mem_current;
  unsigned long sorted = clsp__fused_tile_sorts();
  float *again = row_tile_dx(ctx, &L, d_out, &launches[0]);
  assert_int_equal(clsp__fused_tile_sorts(), sorted);
  assert_int_equal(ctx->mem_current, mem);
  assert_memory_equal(again, dx[1], n_dx * sizeof(float));
  free(again);
  for (int k = 0; k < 3; k++) free(dx[k]);
  clsp_tensor_destroy(d_out);
  free(one_row);
  free(out);
  free(oc);
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_AUTO);
  *t = saved;
  layer_device_free(&L);
  layer_free(&L);
}

/* CLSP_FUSED_TILE reaches the tuning record of a new context; a bad value
 * keeps the default tile. */
static void test_fused_tile_env(void **state) {
  (void)state;
  const clsp_tuning *def = &harness_ctx()->tuning;
  static const char *const values[] = {"8x1",      "16x3k2", "16x9",
                                       "banana",   "16x2r7", "16x4k2r64",
                                       "16x4r129", "16x4r",  "16x4x"};
  for (size_t i = 0; i < N_OF(values); i++) {
    setenv("CLSP_FUSED_TILE", values[i], 1);
    clsp_context_options o = {0};
    o.device = harness_device_spec();
    clsp_context *ctx = NULL;
    assert_int_equal(clsp_context_create(&o, &ctx), CLSP_SUCCESS);
    /* The valid ones: 0, 1, 4, 5; the others keep the defaults. */
    static const unsigned want[][4] = {{8, 1, 1, 1}, {16, 3, 2, 1}, {0},
                                       {0},          {16, 2, 1, 7}, {16, 4, 2, 64},
                                       {0},          {0},           {0}};
    const unsigned *w = want[i];
    if (w[0] == 0) {
      assert_int_equal(ctx->tuning.fused_vec, def->fused_vec);
      assert_int_equal(ctx->tuning.fused_blocks, def->fused_blocks);
      assert_int_equal(ctx->tuning.fused_rows, def->fused_rows);
      assert_int_equal(ctx->tuning.fused_groups, def->fused_groups);
    } else {
      assert_int_equal(ctx->tuning.fused_vec, w[0]);
      assert_int_equal(ctx->tuning.fused_blocks, w[1]);
      assert_int_equal(ctx->tuning.fused_ksplit, w[2]);
      assert_int_equal(ctx->tuning.fused_rows, w[3]);
      assert_int_equal(ctx->tuning.fused_groups, 0); /* a work-item tile */
    }
    clsp_context_destroy(ctx);
  }
  /* "groups": the work-group tiles, the rest of the tile as it was. */
  setenv("CLSP_FUSED_TILE", "groups", 1);
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  clsp_context *ctx = NULL;
  assert_int_equal(clsp_context_create(&o, &ctx), CLSP_SUCCESS);
  assert_int_equal(ctx->tuning.fused_groups, 1);
  assert_int_equal(ctx->tuning.fused_vec, def->fused_vec);
  assert_int_equal(ctx->tuning.fused_rows, def->fused_rows);
  clsp_context_destroy(ctx);
  unsetenv("CLSP_FUSED_TILE");
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
    if (kind == REF_SUBM)
      o[a] = i[a] - (ta[a] - (k - 1) / 2) * d;
    else if (kind == REF_TRANSPOSED)
      o[a] = i[a] * s - p + ta[a] * d;
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
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_TORCH_CONV, kvol, cin, cout, src,
                                        dst),
                   CLSP_SUCCESS);
  assert_memory_equal(dst, want, n * sizeof *dst);
  ref_weights_from_torch_transposed(src, kvol, cin, cout, want);
  assert_int_equal(clsp_weights_convert(CLSP_LAYOUT_TORCH_TRANSPOSED, kvol, cin, cout,
                                        src, dst),
                   CLSP_SUCCESS);
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
    cmocka_unit_test(test_fused_tiles),
    cmocka_unit_test(test_fused_tile_env),
    cmocka_unit_test(test_float16_storage),
    cmocka_unit_test(test_row_tiles_and_their_lists),
  };
  return HARNESS_RUN("conv", tests, 1);
}
