/* SPDX-License-Identifier: Apache-2.0 */
/* Device voxelization against the CPU references (tests/ref/ref_voxel.h):
 * same sites in the same order (first occurrence), same shape, means to
 * 1e-6 relative; random clouds, presets and explicit grids, device-buffer
 * input, errors, determinism, grids beyond 32-bit keys (far outliers;
 * 64-bit hash and sort paths agree bit for bit), the first K points of
 * each voxel (max_points_per_voxel) on crowded clouds, and the KITTI
 * voxel counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "ref_voxel.h"

/* n points near `centres` random centres in the box lo + [0, ext) (x, y,
 * z), each within `spread` of its centre, centres drawn at random so that
 * the points of a voxel interleave with others' in index order;
 * intensity in [0.5, 1). */
static float *cloud_around(uint64_t seed, size_t n, size_t centres, const float lo[3],
                           const float ext[3], float spread) {
  harness_rng r = {seed};
  float *p = malloc((n ? n : 1) * 16);
  float *c = malloc(centres * 3 * sizeof *c);
  assert_non_null(p);
  assert_non_null(c);
  for (size_t i = 0; i < 3 * centres; i++)
    c[i] = lo[i % 3] + ext[i % 3] * harness_unit(&r);
  for (size_t i = 0; i < n; i++) {
    const float *cc = c + 3 * harness_below(&r, (uint32_t)centres);
    for (int a = 0; a < 3; a++) p[4 * i + a] = cc[a] + spread * harness_unit(&r);
    p[4 * i + 3] = 0.5f + 0.5f * harness_unit(&r);
  }
  free(c);
  return p;
}

/* Random clustered cloud: points near n/4 centres so that voxels hold
 * several points; the box overhangs the SECOND range on every side. */
static float *random_cloud(uint64_t seed, size_t n) {
  const float lo[3] = {35.0f, 0.0f, -1.0f}, ext[3] = {40.0f, 45.0f, 3.0f};
  return cloud_around(seed, n, n / 4 + 1, lo, ext, 0.08f);
}

/* Crowded cloud: points near n/64 centres, 4 cm around each, so that
 * voxels hold tens of points. Inside the SECOND range. */
static float *crowded_cloud(uint64_t seed, size_t n) {
  const float lo[3] = {5.0f, -35.0f, -2.5f}, ext[3] = {60.0f, 70.0f, 3.0f};
  return cloud_around(seed, n, n / 64 + 1, lo, ext, 0.04f);
}

static int cmp_coords(const void *a, const void *b) {
  return memcmp(a, b, 4 * sizeof(int32_t)); /* any total order will do */
}

/* Downloads `t` (of context `ctx`) and checks it against `ref`: order,
 * sorted set, shape, means. `zpad` is the extra z extent of range mode. */
static void expect_match_on(clsp_context *ctx, clsp_tensor *t, const ref_voxels *ref,
                            int zpad, uint64_t seed) {
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(t, &d), CLSP_SUCCESS);
  HARNESS_CHECK(d.n_sites == ref->n, seed);
  assert_int_equal(d.channels, 4);
  assert_int_equal(d.ndim, 3);
  HARNESS_CHECK(d.shape[0] == ref->shape[0] + zpad, seed);
  HARNESS_CHECK(d.shape[1] == ref->shape[1] && d.shape[2] == ref->shape[2], seed);
  size_t n = d.n_sites;
  int32_t *c = malloc((n ? n : 1) * 16);
  float *f = malloc((n ? n : 1) * 16);
  assert_non_null(c);
  assert_non_null(f);
  memset(c, 0xA5, (n ? n : 1) * 16); /* poison: every byte is overwritten */
  for (size_t i = 0; i < 4 * n; i++) f[i] = NAN;
  assert_int_equal(clsp_tensor_download(ctx, t, c, f), CLSP_SUCCESS);
  /* Documented order: first occurrence, as the reference lists them. */
  HARNESS_CHECK(n == 0 || memcmp(c, ref->coords, n * 16) == 0, seed);
  for (size_t i = 0; i < 4 * n; i++) {
    float want = ref->feats[i];
    if (!(fabsf(f[i] - want) <= 1e-6f * fabsf(want) + 1e-30f))
      fail_msg("feature %zu: %.9g vs reference %.9g (seed %llu)", i, (double)f[i],
               (double)want, (unsigned long long)seed);
  }
  /* And as sets (independent of the order). */
  int32_t *rs = malloc((n ? n : 1) * 16);
  assert_non_null(rs);
  memcpy(rs, ref->coords, n * 16);
  qsort(c, n, 16, cmp_coords);
  qsort(rs, n, 16, cmp_coords);
  HARNESS_CHECK(n == 0 || memcmp(c, rs, n * 16) == 0, seed);
  free(rs);
  free(c);
  free(f);
}

