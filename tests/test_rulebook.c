/* SPDX-License-Identifier: Apache-2.0 */
/* Rulebooks and sparse tensors on the device against the brute-force CPU
 * reference (tests/ref): random sets in 1D..4D, all conv kinds, the
 * 32/64-bit hash paths, edge cases, validation errors, and the KITTI
 * SECOND chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "conv_stages.h" /* clsp__rulebook_debug_bitmaps, clsp__conv_debug_shape */
#include "ref_rulebook.h"
#include "ref_voxel.h"

typedef struct sites {
  int ndim;
  int32_t shape[4], batch;
  size_t n;
  int32_t *coords;
} sites;

static clsp_tensor *make_tensor(clsp_context *ctx, const sites *s, uint32_t flags,
                                clsp_status *st_out) {
  clsp_tensor_desc d = {0};
  d.ndim = s->ndim;
  memcpy(d.shape, s->shape, sizeof d.shape);
  d.batch_size = s->batch;
  d.n_sites = s->n;
  d.channels = 1;
  d.flags = flags;
  clsp_tensor *t = NULL;
  clsp_status st = clsp_tensor_create(ctx, &d, s->coords, NULL, &t);
  if (st_out) *st_out = st;
  return t;
}

/* Random unique sites: every cell kept with probability `density`, then
 * shuffled so that the input order is not the key order. */
static void random_sites(harness_rng *r, int ndim, const int32_t *shape, int32_t batch,
                         double density, sites *s) {
  memset(s, 0, sizeof *s);
  s->ndim = ndim;
  s->batch = batch;
  size_t cells = (size_t)batch, w = (size_t)(1 + ndim);
  for (int a = 0; a < 4; a++) s->shape[a] = a < ndim ? shape[a] : 1;
  for (int a = 0; a < ndim; a++) cells *= (size_t)shape[a];
  s->coords = malloc((cells + 1) * w * sizeof *s->coords);
  uint32_t thr = (uint32_t)(density * 1e6);
  for (size_t c = 0; c < cells; c++) {
    if (harness_below(r, 1000000) >= thr) continue;
    size_t rest = c;
    int32_t *row = s->coords + s->n * w;
    for (int a = ndim - 1; a >= 0; a--) {
      row[1 + a] = (int32_t)(rest % (size_t)shape[a]);
      rest /= (size_t)shape[a];
    }
    row[0] = (int32_t)rest;
    s->n++;
  }
  for (size_t i = s->n; i > 1; i--) {
    size_t j = harness_below(r, (uint32_t)i);
    for (size_t a = 0; a < w; a++) {
      int32_t t = s->coords[(i - 1) * w + a];
      s->coords[(i - 1) * w + a] = s->coords[j * w + a];
      s->coords[j * w + a] = t;
    }
  }
}

static ref_geom to_ref(int ndim, const clsp_conv_geometry *g) {
  ref_geom r = {ndim, {1, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 0}, {1, 1, 1, 1}};
  for (int a = 0; a < ndim; a++) {
    r.kernel[a] = g->kernel[a];
    r.stride[a] = g->stride[a];
    r.padding[a] = g->padding[a];
    r.dilation[a] = g->dilation[a];
  }
  return r;
}

typedef struct dl {
  clsp_rulebook_info info;
  uint32_t *start, *in_rows, *out_rows;
  int32_t *out_coords;
} dl;

/* Downloads into poisoned host arrays, checks every row index is in range. */
static void download(const clsp_rulebook *rb, dl *d) {
  clsp_context *ctx = harness_ctx();
  assert_int_equal(clsp_rulebook_describe(rb, &d->info), CLSP_SUCCESS);
  size_t np = d->info.n_pairs, w = (size_t)(1 + d->info.ndim);
  d->start = malloc((d->info.kernel_volume + 1) * 4);
  d->in_rows = malloc(np * 4 + 4);
  d->out_rows = malloc(np * 4 + 4);
  d->out_coords = malloc(d->info.n_out * w * 4 + 4);
  memset(d->in_rows, 0xFF, np * 4 + 4);
  memset(d->out_rows, 0xFF, np * 4 + 4);
  memset(d->out_coords, 0xFF, d->info.n_out * w * 4 + 4);
  assert_int_equal(clsp_rulebook_download(ctx, rb, d->start, d->in_rows, d->out_rows),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_download_out_coords(ctx, rb, d->out_coords),
                   CLSP_SUCCESS);
  assert_int_equal(d->start[0], 0);
  assert_int_equal(d->start[d->info.kernel_volume], np);
  for (size_t i = 0; i < np; i++) {
    assert_true(d->in_rows[i] < d->info.n_in);
    assert_true(d->out_rows[i] < d->info.n_out);
  }
}

