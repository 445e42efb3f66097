/* SPDX-License-Identifier: Apache-2.0 */
/* Elementwise device ops (ReLU, residual add, concatenation, folded batch
 * norm) against plain C loops, plus their argument and site checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* A tensor of n sites on a line (b 0, z 0, y 0, x i) with random features
 * (and the host copy in *host). */
static clsp_tensor *make(size_t n, size_t channels, uint64_t seed, float **host) {
  harness_rng r = {seed};
  int32_t *c = malloc(n * 16 + 16);
  float *f = malloc(n * channels * sizeof *f + 4);
  assert_non_null(c);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) {
    c[4 * i] = c[4 * i + 1] = c[4 * i + 2] = 0;
    c[4 * i + 3] = (int32_t)i;
  }
  for (size_t i = 0; i < n * channels; i++) f[i] = 4.0f * harness_unit(&r);
  /* Unique by construction; trusted so this suite does not depend on the
   * device duplicate check (which reports false duplicates on llvmpipe at
   * the time of writing: see the bench branch's report). */
  clsp_tensor_desc d = {3, {1, 1, (int32_t)n}, 1,
                        n, channels,           CLSP_TENSOR_TRUSTED_UNIQUE};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(harness_ctx(), &d, c, f, &t), CLSP_SUCCESS);
  free(c);
  *host = f;
  return t;
}

/* Features of `t`, downloaded. */
static float *feats_of(clsp_tensor *t, size_t count) {
  float *f = malloc(count * sizeof *f + 4);
  assert_non_null(f);
  assert_int_equal(clsp_tensor_download(harness_ctx(), t, NULL, f), CLSP_SUCCESS);
  return f;
}

static size_t sites(void) { return harness_small() ? 257 : 5003; }

static void test_relu(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 11;
  size_t n = sites(), c = 7;
  float *h;
  clsp_tensor *t = make(n, c, seed, &h);
  double ms = -1;
  assert_int_equal(clsp_relu(harness_ctx(), t, &ms), CLSP_SUCCESS);
  assert_true(ms >= 0.0);
  float *g = feats_of(t, n * c);
  for (size_t i = 0; i < n * c; i++)
    HARNESS_CHECK(g[i] == (h[i] > 0 ? h[i] : 0.0f), seed);
  free(g);
  free(h);
  clsp_tensor_destroy(t);
}

static void test_scale_shift(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 12;
  size_t n = sites(), c = 5;
  float *h;
  clsp_tensor *t = make(n, c, seed, &h);
  float scale[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.25f}, shift[5] = {1, 2, -3, 0.5f, 0};
  assert_int_equal(clsp_scale_shift(harness_ctx(), t, scale, shift, NULL), CLSP_SUCCESS);
  float *g = feats_of(t, n * c);
  for (size_t i = 0; i < n * c; i++) {
    float want = h[i] * scale[i % c] + shift[i % c];
    HARNESS_CHECK(fabsf(g[i] - want) <= 1e-6f * (fabsf(want) + 1.0f), seed);
  }
  free(g);
  /* NULL scale and shift: identity. */
  assert_int_equal(clsp_scale_shift(harness_ctx(), t, NULL, NULL, NULL), CLSP_SUCCESS);
  float *g2 = feats_of(t, n * c);
  float *g1 = feats_of(t, n * c);
  assert_memory_equal(g1, g2, n * c * sizeof(float));
  free(g1);
  free(g2);
  free(h);
  clsp_tensor_destroy(t);
}

/* Concatenation of different widths, both ways round: a (3 channels) and
 * w = concat(a, a) scaled per channel (6 distinct channels), so every
 * output column has its own expected value: each must equal its source
 * value bit for bit. */
static void test_concat_widths(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 17;
  size_t n = sites(), ca = 3, cw = 6;
  float *ha;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *a = make(n, ca, seed, &ha), *w = NULL, *aw = NULL, *wa = NULL;
  assert_int_equal(clsp_concat(ctx, a, a, &w, NULL), CLSP_SUCCESS);
  float sc[6] = {1, 2, 3, -1, -2, -3}, sh[6] = {10, 20, 30, 40, 50, 60};
  assert_int_equal(clsp_scale_shift(ctx, w, sc, sh, NULL), CLSP_SUCCESS);
  double ms = -1.0;
  assert_int_equal(clsp_concat(ctx, a, w, &aw, &ms), CLSP_SUCCESS);
  assert_true(ms >= 0.0);
  assert_int_equal(clsp_concat(ctx, w, a, &wa, NULL), CLSP_SUCCESS);
  float *haw = feats_of(aw, n * (ca + cw)), *hwa = feats_of(wa, n * (ca + cw));
  float *hw = feats_of(w, n * cw); /* a copy must give these bits */
  for (size_t r = 0; r < n; r++)
    for (size_t k = 0; k < cw; k++) {
      float wk = hw[r * cw + k];
      for (size_t j = 0; j < ca; j++) {
        HARNESS_CHECK(haw[r * (ca + cw) + j] == ha[r * ca + j], seed);
        HARNESS_CHECK(hwa[r * (ca + cw) + cw + j] == ha[r * ca + j], seed);
      }
      HARNESS_CHECK(haw[r * (ca + cw) + ca + k] == wk, seed);
      HARNESS_CHECK(hwa[r * (ca + cw) + k] == wk, seed);
    }
  free(haw);
  free(hwa);
  free(hw);
  free(ha);
  clsp_tensor_destroy(a);
  clsp_tensor_destroy(w);
  clsp_tensor_destroy(aw);
  clsp_tensor_destroy(wa);
}

/* concat(a, a) is on a's sites, so add(x, y) works between it and another
 * concat(a, a): that gives two distinct tensors on the same sites. */