static void expect_match(clsp_tensor *t, const ref_voxels *ref, int zpad, uint64_t seed) {
  expect_match_on(harness_ctx(), t, ref, zpad, seed);
}

static size_t cloud_size(void) { return harness_small() ? 3000 : 60000; }

static void run_recipe(clsp_voxel_recipe recipe, uint64_t seed) {
  size_t n = cloud_size();
  float *p = random_cloud(seed, n);
  ref_voxels ref;
  int rc = recipe == CLSP_VOXEL_SECOND ? ref_voxelize_second(p, n, 0, &ref)
                                       : ref_voxelize_minkunet(p, n, 0, &ref);
  assert_int_equal(rc, 0);
  clsp_voxelize_options o;
  assert_int_equal(clsp_voxelize_defaults(recipe, &o), CLSP_SUCCESS);
  clsp_tensor *t = NULL;
  clsp_voxelize_stats s;
  assert_int_equal(clsp_voxelize(harness_ctx(), &o, p, n, &t, &s), CLSP_SUCCESS);
  assert_int_equal(s.n_points, n);
  assert_int_equal(s.n_voxels, ref.n);
  assert_true(s.n_kept <= n && s.n_kept >= ref.n);
  /* SECOND's ref already pads z; round mode has no padding. */
  expect_match(t, &ref, 0, seed);
  clsp_tensor_destroy(t);
  ref_voxels_free(&ref);
  free(p);
}

/* max_points_per_voxel = K against the reference on a crowded cloud,
 * range and round mode, K in {1, 5, 40, n} (n: no voxel has more, the
 * mean of all). The case is what it claims: K of 1 and 5 change some
 * means (voxels hold tens of points). */
static void test_first_points(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 9;
  size_t n = cloud_size();
  float *p = crowded_cloud(seed, n);
  const float size[3] = {0.05f, 0.05f, 0.1f};
  const float range[6] = {0.0f, -40.0f, -3.0f, 70.4f, 40.0f, 1.0f};
  const int32_t ks[4] = {1, 5, 40, (int32_t)n};
  clsp_voxelize_options o = {CLSP_VOXEL_RANGE,
                             {0.05f, 0.05f, 0.1f},
                             {0.0f, -40.0f, -3.0f, 70.4f, 40.0f, 1.0f},
                             1,
                             0};
  for (int mode = 0; mode < 2; mode++) {
    ref_voxels all;
    assert_int_equal(ref_voxelize(p, n, size, mode ? NULL : range, !mode, 1, &all), 0);
    o.recipe = mode ? CLSP_VOXEL_ROUND : CLSP_VOXEL_RANGE;
    for (int k = 0; k < 4; k++) {
      ref_voxels ref;
      assert_int_equal(ref_voxelize_first(p, n, size, mode ? NULL : range, !mode, 1,
                                          (size_t)ks[k], &ref),
                       0);
      size_t changed = 0;
      for (size_t i = 0; i < 4 * ref.n; i++) changed += ref.feats[i] != all.feats[i];
      HARNESS_CHECK((size_t)ks[k] == n ? changed == 0 : (ks[k] > 5 || changed > 0), seed);
      o.max_points_per_voxel = ks[k];
      clsp_tensor *t = NULL;
      assert_int_equal(clsp_voxelize(harness_ctx(), &o, p, n, &t, NULL), CLSP_SUCCESS);
      expect_match(t, &ref, mode ? 0 : 1, seed);
      clsp_tensor_destroy(t);
      ref_voxels_free(&ref);
    }
    ref_voxels_free(&all);
  }
  free(p);
}