static void dl_free(dl *d) {
  free(d->start);
  free(d->in_rows);
  free(d->out_rows);
  free(d->out_coords);
}

/* Sorts each tap's pairs by (out, in): the inverse keeps the regular's
 * order (by its input row), the reference re-sorts. */
static void sort_taps(size_t kvol, const uint32_t *start, uint32_t *in, uint32_t *out) {
  for (size_t t = 0; t < kvol; t++)
    for (uint32_t i = start[t] + 1; i < start[t + 1]; i++)
      for (uint32_t j = i; j > start[t] && (out[j - 1] > out[j] ||
                                            (out[j - 1] == out[j] && in[j - 1] > in[j]));
           j--) {
        uint32_t a = in[j], b = out[j];
        in[j] = in[j - 1];
        out[j] = out[j - 1];
        in[j - 1] = a;
        out[j - 1] = b;
      }
}

static void expect_equal(const dl *d, const ref_rulebook *r, uint64_t seed) {
  size_t w = (size_t)(1 + d->info.ndim);
  HARNESS_CHECK(d->info.n_out == r->n_out, seed);
  HARNESS_CHECK(d->info.kernel_volume == r->kvol, seed);
  for (int a = 0; a < d->info.ndim; a++)
    HARNESS_CHECK(d->info.out_shape[a] == r->out_shape[a], seed);
  HARNESS_CHECK(memcmp(d->out_coords, r->out_coords, r->n_out * w * 4) == 0, seed);
  for (size_t t = 0; t <= r->kvol; t++) HARNESS_CHECK(d->start[t] == r->start[t], seed);
  size_t np = r->start[r->kvol];
  HARNESS_CHECK(memcmp(d->in_rows, r->in_rows, np * 4) == 0, seed);
  HARNESS_CHECK(memcmp(d->out_rows, r->out_rows, np * 4) == 0, seed);
}

/* Builds kind on `s` on the device and with the reference, compares; for
 * REGULAR also the inverse. Returns the pair count. */
static size_t check_case(const sites *s, clsp_conv_kind kind, const clsp_conv_geometry *g,
                         uint64_t seed) {
  clsp_context *ctx = harness_ctx();
  clsp_tensor *t = make_tensor(ctx, s, 0, NULL);
  HARNESS_CHECK(t != NULL, seed);
  ref_geom rg = to_ref(s->ndim, g);
  ref_rulebook ref;
  HARNESS_CHECK(ref_rulebook_build((int)kind, &rg, s->shape, s->batch, s->n, s->coords,
                                   &ref) == 0,
                seed);
  clsp_rulebook *rb = NULL;
  clsp_status st = clsp_rulebook_build(ctx, kind, g, t, &rb);
  if (st != CLSP_SUCCESS)
    fail_msg("build: %s (seed %llu)", clsp_context_last_error(ctx),
             (unsigned long long)seed);
  dl d;
  download(rb, &d);
  expect_equal(&d, &ref, seed);
  if (kind == CLSP_CONV_REGULAR) {
    clsp_rulebook *inv = NULL;
    ref_rulebook rinv;
    assert_int_equal(clsp_rulebook_inverse(ctx, rb, &inv), CLSP_SUCCESS);
    HARNESS_CHECK(ref_rulebook_inverse(&ref, s->n, s->coords, &rinv) == 0, seed);
    clsp_tensor_destroy(t); /* the inverse must not need the input tensor */
    t = NULL;
    dl di;
    download(inv, &di);
    HARNESS_CHECK(di.info.kind == CLSP_CONV_INVERSE && di.info.n_out == s->n, seed);
    sort_taps(di.info.kernel_volume, di.start, di.in_rows, di.out_rows);
    expect_equal(&di, &rinv, seed);
    dl_free(&di);
    clsp_rulebook_destroy(rb); /* the inverse outlives it (retained) */
    rb = NULL;
    clsp_rulebook_destroy(inv);
    ref_rulebook_free(&rinv);
  }
  size_t np = d.info.n_pairs;
  dl_free(&d);
  ref_rulebook_free(&ref);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
  return np;
}