static void test_concat_and_add(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 13;
  size_t n = sites(), ca = 3, cb = 6;
  float *ha, *hb;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *a = make(n, ca, seed, &ha);
  clsp_tensor *b0 = make(n, cb, seed + 1, &hb);
  /* b0 has other sites: concat refuses, naming b. */
  clsp_tensor *x = (clsp_tensor *)0x1;
  assert_int_equal(clsp_concat(ctx, a, b0, &x, NULL), CLSP_ERROR_MISMATCH);
  assert_null(x);
  assert_non_null(strstr(clsp_context_last_error(ctx), "b: not on the sites of a"));
  clsp_tensor *y = NULL;
  assert_int_equal(clsp_concat(ctx, a, a, &x, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_concat(ctx, a, a, &y, NULL), CLSP_SUCCESS);
  clsp_tensor_desc d;
  clsp_tensor_describe(x, &d);
  assert_int_equal(d.channels, 2 * ca);
  assert_int_equal(d.n_sites, n);
  float *g = feats_of(x, n * 2 * ca);
  for (size_t r = 0; r < n; r++)
    for (size_t k = 0; k < 2 * ca; k++)
      if (g[r * 2 * ca + k] != ha[r * ca + k % ca])
        fail_msg("row %zu col %zu: %g vs %g", r, k, (double)g[r * 2 * ca + k],
                 (double)ha[r * ca + k % ca]);
  free(g);
  int32_t *cx = malloc(n * 16), *c0 = malloc(n * 16);
  assert_int_equal(clsp_tensor_download(ctx, x, cx, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_download(ctx, a, c0, NULL), CLSP_SUCCESS);
  assert_memory_equal(cx, c0, n * 16);
  free(cx);
  free(c0);
  /* Make y differ from x, then y += x and y = relu(y + x). */
  float sc[6] = {-2, -2, -2, 1, 1, 1}, sh[6] = {0, 1, 0, 0, -1, 0};
  assert_int_equal(clsp_scale_shift(ctx, y, sc, sh, NULL), CLSP_SUCCESS);
  float *hy = feats_of(y, n * 2 * ca), *hx = feats_of(x, n * 2 * ca);
  assert_int_equal(clsp_add(ctx, y, x, 0, NULL), CLSP_SUCCESS);
  float *sum = feats_of(y, n * 2 * ca);
  for (size_t i = 0; i < n * 2 * ca; i++) HARNESS_CHECK(sum[i] == hy[i] + hx[i], seed);
  assert_int_equal(clsp_add(ctx, y, x, 1, NULL), CLSP_SUCCESS);
  float *rel = feats_of(y, n * 2 * ca);
  for (size_t i = 0; i < n * 2 * ca; i++) {
    float want = sum[i] + hx[i];
    HARNESS_CHECK(rel[i] == (want > 0 ? want : 0.0f), seed);
  }
  /* Residual add across different sites or channel counts is refused. */
  assert_int_equal(clsp_add(ctx, a, b0, 0, NULL), CLSP_ERROR_MISMATCH);
  assert_int_equal(clsp_add(ctx, y, a, 0, NULL), CLSP_ERROR_MISMATCH);
  assert_non_null(strstr(clsp_context_last_error(ctx), "channels"));
  free(hy);
  free(hx);
  free(sum);
  free(rel);
  free(ha);
  free(hb);
  clsp_tensor_destroy(a);
  clsp_tensor_destroy(b0);
  clsp_tensor_destroy(x);
  clsp_tensor_destroy(y);
}

static void test_arguments(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  float *h;
  clsp_tensor *t = make(4, 2, 1, &h);
  clsp_tensor *out = NULL;
  assert_int_equal(clsp_relu(NULL, t, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_relu(ctx, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(ctx), "t: NULL"));
  assert_int_equal(clsp_add(ctx, t, NULL, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(ctx), "b: NULL"));
  assert_int_equal(clsp_add(ctx, NULL, t, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(ctx), "a: NULL"));
  assert_int_equal(clsp_concat(ctx, t, t, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(ctx), "out: NULL"));
  assert_int_equal(clsp_concat(ctx, NULL, t, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_scale_shift(ctx, NULL, NULL, NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  /* A tensor of another context. */
  clsp_context_options co = {0};
  co.device = harness_device_spec();
  clsp_context *other = NULL;
  assert_int_equal(clsp_context_create(&co, &other), CLSP_SUCCESS);
  assert_int_equal(clsp_relu(other, t, NULL), CLSP_ERROR_MISMATCH);
  assert_non_null(strstr(clsp_context_last_error(other), "another context"));
  clsp_context_destroy(other);
  /* Zero sites: every op is a no-op that succeeds. */
  /* (clsp_tensor_create with 0 sites fails in core: CL_INVALID_HOST_PTR
   * from COPY_HOST_PTR with a NULL host pointer; an empty voxelization
   * gives an empty tensor.) */
  clsp_voxelize_options vo;
  clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &vo);
  clsp_tensor *e = NULL;
  assert_int_equal(clsp_voxelize(ctx, &vo, NULL, 0, &e, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_relu(ctx, e, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_add(ctx, e, e, 1, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_concat(ctx, e, e, &out, NULL), CLSP_SUCCESS);
  clsp_tensor_destroy(out);
  clsp_tensor_destroy(e);
  free(h);
  clsp_tensor_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relu),           cmocka_unit_test(test_scale_shift),
    cmocka_unit_test(test_concat_and_add), cmocka_unit_test(test_concat_widths),
    cmocka_unit_test(test_arguments),
  };
  return HARNESS_RUN("ops", tests, 1);
}