static void test_second_random(void **state) {
  (void)state;
  run_recipe(CLSP_VOXEL_SECOND, harness_seed() + 1);
}

static void test_minkunet_random(void **state) {
  (void)state;
  run_recipe(CLSP_VOXEL_MINKUNET, harness_seed() + 2);
}

/* Explicit size and range (range mode: z padded by one over the ref) and
 * explicit size in round mode, with batch index 2. */
static void test_explicit_grids(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 3;
  size_t n = cloud_size();
  float *p = random_cloud(seed, n);
  const float size[3] = {0.2f, 0.15f, 0.25f};
  const float range[6] = {10.0f, -20.0f, -2.0f, 50.0f, 20.0f, 1.5f};
  clsp_voxelize_options o = {CLSP_VOXEL_RANGE,
                             {0.2f, 0.15f, 0.25f},
                             {10.0f, -20.0f, -2.0f, 50.0f, 20.0f, 1.5f},
                             2,
                             0};
  for (int mode = 0; mode < 2; mode++) {
    ref_voxels ref;
    assert_int_equal(ref_voxelize(p, n, size, mode ? NULL : range, !mode, 2, &ref), 0);
    o.recipe = mode ? CLSP_VOXEL_ROUND : CLSP_VOXEL_RANGE;
    clsp_tensor *t = NULL;
    assert_int_equal(clsp_voxelize(harness_ctx(), &o, p, n, &t, NULL), CLSP_SUCCESS);
    clsp_tensor_desc d;
    clsp_tensor_describe(t, &d);
    assert_int_equal(d.batch_size, 3);
    expect_match(t, &ref, mode ? 0 : 1, seed);
    clsp_tensor_destroy(t);
    ref_voxels_free(&ref);
  }
  free(p);
}

/* Points already on the device give the same tensor. */
static void test_buffer_input(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 4;
  size_t n = cloud_size() / 4;
  float *p = random_cloud(seed, n);
  cl_context cl;
  assert_int_equal(clsp_context_cl(harness_ctx(), &cl, NULL, NULL), CLSP_SUCCESS);
  cl_int err;
  cl_mem m = clCreateBuffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * 16, p, &err);
  assert_int_equal(err, CL_SUCCESS);
  ref_voxels ref;
  assert_int_equal(ref_voxelize_minkunet(p, n, 0, &ref), 0);
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &o);
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_voxelize_buffer(harness_ctx(), &o, m, n, &t, NULL), CLSP_SUCCESS);
  expect_match(t, &ref, 0, seed);
  clsp_tensor_destroy(t);
  /* A buffer too small for n points. */
  assert_int_equal(clsp_voxelize_buffer(harness_ctx(), &o, m, n + 1, &t, NULL),
                   CLSP_ERROR_MISMATCH);
  assert_null(t);
  assert_non_null(strstr(clsp_context_last_error(harness_ctx()), "points"));
  clReleaseMemObject(m);
  ref_voxels_free(&ref);
  free(p);
}

static void expect_error(const clsp_voxelize_options *o, const float *p, size_t n,
                         clsp_status want, const char *mention) {
  clsp_context *ctx = harness_ctx();
  clsp_tensor *t = (clsp_tensor *)0x1;
  uint64_t cur0, peak, cur1;
  clsp_context_memory(ctx, &cur0, &peak);
  assert_int_equal(clsp_voxelize(ctx, o, p, n, &t, NULL), want);
  assert_null(t);
  if (!strstr(clsp_context_last_error(ctx), mention))
    fail_msg("message '%s' does not mention '%s'", clsp_context_last_error(ctx), mention);
  clsp_context_memory(ctx, &cur1, &peak);
  assert_int_equal(cur0, cur1); /* everything freed on the error path */
}