static void random_geometry(harness_rng *r, int ndim, clsp_conv_kind kind,
                            const int32_t *shape, clsp_conv_geometry *g) {
  memset(g, 0, sizeof *g);
  for (int a = 0; a < 4; a++) {
    g->kernel[a] = g->stride[a] = g->dilation[a] = 1;
  }
  for (int a = 0; a < ndim; a++) {
    if (kind == CLSP_CONV_SUBMANIFOLD) {
      g->kernel[a] = 1 + 2 * (int32_t)harness_below(r, 2);
      g->dilation[a] = 1 + (int32_t)harness_below(r, 2);
      continue;
    }
    g->kernel[a] = 1 + (int32_t)harness_below(r, 4);
    g->stride[a] = 1 + (int32_t)harness_below(r, 3);
    g->dilation[a] = 1 + (int32_t)harness_below(r, 2);
    int32_t ext = g->dilation[a] * (g->kernel[a] - 1) + 1;
    g->padding[a] = (int32_t)harness_below(r, (uint32_t)ext);
    /* Keep the regular conv's kernel within the padded input. */
    while (ext > shape[a] + 2 * g->padding[a]) {
      g->dilation[a] = 1;
      g->kernel[a] = 1;
      ext = 1;
      g->padding[a] = 0;
    }
    /* And the transposed output extent positive. */
    if (kind == CLSP_CONV_TRANSPOSED &&
        (int64_t)(shape[a] - 1) * g->stride[a] - 2 * g->padding[a] + ext < 1)
      g->padding[a] = 0;
  }
}

static void test_random_vs_reference(void **state) {
  (void)state;
  static const double densities[] = {0.001, 0.01, 0.1, 0.5, 0.9};
  static const clsp_conv_kind kinds[] = {CLSP_CONV_SUBMANIFOLD, CLSP_CONV_REGULAR,
                                         CLSP_CONV_TRANSPOSED};
  int rounds = harness_small() ? 1 : 3;
  size_t total_pairs = 0;
  for (int ndim = 1; ndim <= 4; ndim++)
    for (int di = 0; di < 5; di++)
      for (int ki = 0; ki < 3; ki++)
        for (int round = 0; round < rounds; round++) {
          uint64_t seed = harness_seed() ^ ((uint64_t)ndim << 40) ^ ((uint64_t)di << 32) ^
                          ((uint64_t)ki << 24) ^ (uint64_t)round;
          harness_rng r = {seed};
          /* ~2k cells small, ~30k otherwise */
          static const int32_t edge_small[5] = {0, 160, 12, 6, 4};
          static const int32_t edge_big[5] = {0, 8000, 90, 20, 9};
          int32_t shape[4], batch = 1 + (int32_t)harness_below(&r, 4);
          for (int a = 0; a < ndim; a++) {
            int32_t e = (harness_small() ? edge_small : edge_big)[ndim];
            shape[a] = e / 2 + (int32_t)harness_below(&r, (uint32_t)e);
          }
          sites s;
          random_sites(&r, ndim, shape, batch, densities[di], &s);
          clsp_conv_geometry g;
          random_geometry(&r, ndim, kinds[ki], shape, &g);
          /* Small key spaces take key bitmaps on CPU devices: half of the
           * cases take the hash paths instead. */
          clsp__rulebook_debug_bitmaps((ndim + di) % 2);
          total_pairs += check_case(&s, kinds[ki], &g, seed);
          clsp__rulebook_debug_bitmaps(1);
          free(s.coords);
        }
  assert_true(total_pairs > 0);
}

static clsp_conv_geometry k3(int32_t stride, int32_t pad) {
  clsp_conv_geometry g = {{3, 3, 3, 3},
                          {stride, stride, stride, stride},
                          {pad, pad, pad, pad},
                          {1, 1, 1, 1}};
  return g;
}

/* Fixed geometries: even, non-cubic, (3,1,1), dilated, strided (every 3D
 * kernel of at most 3 per axis takes its own candidate kernel on CPU
 * devices). */
static void test_fixed_geometries(void **state) {
  (void)state;
  static const int32_t G[][4][3] = {
    /* kernel, stride, padding, dilation (3 axes) */
    {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}},
    {{3, 1, 1}, {2, 1, 1}, {0, 0, 0}, {1, 1, 1}},
    {{2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}},
    {{2, 3, 4}, {1, 2, 3}, {1, 2, 0}, {2, 1, 1}},
    {{3, 3, 3}, {1, 1, 1}, {2, 2, 2}, {2, 2, 2}},
    {{1, 1, 1}, {3, 3, 3}, {0, 0, 0}, {1, 1, 1}},
  };
  harness_rng r = {harness_seed() ^ 0xF1};
  int32_t shape[3] = {11, 17, 13};
  if (harness_small()) shape[1] = 6, shape[2] = 7;
  sites s, wide_x;
  random_sites(&r, 3, shape, 2, 0.2, &s);
  const int32_t wide_shape[3] = {3, 4, 70};
  random_sites(&r, 3, wide_shape, 2, 0.5, &wide_x);
  /* Each both with key bitmaps (the small grid takes them on CPU devices)
   * and with the hash paths. */
  for (int bitmaps = 1; bitmaps >= 0; bitmaps--) {
    clsp__rulebook_debug_bitmaps(bitmaps);
    for (size_t i = 0; i < sizeof G / sizeof G[0]; i++) {
      clsp_conv_geometry g = {{0}, {0}, {0}, {0}};
      for (int a = 0; a < 3; a++) {
        g.kernel[a] = G[i][0][a];
        g.stride[a] = G[i][1][a];
        g.padding[a] = G[i][2][a];
        g.dilation[a] = G[i][3][a];
      }
      check_case(&s, CLSP_CONV_REGULAR, &g, i);
      check_case(&s, CLSP_CONV_TRANSPOSED, &g, i);
    }
    clsp_conv_geometry sub = {{3, 5, 1}, {1, 1, 1}, {0, 0, 0}, {1, 2, 1}};
    check_case(&s, CLSP_CONV_SUBMANIFOLD, &sub, 99);
    /* 3 x 3 x 3 has its own submanifold maps on CPU devices: dilated too. */
    clsp_conv_geometry sub3 = {{3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {2, 1, 3}};
    check_case(&s, CLSP_CONV_SUBMANIFOLD, &sub3, 98);
    clsp_conv_geometry sub3d1 = k3(1, 0);
    check_case(&s, CLSP_CONV_SUBMANIFOLD, &sub3d1, 97);
    /* x runs across 32-key bitmap words: an x extent of 70 (7 key bits)
     * puts x = 30, 31, 32 and 62, 63, 64 on word boundaries. */
    check_case(&wide_x, CLSP_CONV_SUBMANIFOLD, &sub3d1, 96);
  }
  clsp__rulebook_debug_bitmaps(1);
  free(s.coords);
  free(wide_x.coords);
}

static void all_kinds(const sites *s, uint64_t seed) {
  clsp_conv_geometry sub = k3(1, 1), down = k3(2, 1), up = k3(2, 1);
  check_case(s, CLSP_CONV_SUBMANIFOLD, &sub, seed);
  check_case(s, CLSP_CONV_REGULAR, &down, seed);
  check_case(s, CLSP_CONV_TRANSPOSED, &up, seed);
}

/* The CPU shape (row kernels, key bitmaps, fused lists) on every device,
 * so that oclgrind, which reports a GPU, checks the bitmap kernels too:
 * the fixed geometries, bitmaps on and off, against the reference. */
static void test_cpu_shape_everywhere(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tuning_params def, p;
  assert_int_equal(clsp_context_tuning(ctx, &def), CLSP_SUCCESS);
  p = def;
  p.fused_default = 1;
  memset(p.dataflow, CLSP_TUNED_DEFAULT, sizeof p.dataflow);
  assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_SUCCESS);
  clsp__conv_debug_shape(CLSP_SHAPE_ROWS);
  test_fixed_geometries(state);
  clsp__conv_debug_shape(CLSP_SHAPE_AUTO);
  assert_int_equal(clsp_context_set_tuning(ctx, &def), CLSP_SUCCESS);
}

static void test_empty_and_single(void **state) {
  (void)state;
  sites s = {3, {5, 6, 7, 1}, 2, 0, NULL};
  int32_t one[4] = {1, 4, 0, 6};
  all_kinds(&s, 0); /* N = 0: empty rulebooks, empty outputs */
  s.n = 1;
  s.coords = one;
  all_kinds(&s, 1);
  /* One input that reaches no output: k3 s3 p0 on an extent of 4 has one
   * output per axis, at 0, which reads 0..2; the site is at 3. */
  sites far = {3, {4, 4, 4, 1}, 1, 1, NULL};
  int32_t corner[4] = {0, 3, 3, 3};
  far.coords = corner;
  clsp_conv_geometry none = {{3, 3, 3}, {3, 3, 3}, {0, 0, 0}, {1, 1, 1}};
  assert_int_equal(check_case(&far, CLSP_CONV_REGULAR, &none, 2), 0);
}