static void test_errors(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  float pts[8] = {1, 2, 3, 0.5f, 4, 5, 6, 0.25f};
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &o);
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_voxelize(NULL, &o, pts, 2, &t, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  expect_error(NULL, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "options");
  expect_error(&o, NULL, 2, CLSP_ERROR_INVALID_ARGUMENT, "points");
  assert_int_equal(clsp_voxelize(ctx, &o, pts, 2, NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clsp_voxelize_options bad = o;
  bad.recipe = (clsp_voxel_recipe)42;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "recipe = 42");
  bad = o;
  bad.recipe = CLSP_VOXEL_RANGE;
  bad.voxel_size[1] = -0.5f;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "voxel_size[1] = -0.5");
  bad = o;
  bad.recipe = CLSP_VOXEL_RANGE;
  bad.range[5] = bad.range[2];
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "axis 2");
  bad = o;
  bad.max_points_per_voxel = -1;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "max_points_per_voxel = -1");
  bad.max_points_per_voxel = (1 << 30) + 1;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT,
               "max_points_per_voxel = 1073741825");
  bad.recipe = CLSP_VOXEL_ROUND;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT,
               "max_points_per_voxel = 1073741825");
  bad = o;
  bad.batch = -1;
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "batch = -1");
  bad = o;
  bad.batch = INT32_MAX; /* the tensor's batch_size would overflow */
  expect_error(&bad, pts, 2, CLSP_ERROR_INVALID_ARGUMENT, "batch = 2147483647");
  /* About 2^31 voxels per axis: 93 key bits, beyond the rulebook's 63. */
  bad = o;
  bad.recipe = CLSP_VOXEL_RANGE;
  bad.voxel_size[0] = bad.voxel_size[1] = bad.voxel_size[2] = 0.001f;
  bad.range[0] = bad.range[1] = bad.range[2] = -1e6f;
  bad.range[3] = bad.range[4] = bad.range[5] = 1e6f;
  expect_error(&bad, pts, 2, CLSP_ERROR_TOO_LARGE, "needs a 93-bit");
  /* Round mode: 4000001 voxels on every axis need 66 key bits. */
  clsp_voxelize_options mk;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &mk);
  float far[8] = {-1e5f, -1e5f, -1e5f, 0, 1e5f, 1e5f, 1e5f, 0};
  expect_error(&mk, far, 2, CLSP_ERROR_TOO_LARGE, "(4000001, 4000001, 4000001");
  /* An axis beyond int32 coordinates, and p / size beyond float. */
  float wide_x[8] = {-1e8f, 0, 0, 0, 1e8f, 0, 0, 0};
  expect_error(&mk, wide_x, 2, CLSP_ERROR_TOO_LARGE, "axis 0 they span 4000000001");
  float huge[8] = {3e38f, 0, 0, 0, 0, 0, 0, 0};
  expect_error(&mk, huge, 2, CLSP_ERROR_TOO_LARGE, "to inf");
  float nan_pt[8] = {1, 2, 3, 0, NAN, 0, 0, 0};
  expect_error(&mk, nan_pt, 2, CLSP_ERROR_INVALID_ARGUMENT, "1 points are not finite");
  float inf_pt[12] = {1, 2, 3, 0, 0, -INFINITY, 0, 0, 0, 0, INFINITY, 0};
  expect_error(&mk, inf_pt, 3, CLSP_ERROR_INVALID_ARGUMENT, "2 points are not finite");
}

/* No points, and no point inside the range: empty tensors. */
static void test_empty(void **state) {
  (void)state;
  clsp_voxelize_options o;
  for (int recipe = 0; recipe < 2; recipe++) {
    clsp_voxelize_defaults((clsp_voxel_recipe)recipe, &o);
    clsp_tensor *t = NULL;
    assert_int_equal(clsp_voxelize(harness_ctx(), &o, NULL, 0, &t, NULL), CLSP_SUCCESS);
    clsp_tensor_desc d;
    clsp_tensor_describe(t, &d);
    assert_int_equal(d.n_sites, 0);
    clsp_tensor_destroy(t);
  }
  clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &o);
  float behind[8] = {-10, 0, 0, 0, 100, 0, 0, 0};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_voxelize(harness_ctx(), &o, behind, 2, &t, NULL), CLSP_SUCCESS);
  clsp_tensor_desc d;
  clsp_tensor_describe(t, &d);
  assert_int_equal(d.n_sites, 0);
  assert_int_equal(d.shape[0], 41);
  clsp_tensor_destroy(t);
}