/* Sites on every face and corner of the grid, and a one-voxel-thick axis. */
static void test_faces_and_thin_axis(void **state) {
  (void)state;
  sites s = {3, {6, 5, 7, 1}, 1, 0, NULL};
  s.coords = malloc(6 * 5 * 7 * 4 * sizeof(int32_t));
  for (int z = 0; z < 6; z++)
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 7; x++) {
        if (!(z == 0 || z == 5 || y == 0 || y == 4 || x == 0 || x == 6)) continue;
        int32_t *row = s.coords + s.n++ * 4;
        row[0] = 0, row[1] = z, row[2] = y, row[3] = x;
      }
  all_kinds(&s, 2);
  sites thin = {3, {1, 9, 8, 1}, 3, 0, NULL};
  harness_rng r = {harness_seed() ^ 0x7};
  free(s.coords);
  int32_t shape[3] = {1, 9, 8};
  random_sites(&r, 3, shape, 3, 0.3, &thin);
  all_kinds(&thin, 3);
  clsp_conv_geometry g311 = {{3, 1, 1}, {2, 1, 1}, {1, 0, 0}, {1, 1, 1}};
  check_case(&thin, CLSP_CONV_REGULAR, &g311, 4);
  free(thin.coords);
}

/* Where convs run fused by default, the builder makes the fused pair list
 * and the tap-major pairs only on demand (download, pair counts, inverse);
 * otherwise the pairs at once. Both against the reference, whatever the
 * device default, and the pair counts agree with the offsets. */
static void test_pairs_eager_and_on_demand(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tuning_params def, p;
  assert_int_equal(clsp_context_tuning(ctx, &def), CLSP_SUCCESS);
  harness_rng r = {harness_seed() ^ 0xE4};
  int32_t shape[3] = {14, 15, 16};
  if (harness_small()) shape[1] = 6, shape[2] = 7;
  sites s;
  random_sites(&r, 3, shape, 2, 0.15, &s);
  for (int fused = 0; fused <= 1; fused++) {
    p = def;
    p.fused_default = fused;
    memset(p.dataflow, CLSP_TUNED_DEFAULT, sizeof p.dataflow);
    assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_SUCCESS);
    all_kinds(&s, 40 + (uint64_t)fused);
    clsp_conv_geometry sub = k3(1, 1);
    clsp_tensor *t = make_tensor(ctx, &s, 0, NULL);
    clsp_rulebook *rb = NULL;
    assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &rb),
                     CLSP_SUCCESS);
    uint32_t counts[27];
    assert_int_equal(clsp_rulebook_pair_counts(rb, counts), CLSP_SUCCESS);
    dl d;
    download(rb, &d);
    for (size_t k = 0; k < 27; k++)
      assert_int_equal(counts[k], d.start[k + 1] - d.start[k]);
    assert_true(d.info.n_pairs > s.n); /* not only the centre tap */
    dl_free(&d);
    clsp_rulebook_destroy(rb);
    clsp_tensor_destroy(t);
  }
  assert_int_equal(clsp_context_set_tuning(ctx, &def), CLSP_SUCCESS);
  free(s.coords);
}