/* With CLSP_CONTEXT_DETERMINISTIC, two voxelizations of p give the same
 * bits (features poisoned before each download). */
static void expect_same_bits(clsp_context *ctx, const clsp_voxelize_options *o,
                             const float *p, size_t n, uint64_t seed) {
  float *f[2] = {NULL, NULL};
  size_t m = 0;
  for (int run = 0; run < 2; run++) {
    clsp_tensor *t = NULL;
    assert_int_equal(clsp_voxelize(ctx, o, p, n, &t, NULL), CLSP_SUCCESS);
    clsp_tensor_desc d;
    clsp_tensor_describe(t, &d);
    m = d.n_sites;
    f[run] = malloc(m * 16 + 16);
    assert_non_null(f[run]);
    for (size_t i = 0; i < 4 * m; i++) f[run][i] = NAN;
    assert_int_equal(clsp_tensor_download(ctx, t, NULL, f[run]), CLSP_SUCCESS);
    clsp_tensor_destroy(t);
  }
  HARNESS_CHECK(memcmp(f[0], f[1], m * 16) == 0, seed);
  free(f[0]);
  free(f[1]);
}

/* MinkUNet's recipe on the clustered cloud, and SECOND's (the first 5
 * points of each voxel: the selection path) on the crowded one. */
static void test_deterministic(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 5;
  size_t n = cloud_size();
  clsp_context_options co = {0};
  co.flags = CLSP_CONTEXT_DETERMINISTIC;
  co.device = harness_device_spec();
  clsp_context *ctx = NULL;
  assert_int_equal(clsp_context_create(&co, &ctx), CLSP_SUCCESS);
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &o);
  float *p = random_cloud(seed, n);
  expect_same_bits(ctx, &o, p, n, seed);
  free(p);
  clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &o);
  assert_int_equal(o.max_points_per_voxel, 5);
  p = crowded_cloud(seed + 1, n);
  expect_same_bits(ctx, &o, p, n, seed + 1);
  free(p);
  clsp_context_destroy(ctx);
}

/* ---- grids of 2^32 - 1 cells or more: 64-bit voxel keys ---- */

/* Fixture: two deterministic contexts on the suite's device, the default
 * paths (64-bit hash where the device has 64-bit atomics) and the sort
 * path forced by CLSP_CONTEXT_FORCE_HASH32. */
static int wide_setup(void **state) {
  static clsp_context *ctx[2];
  for (int k = 0; k < 2; k++) {
    clsp_context_options co = {0};
    co.flags = CLSP_CONTEXT_DETERMINISTIC | (k ? CLSP_CONTEXT_FORCE_HASH32 : 0);
    co.device = harness_device_spec();
    ctx[k] = NULL;
    if (clsp_context_create(&co, &ctx[k]) != CLSP_SUCCESS) {
      clsp_context_destroy(k ? ctx[0] : NULL);
      return -1;
    }
  }
  *state = ctx;
  return 0;
}

static int wide_teardown(void **state) {
  clsp_context **ctx = *state;
  clsp_context_destroy(ctx[0]);
  clsp_context_destroy(ctx[1]);
  return 0;
}

/* Voxelizes p on both contexts: each result matches the reference (and
 * its grid is the `want` shape the case is built for, in coordinate
 * order), and the two agree bit for bit. */
static void check_wide(clsp_context **ctx, const float *p, size_t n,
                       const clsp_voxelize_options *o, const int32_t want[3],
                       uint64_t seed) {
  int range = o->recipe == CLSP_VOXEL_RANGE;
  ref_voxels ref;
  assert_int_equal(ref_voxelize(p, n, o->voxel_size, range ? o->range : NULL, range,
                                o->batch, &ref),
                   0);
  HARNESS_CHECK(ref.shape[0] + range == want[0] && ref.shape[1] == want[1] &&
                  ref.shape[2] == want[2],
                seed);
  /* The case is what it claims: beyond 32-bit keys. */
  double cells = (double)(want[0] - range) * want[1] * want[2];
  HARNESS_CHECK(cells >= 4294967295.0, seed);
  size_t bytes = ref.n * 16 + 16;
  void *got[2][2] = {{malloc(bytes), malloc(bytes)}, {malloc(bytes), malloc(bytes)}};
  for (int k = 0; k < 2; k++) {
    clsp_tensor *t = NULL;
    clsp_voxelize_stats st;
    assert_int_equal(clsp_voxelize(ctx[k], o, p, n, &t, &st), CLSP_SUCCESS);
    HARNESS_CHECK(st.n_voxels == ref.n, seed);
    /* Range mode: the cases put points outside the range. */
    HARNESS_CHECK(range ? st.n_kept < n : st.n_kept == n, seed);
    expect_match_on(ctx[k], t, &ref, range, seed);
    assert_int_equal(clsp_tensor_download(ctx[k], t, got[k][0], got[k][1]), CLSP_SUCCESS);
    clsp_tensor_destroy(t);
  }
  HARNESS_CHECK(memcmp(got[0][0], got[1][0], ref.n * 16) == 0, seed);
  HARNESS_CHECK(memcmp(got[0][1], got[1][1], ref.n * 16) == 0, seed);
  for (int k = 0; k < 4; k++) free(got[k / 2][k % 2]);
  ref_voxels_free(&ref);
}

/* The clustered cloud with `extra` points appended (x, y, z, intensity). */
static float *with_points(uint64_t seed, size_t n, const float *extra, size_t n_extra) {
  float *p = random_cloud(seed, n + n_extra);
  memcpy(p + 4 * n, extra, n_extra * 16);
  return p;
}

/* MinkUNet's recipe on a dense cluster with far outliers (+-100 km on x
 * and y, +-1 km on z: 60 key bits), and on a grid of SemanticKITTI's
 * extent, 3173 x 3166 x 613 voxels. */
static void test_wide_round(void **state) {
  clsp_context **ctx = *state;
  uint64_t seed = harness_seed() + 6;
  size_t n = cloud_size();
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &o);
  const float far[] = {1e5f, 0,     0, 0.1f, -1e5f, 1, 1,    0.2f, 3, 1e5f, 0,     0.3f,
                       2,    -1e5f, 1, 0.4f, 4,     5, 1e3f, 0.5f, 5, 4,    -1e3f, 0.6f};
  float *p = with_points(seed, n, far, 6);
  check_wide(ctx, p, n + 6, &o, (const int32_t[]){4000001, 4000001, 40001}, seed);
  free(p);
  /* Corners of the grid: rint(p / 0.05) = (-1600, -1600, -500) and
   * (1572, 1565, 112); the cluster lies inside. */
  const float corners[] = {-80.0f, -80.0f, -25.0f, 0.7f, 78.6f, 78.25f, 5.6f, 0.8f};
  p = with_points(seed + 1, n, corners, 2);
  o.batch = 1;
  check_wide(ctx, p, n + 2, &o, (const int32_t[]){3173, 3166, 613}, seed + 1);
  free(p);
}

/* Range mode over a 10000^3 grid of 2 cm voxels, with points outside the
 * range (dropped) as far as 100 km. */
static void test_wide_range(void **state) {
  clsp_context **ctx = *state;
  uint64_t seed = harness_seed() + 7;
  size_t n = cloud_size();
  clsp_voxelize_options o = {CLSP_VOXEL_RANGE,
                             {0.02f, 0.02f, 0.02f},
                             {-100.0f, -100.0f, -100.0f, 100.0f, 100.0f, 100.0f},
                             0,
                             0};
  const float edge[] = {-99.99f, -99.99f, -99.99f, 0.1f, 99.99f, 99.99f, 99.99f,
                        0.2f,    1e5f,    0,       0,    0.3f,   0,      -1e5f,
                        0,       0.4f,    0,       0,    100.0f, 0.5f};
  float *p = with_points(seed, n, edge, 5);
  check_wide(ctx, p, n + 5, &o, (const int32_t[]){10001, 10000, 10000}, seed);
  free(p);
}