/* Equal results on two runs and on both hash paths. */
static void test_deterministic_and_hash_paths(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  harness_rng r = {harness_seed() ^ 0xD};
  int32_t shape[3] = {20, 30, 25};
  sites s;
  random_sites(&r, 3, shape, 2, harness_small() ? 0.01 : 0.3, &s);
  clsp_conv_geometry g = k3(2, 1);
  clsp_tensor *t = make_tensor(ctx, &s, 0, NULL);
  assert_non_null(t);
  clsp_rulebook *a = NULL, *b = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, t, &a), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, t, &b), CLSP_SUCCESS);
  dl da, db;
  download(a, &da);
  download(b, &db);
  size_t w = 4;
  assert_int_equal(da.info.n_out, db.info.n_out);
  assert_memory_equal(da.out_coords, db.out_coords, da.info.n_out * w * 4);
  assert_memory_equal(da.in_rows, db.in_rows, da.info.n_pairs * 4);
  assert_memory_equal(da.out_rows, db.out_rows, da.info.n_pairs * 4);
  dl_free(&db);
  clsp_rulebook_destroy(b);
  clsp_rulebook_destroy(a);
  clsp_tensor_destroy(t);
  const clsp_device_caps *caps = clsp_context_caps(ctx);
  if (!caps->int64_atomics) {
    dl_free(&da);
    free(s.coords);
    HARNESS_SKIP(
      "device has no cl_khr_int64_base_atomics: only the 32-bit hash path runs "
      "(compared against the reference elsewhere)");
  }
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_FORCE_HASH32;
  clsp_context *c32 = NULL;
  assert_int_equal(clsp_context_create(&o, &c32), CLSP_SUCCESS);
  clsp_tensor_desc d = {3, {20, 30, 25, 1}, 2, s.n, 1, 0};
  clsp_tensor *t32 = NULL;
  clsp_rulebook *r32 = NULL;
  assert_int_equal(clsp_tensor_create(c32, &d, s.coords, NULL, &t32), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(c32, CLSP_CONV_REGULAR, &g, t32, &r32),
                   CLSP_SUCCESS);
  clsp_rulebook_info i32;
  clsp_rulebook_describe(r32, &i32);
  assert_int_equal(i32.n_pairs, da.info.n_pairs);
  assert_int_equal(i32.n_out, da.info.n_out);
  int32_t *oc = malloc(i32.n_out * w * 4 + 4);
  uint32_t *pi = malloc(i32.n_pairs * 4 + 4), *po = malloc(i32.n_pairs * 4 + 4);
  assert_int_equal(clsp_rulebook_download(c32, r32, NULL, pi, po), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_download_out_coords(c32, r32, oc), CLSP_SUCCESS);
  assert_memory_equal(oc, da.out_coords, i32.n_out * w * 4);
  assert_memory_equal(pi, da.in_rows, i32.n_pairs * 4);
  assert_memory_equal(po, da.out_rows, i32.n_pairs * 4);
  free(oc);
  free(pi);
  free(po);
  clsp_rulebook_destroy(r32);
  clsp_tensor_destroy(t32);
  clsp_context_destroy(c32);
  dl_free(&da);
  free(s.coords);
}

/* The largest grid the 63-bit key takes works; one more bit is TOO_LARGE. */
static void test_key_width_limits(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  /* 21 + 21 + 21 = 63 bits with batch 1. */
  int32_t big = 1 << 21;
  int32_t rows[2][4] = {{0, 0, 0, 0}, {0, big - 1, big - 1, big - 1}};
  sites s = {3, {big, big, big, 1}, 1, 2, &rows[0][0]};
  clsp_conv_geometry sub = k3(1, 1);
  clsp_tensor *t = make_tensor(ctx, &s, 0, NULL);
  assert_non_null(t);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &rb),
                   CLSP_SUCCESS);
  dl d;
  download(rb, &d);
  assert_int_equal(d.info.n_pairs, 2); /* each site sees only itself */
  dl_free(&d);
  clsp_rulebook_destroy(rb);
  /* A transposed conv would double the grid: its output key is too wide. */
  clsp_conv_geometry up = k3(2, 1);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_TRANSPOSED, &up, t, &rb),
                   CLSP_ERROR_TOO_LARGE);
  assert_null(rb);
  clsp_tensor_destroy(t);
  s.shape[0] = big + 1; /* 64 bits */
  clsp_status st;
  assert_null(make_tensor(ctx, &s, 0, &st));
  assert_int_equal(st, CLSP_ERROR_TOO_LARGE);
  s.shape[0] = big;
  s.batch = 2; /* one batch bit more */
  assert_null(make_tensor(ctx, &s, 0, &st));
  assert_int_equal(st, CLSP_ERROR_TOO_LARGE);
}

static void test_duplicates_and_merge(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t rows[6][3] = {{0, 1, 1}, {1, 2, 3}, {0, 4, 4}, {1, 2, 3}, {0, 1, 1}, {1, 2, 3}};
  float feats[6][2] = {{1, 2}, {10, 20}, {5, 6}, {100, 200}, {3, 4}, {1000, 2000}};
  clsp_tensor_desc d = {2, {8, 8, 1, 1}, 2, 6, 2, 0};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &rows[0][0], &feats[0][0], &t),
                   CLSP_ERROR_DUPLICATE_COORDS);
  assert_null(t);
  const char *msg = clsp_context_last_error(ctx);
  assert_non_null(strstr(msg, "row 3"));
  assert_non_null(strstr(msg, "row 1"));
  d.flags = CLSP_TENSOR_MERGE_DUPLICATES;
  assert_int_equal(clsp_tensor_create(ctx, &d, &rows[0][0], &feats[0][0], &t),
                   CLSP_SUCCESS);
  clsp_tensor_desc got;
  clsp_tensor_describe(t, &got);
  assert_int_equal(got.n_sites, 3);
  int32_t c[3][3];
  float f[3][2];
  assert_int_equal(clsp_tensor_download(ctx, t, &c[0][0], &f[0][0]), CLSP_SUCCESS);
  int32_t want_c[3][3] = {{0, 1, 1}, {1, 2, 3}, {0, 4, 4}};
  float want_f[3][2] = {{4, 6}, {1110, 2220}, {5, 6}};
  assert_memory_equal(c, want_c, sizeof c);
  assert_memory_equal(f, want_f, sizeof f);
  clsp_tensor_destroy(t);
}