/* A cloud 10^13 m out on x: voxel indices near 2^47 (the offsets are
 * then exact float differences), a few points 2^20 m apart (floats'
 * spacing there) widen the grid beyond 32-bit keys. And 10^9 m out
 * (indices near 2^34, beyond the former 2^30 limit) within 32 bits. */
static void test_far_cluster(void **state) {
  clsp_context **ctx = *state;
  uint64_t seed = harness_seed() + 8;
  size_t n = cloud_size();
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &o);
  const float steps[] = {1e13f + 1048576.0f, 1, 1, 0.1f, 1e13f + 3145728.0f, 2, 2, 0.2f};
  float *p = with_points(seed, n, steps, 2);
  for (size_t i = 0; i < n; i++) p[4 * i] += 1e13f;
  ref_voxels ref;
  assert_int_equal(ref_voxelize_minkunet(p, n + 2, 0, &ref), 0);
  int32_t want[3] = {ref.shape[0], ref.shape[1], ref.shape[2]};
  ref_voxels_free(&ref);
  /* Indices there are multiples of 2^24: the x extent is some of them. */
  HARNESS_CHECK(want[0] > 16777216 && (want[0] - 1) % 16777216 == 0, seed);
  check_wide(ctx, p, n + 2, &o, want, seed);
  free(p);
  p = random_cloud(seed + 1, n);
  for (size_t i = 0; i < n; i++) p[4 * i] += 1e9f;
  assert_int_equal(ref_voxelize_minkunet(p, n, 0, &ref), 0);
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_voxelize(ctx[1], &o, p, n, &t, NULL), CLSP_SUCCESS);
  expect_match_on(ctx[1], t, &ref, 0, seed + 1);
  clsp_tensor_destroy(t);
  ref_voxels_free(&ref);
  free(p);
}

static const char *kitti_dir(void) {
  const char *env = getenv("CLSP_KITTI_DIR");
  return env && env[0] ? env : CLSP_KITTI_DEFAULT_DIR;
}

static void run_kitti(const char *frame, size_t want_second, size_t want_mink) {
  if (harness_small()) HARNESS_SKIP("KITTI frames are too large for small runs");
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.bin", kitti_dir(), frame);
  float *p = NULL;
  size_t n = 0;
  if (ref_load_kitti_bin(path, &p, &n) != 0)
    HARNESS_SKIP("%s not readable (set CLSP_KITTI_DIR)", path);
  const clsp_voxel_recipe recipes[2] = {CLSP_VOXEL_SECOND, CLSP_VOXEL_MINKUNET};
  const size_t want[2] = {want_second, want_mink};
  for (int i = 0; i < 2; i++) {
    ref_voxels ref;
    int rc =
      i == 0 ? ref_voxelize_second(p, n, 0, &ref) : ref_voxelize_minkunet(p, n, 0, &ref);
    assert_int_equal(rc, 0);
    assert_int_equal(ref.n, want[i]);
    clsp_voxelize_options o;
    clsp_voxelize_defaults(recipes[i], &o);
    clsp_tensor *t = NULL;
    assert_int_equal(clsp_voxelize(harness_ctx(), &o, p, n, &t, NULL), CLSP_SUCCESS);
    expect_match(t, &ref, 0, 0);
    clsp_tensor_destroy(t);
    ref_voxels_free(&ref);
  }
  free(p);
}

static void test_kitti_000000(void **state) {
  (void)state;
  run_kitti("000000", 41281, 79893);
}

static void test_kitti_000008(void **state) {
  (void)state;
  run_kitti("000008", 13092, 13992);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_second_random),
    cmocka_unit_test(test_first_points),
    cmocka_unit_test(test_minkunet_random),
    cmocka_unit_test(test_explicit_grids),
    cmocka_unit_test(test_buffer_input),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_empty),
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test_setup_teardown(test_wide_round, wide_setup, wide_teardown),
    cmocka_unit_test_setup_teardown(test_wide_range, wide_setup, wide_teardown),
    cmocka_unit_test_setup_teardown(test_far_cluster, wide_setup, wide_teardown),
    cmocka_unit_test(test_kitti_000000),
    cmocka_unit_test(test_kitti_000008),
  };
  return HARNESS_RUN("voxelize", tests, 1);
}