static void test_out_of_range(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t rows[3][4] = {{0, 1, 2, 3}, {1, 0, 0, 0}, {0, 4, 0, 0}};
  clsp_tensor_desc d = {3, {4, 5, 6, 1}, 2, 3, 1, 0};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &rows[0][0], NULL, &t),
                   CLSP_ERROR_OUT_OF_RANGE);
  assert_non_null(strstr(clsp_context_last_error(ctx), "row 2"));
  /* Wrapped buffers are checked on the device. */
  cl_context cl;
  assert_int_equal(clsp_context_cl(ctx, &cl, NULL, NULL), CLSP_SUCCESS);
  cl_int err;
  float feats[3] = {0, 0, 0};
  static const int32_t bad_batch[3][4] = {{0, 1, 2, 3}, {2, 0, 0, 0}, {0, 1, 1, 1}};
  static const int32_t negative[3][4] = {{0, 1, 2, 3}, {1, 0, 0, 0}, {0, 0, -1, 1}};
  const int32_t(*cases[2])[4] = {bad_batch, negative};
  const char *want[2] = {"row 1", "row 2"};
  for (int i = 0; i < 2; i++) {
    cl_mem cm = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof rows,
                               (void *)cases[i], &err);
    cl_mem fm = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof feats,
                               feats, &err);
    assert_int_equal(clsp_tensor_wrap(ctx, &d, cm, fm, &t), CLSP_ERROR_OUT_OF_RANGE);
    assert_null(t);
    assert_non_null(strstr(clsp_context_last_error(ctx), want[i]));
    clReleaseMemObject(cm);
    clReleaseMemObject(fm);
  }
  /* A valid wrapped tensor, then duplicates detected on the device. */
  static const int32_t dups[3][4] = {{0, 1, 2, 3}, {1, 0, 0, 0}, {0, 1, 2, 3}};
  cl_mem cm = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof rows,
                             (void *)dups, &err);
  cl_mem fm = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof feats,
                             feats, &err);
  assert_int_equal(clsp_tensor_wrap(ctx, &d, cm, fm, &t), CLSP_ERROR_DUPLICATE_COORDS);
  assert_non_null(strstr(clsp_context_last_error(ctx), "row 2"));
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  assert_int_equal(clsp_tensor_wrap(ctx, &d, cm, fm, &t), CLSP_SUCCESS);
  clsp_tensor_destroy(t);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
}

static void test_invalid_geometry(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t rows[1][3] = {{0, 1, 1}};
  sites s = {2, {4, 4, 1, 1}, 1, 1, &rows[0][0]};
  clsp_tensor *t = make_tensor(ctx, &s, 0, NULL);
  clsp_rulebook *rb = NULL;
  clsp_conv_geometry even = {{2, 2}, {1, 1}, {0, 0}, {1, 1}};
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &even, t, &rb),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clsp_conv_geometry huge = {{9, 9}, {1, 1}, {0, 0}, {1, 1}};
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &huge, t, &rb),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clsp_conv_geometry ok = {{3, 3}, {1, 1}, {1, 1}, {1, 1}};
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_INVERSE, &ok, t, &rb),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &ok, t, &rb),
                   CLSP_SUCCESS);
  clsp_rulebook *inv = NULL;
  assert_int_equal(clsp_rulebook_inverse(ctx, rb, &inv), CLSP_ERROR_INVALID_ARGUMENT);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
}

/* ---- KITTI 000000 / 000008 with the SECOND recipe ---- */

static void kitti_chain(const char *dir, const char *name, const long *sites_n,
                        const long *subm, const long *conv) {
  clsp_context *ctx = harness_ctx();
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  float *pts = NULL;
  size_t np = 0;
  ref_voxels vx;
  assert_int_equal(ref_load_kitti_bin(path, &pts, &np), 0);
  assert_int_equal(ref_voxelize_second(pts, np, 0, &vx), 0);
  free(pts);
  clsp_tensor_desc d = {3, {vx.shape[0], vx.shape[1], vx.shape[2], 1}, 1, vx.n, 4, 0};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, vx.coords, vx.feats, &t), CLSP_SUCCESS);
  clsp_conv_geometry sub = k3(1, 1);
  clsp_conv_geometry down[4] = {k3(2, 1),
                                k3(2, 1),
                                {{3, 3, 3}, {2, 2, 2}, {0, 1, 1}, {1, 1, 1}},
                                {{3, 1, 1}, {2, 1, 1}, {0, 0, 0}, {1, 1, 1}}};
  for (int lvl = 0; lvl < 5; lvl++) {
    clsp_tensor_desc td;
    clsp_tensor_describe(t, &td);
    assert_int_equal((long)td.n_sites, sites_n[lvl]);
    if (lvl == 4) break;
    clsp_rulebook *rs = NULL, *rc = NULL;
    clsp_rulebook_info info;
    assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &rs),
                     CLSP_SUCCESS);
    clsp_rulebook_describe(rs, &info);
    assert_int_equal((long)info.n_pairs, subm[lvl]);
    assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down[lvl], t, &rc),
                     CLSP_SUCCESS);
    clsp_rulebook_describe(rc, &info);
    assert_int_equal((long)info.n_pairs, conv[lvl]);
    /* The next level's sites: the conv output. */
    int32_t *oc = malloc(info.n_out * 4 * sizeof *oc);
    assert_int_equal(clsp_rulebook_download_out_coords(ctx, rc, oc), CLSP_SUCCESS);
    clsp_tensor_destroy(t);
    clsp_tensor_desc nd = {3,
                           {info.out_shape[0], info.out_shape[1], info.out_shape[2], 1},
                           1,
                           info.n_out,
                           1,
                           0};
    assert_int_equal(clsp_tensor_create(ctx, &nd, oc, NULL, &t), CLSP_SUCCESS);
    if (lvl == 0) { /* also exact against the reference at full scale */
      ref_geom rg = to_ref(3, &down[0]);
      ref_rulebook ref;
      assert_int_equal(ref_rulebook_build(1, &rg, vx.shape, 1, vx.n, vx.coords, &ref), 0);
      dl dd;
      download(rc, &dd);
      expect_equal(&dd, &ref, 0);
      dl_free(&dd);
      ref_rulebook_free(&ref);
    }
    free(oc);
    clsp_rulebook_destroy(rs);
    clsp_rulebook_destroy(rc);
  }
  clsp_tensor_destroy(t);
  ref_voxels_free(&vx);
}

static void test_kitti_second_chain(void **state) {
  (void)state;
  if (harness_small()) HARNESS_SKIP("small sizes asked for (CLSP_TEST_SMALL)");
  const char *dir = getenv("CLSP_KITTI_DIR");
  if (!dir || !dir[0]) dir = CLSP_KITTI_DEFAULT_DIR;
  char path[1024];
  snprintf(path, sizeof path, "%s/000000.bin", dir);
  FILE *f = fopen(path, "rb");
  if (!f) HARNESS_SKIP("%s absent (set CLSP_KITTI_DIR)", path);
  fclose(f);
  static const long s0[5] = {41281, 50539, 25233, 8595, 6332};
  static const long m0[4] = {234303, 678151, 415771, 146597};
  static const long c0[4] = {142316, 172488, 82877, 11570};
  kitti_chain(dir, "000000", s0, m0, c0);
  static const long s8[5] = {13092, 20309, 12361, 5298, 4236};
  static const long m8[4] = {55906, 230351, 177683, 78864};
  static const long c8[4] = {44136, 67846, 39986, 7116};
  kitti_chain(dir, "000008", s8, m8, c8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_and_single),
    cmocka_unit_test(test_faces_and_thin_axis),
    cmocka_unit_test(test_fixed_geometries),
    cmocka_unit_test(test_cpu_shape_everywhere),
    cmocka_unit_test(test_random_vs_reference),
    cmocka_unit_test(test_pairs_eager_and_on_demand),
    cmocka_unit_test(test_deterministic_and_hash_paths),
    cmocka_unit_test(test_key_width_limits),
    cmocka_unit_test(test_duplicates_and_merge),
    cmocka_unit_test(test_out_of_range),
    cmocka_unit_test(test_invalid_geometry),
    cmocka_unit_test(test_kitti_second_chain),
  };
  return HARNESS_RUN("rulebook", tests, 1);
}
