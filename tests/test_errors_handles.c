/* SPDX-License-Identifier: Apache-2.0 */
/* Bad inputs through the public API, continued (see test_errors.c): empty
 * tensors, too-large sizes, handles that do not belong together (other
 * tensors, other contexts, inverses without their regular rulebook), and
 * device memory exhaustion (a clean error, no leak). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errors_common.h"

/* ---- an empty tensor is valid everywhere ---- */

static void expect_empty(clsp_context *ctx, clsp_tensor *t, size_t channels) {
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(t, &d), CLSP_SUCCESS);
  assert_int_equal(d.n_sites, 0);
  assert_int_equal(d.channels, channels);
  int32_t c[4] = {-7, -7, -7, -7};
  float f[4] = {-7, -7, -7, -7};
  assert_int_equal(clsp_tensor_download(ctx, t, c, f), CLSP_SUCCESS);
  assert_int_equal(c[0], -7);
  assert_true(f[0] == -7.0f);
}

static void test_empty_tensor(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor_desc d = good_desc();
  d.n_sites = 0;
  clsp_tensor *t = NULL;
  /* Pointers may be NULL (nothing to read) or anything. */
  assert_int_equal(clsp_tensor_create(ctx, &d, NULL, NULL, &t), CLSP_SUCCESS);
  expect_empty(ctx, t, 3);
  float wv[9 * 3 * 2] = {0}, bias[2] = {1, 2};
  clsp_weights *w3 = NULL, *w2 = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 2, wv, bias, &w3), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(ctx, 4, 3, 2, wv, bias, &w2), CLSP_SUCCESS);
  clsp_conv_geometry k3 = geom2(3, 1, 1), k3s2 = geom2(3, 2, 1), k2s2 = geom2(2, 2, 0);
  struct {
    clsp_conv_kind kind;
    clsp_conv_geometry *g;
    clsp_weights *w;
  } kinds[] = {{CLSP_CONV_SUBMANIFOLD, &k3, w3},
               {CLSP_CONV_REGULAR, &k3s2, w3},
               {CLSP_CONV_TRANSPOSED, &k2s2, w2}};
  clsp_rulebook *regular = NULL;
  clsp_tensor *reg_out = NULL;
  for (size_t i = 0; i < N_OF(kinds); i++) {
    clsp_rulebook *rb = NULL;
    assert_int_equal(clsp_rulebook_build(ctx, kinds[i].kind, kinds[i].g, t, &rb),
                     CLSP_SUCCESS);
    clsp_rulebook_info info;
    assert_int_equal(clsp_rulebook_describe(rb, &info), CLSP_SUCCESS);
    assert_int_equal(info.n_out, 0);
    assert_int_equal(info.n_pairs, 0);
    uint32_t start[10];
    assert_int_equal(clsp_rulebook_download(ctx, rb, start, NULL, NULL), CLSP_SUCCESS);
    assert_int_equal(start[info.kernel_volume], 0);
    clsp_tensor *out = NULL;
    assert_int_equal(clsp_conv_forward(ctx, rb, t, kinds[i].w, CLSP_CONV_DETERMINISTIC,
                                       &out, NULL),
                     CLSP_SUCCESS);
    expect_empty(ctx, out, 2);
    if (kinds[i].kind == CLSP_CONV_REGULAR) {
      regular = rb;
      reg_out = out;
    } else {
      clsp_tensor_destroy(out);
      clsp_rulebook_destroy(rb);
    }
  }
  /* The inverse of the empty regular conv, on its (empty) output. */
  clsp_rulebook *inv = NULL;
  assert_int_equal(clsp_rulebook_inverse(ctx, regular, &inv), CLSP_SUCCESS);
  float wi[9 * 2 * 3] = {0};
  clsp_weights *wiv = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 2, 3, wi, NULL, &wiv), CLSP_SUCCESS);
  clsp_tensor *back = NULL;
  assert_int_equal(clsp_conv_forward(ctx, inv, reg_out, wiv, 0, &back, NULL),
                   CLSP_SUCCESS);
  expect_empty(ctx, back, 3);
  /* Elementwise ops on empty tensors. */
  assert_int_equal(clsp_relu(ctx, back, NULL), CLSP_SUCCESS);
  clsp_tensor *cat = NULL;
  assert_int_equal(clsp_concat(ctx, back, back, &cat, NULL), CLSP_SUCCESS);
  expect_empty(ctx, cat, 6);
  clsp_tensor_destroy(cat);
  clsp_tensor_destroy(back);
  clsp_weights_destroy(wiv);
  clsp_rulebook_destroy(inv);
  clsp_tensor_destroy(reg_out);
  clsp_rulebook_destroy(regular);
  clsp_weights_destroy(w3);
  clsp_weights_destroy(w2);
  clsp_tensor_destroy(t);
  check_usable(ctx);
}

/* ---- too large ---- */

static void test_too_large(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t tiny[3] = {0, 0, 0};
  float tinyf[1] = {0};
  clsp_tensor *t = (clsp_tensor *)&t;
  /* The packed key: 22 + 21 + 21 bits > 63. */
  clsp_tensor_desc d = {3, {(1 << 21) + 1, 1 << 21, 1 << 21, 1}, 1, 1, 1, 0};
  int32_t one[4] = {0, 1, 2, 3};
  EXPECT(ctx, clsp_tensor_create(ctx, &d, one, NULL, &t), CLSP_ERROR_TOO_LARGE, "desc",
         "2097153", "64-bit");
  assert_null(t);
  /* N x C beyond 32-bit indexing, with a coords array of one row: the size
   * check must come before anything reads coords (ASan would catch it). */
  clsp_tensor_desc h = good_desc();
  h.n_sites = (size_t)1 << 30;
  h.channels = 8;
  EXPECT(ctx, clsp_tensor_create(ctx, &h, tiny, tinyf, &t), CLSP_ERROR_TOO_LARGE,
         "n_sites x channels = 1073741824 x 8");
  assert_null(t);
  h.n_sites = SIZE_MAX / 2;
  h.channels = 1;
  EXPECT(ctx, clsp_tensor_create(ctx, &h, tiny, NULL, &t), CLSP_ERROR_TOO_LARGE,
         "n_sites x channels");
  h.n_sites = (size_t)UINT32_MAX / 4; /* fits N x C, not N x (1 + ndim) */
  EXPECT(ctx, clsp_tensor_create(ctx, &h, tiny, NULL, &t), CLSP_ERROR_TOO_LARGE,
         "n_sites x channels");
  /* The same through wrap: refused before the buffer size check. */
  cl_mem cm = make_buffer(ctx, tiny, sizeof tiny);
  cl_mem fm = make_buffer(ctx, tinyf, sizeof tinyf);
  h.n_sites = (size_t)1 << 31;
  h.channels = 2;
  EXPECT(ctx, clsp_tensor_wrap(ctx, &h, cm, fm, &t), CLSP_ERROR_TOO_LARGE,
         "n_sites x channels = 2147483648 x 2");
  expect_buffer(ctx, cm, tiny, sizeof tiny);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
  /* Weights beyond 32-bit indexing, refused before reading the array. */
  clsp_weights *w = (clsp_weights *)&w;
  EXPECT(ctx, clsp_weights_create(ctx, 27, 65536, 4096, tinyf, NULL, &w),
         CLSP_ERROR_TOO_LARGE, "27 x 65536 x 4096");
  assert_null(w);
  /* A tensor on rulebook outputs with too many channels. */
  clsp_tensor *g = good_tensor(ctx), *o = (clsp_tensor *)&o;
  clsp_conv_geometry k = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &k, g, &rb),
                   CLSP_SUCCESS);
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, rb, (size_t)1 << 31, NULL, &o),
         CLSP_ERROR_TOO_LARGE, "4 x 2147483648");
  assert_null(o);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(g);
  check_usable(ctx);
}

/* ---- handles that do not belong together ---- */

static void test_rulebook_other_tensor(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *a = good_tensor(ctx), *b = good_tensor(ctx), *out = (clsp_tensor *)&out;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, a, &rb),
                   CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);
  /* Same coordinates, other site set. */
  EXPECT(ctx, clsp_conv_forward(ctx, rb, b, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "in:", "4 sites", "not on the sites");
  assert_null(out);
  /* Fewer sites. */
  clsp_tensor_desc d = good_desc();
  d.n_sites = 3;
  clsp_tensor *c = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &good_coords[0][0], NULL, &c),
                   CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, c, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "in:", "3 sites");
  /* Ops refuse tensors not on the same sites. */
  EXPECT(ctx, clsp_add(ctx, a, b, 0, NULL), CLSP_ERROR_MISMATCH,
         "b:", "not on the sites");
  clsp_tensor_destroy(c);
  clsp_weights_destroy(w);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(a);
  clsp_tensor_destroy(b);
  check_usable(ctx);
}

static void test_inverse_without_regular(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *t = good_tensor(ctx), *out = (clsp_tensor *)&out;
  clsp_conv_geometry sub = geom2(3, 1, 1), down = geom2(3, 2, 1), up = geom2(2, 2, 0);
  clsp_rulebook *rs = NULL, *rr = NULL, *rt = NULL, *inv = (clsp_rulebook *)&inv;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &rs),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, t, &rr),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_TRANSPOSED, &up, t, &rt),
                   CLSP_SUCCESS);
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rs, &inv), CLSP_ERROR_INVALID_ARGUMENT,
         "regular:", "kind 0");
  assert_null(inv);
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rt, &inv), CLSP_ERROR_INVALID_ARGUMENT,
         "regular:", "kind 2");
  assert_int_equal(clsp_rulebook_inverse(ctx, rr, &inv), CLSP_SUCCESS);
  /* An inverse of an inverse is not a regular conv either. */
  clsp_rulebook *inv2 = (clsp_rulebook *)&inv2;
  EXPECT(ctx, clsp_rulebook_inverse(ctx, inv, &inv2), CLSP_ERROR_INVALID_ARGUMENT,
         "kind 3");
  assert_null(inv2);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);
  /* The inverse takes the regular conv's output, not its input. */
  EXPECT(ctx, clsp_conv_forward(ctx, inv, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "in:", "not on the sites");
  assert_null(out);
  clsp_tensor *down_out = NULL, *back = NULL;
  assert_int_equal(clsp_conv_forward(ctx, rr, t, w, 0, &down_out, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, inv, down_out, w, 0, &back, NULL),
                   CLSP_SUCCESS);
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(back, &d), CLSP_SUCCESS);
  assert_int_equal(d.n_sites, 4);
  /* A regular conv's own rulebook does not apply to its output. */
  EXPECT(ctx, clsp_conv_forward(ctx, rr, down_out, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "in:");
  clsp_tensor_destroy(back);
  clsp_tensor_destroy(down_out);
  clsp_weights_destroy(w);
  clsp_rulebook_destroy(inv);
  clsp_rulebook_destroy(rs);
  clsp_rulebook_destroy(rr);
  clsp_rulebook_destroy(rt);
  clsp_tensor_destroy(t);
  check_usable(ctx);
}

/* Objects of one context (and cl_context) used with another. */
static void test_cross_context(void **state) {
  (void)state;
  clsp_context *a = harness_ctx(), *b = second_context();
  clsp_tensor *ta = good_tensor(a), *tb = good_tensor(b), *out = (clsp_tensor *)&out;
  clsp_conv_geometry g = geom2(3, 1, 1), down = geom2(3, 2, 1);
  clsp_rulebook *ra = NULL, *rb = NULL, *rra = NULL, *x = (clsp_rulebook *)&x;
  assert_int_equal(clsp_rulebook_build(a, CLSP_CONV_SUBMANIFOLD, &g, ta, &ra),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(a, CLSP_CONV_REGULAR, &down, ta, &rra),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(b, CLSP_CONV_SUBMANIFOLD, &g, tb, &rb),
                   CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *wa = NULL, *wb = NULL;
  assert_int_equal(clsp_weights_create(a, 9, 3, 3, wv, NULL, &wa), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(b, 9, 3, 3, wv, NULL, &wb), CLSP_SUCCESS);

  EXPECT(b, clsp_rulebook_build(b, CLSP_CONV_SUBMANIFOLD, &g, ta, &x),
         CLSP_ERROR_MISMATCH, "in:", "another context");
  assert_null(x);
  EXPECT(b, clsp_conv_forward(b, ra, tb, wb, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "rb:", "another context");
  assert_null(out);
  EXPECT(b, clsp_conv_forward(b, rb, ta, wb, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "in:", "another context");
  EXPECT(b, clsp_conv_forward(b, rb, tb, wa, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "w:", "another context");
  EXPECT(b, clsp_rulebook_inverse(b, rra, &x), CLSP_ERROR_MISMATCH,
         "regular:", "another context");
  EXPECT(b, clsp_tensor_create_on_output(b, ra, 3, NULL, &out), CLSP_ERROR_MISMATCH,
         "rb:", "another context");
  assert_null(out);
  uint32_t start[10];
  int32_t oc[4][3];
  EXPECT(b, clsp_rulebook_download(b, ra, start, NULL, NULL), CLSP_ERROR_MISMATCH, "rb:");
  EXPECT(b, clsp_rulebook_download_out_coords(b, ra, &oc[0][0]), CLSP_ERROR_MISMATCH,
         "rb:");
  float f[4][3];
  EXPECT(b, clsp_tensor_download(b, ta, NULL, &f[0][0]), CLSP_ERROR_MISMATCH, "t:");
  EXPECT(b, clsp_relu(b, ta, NULL), CLSP_ERROR_MISMATCH, "t:", "another context");
  EXPECT(b, clsp_add(b, tb, ta, 0, NULL), CLSP_ERROR_MISMATCH, "b:", "another context");
  EXPECT(b, clsp_concat(b, ta, tb, &out, NULL), CLSP_ERROR_MISMATCH,
         "a:", "another context");
  EXPECT(b, clsp_scale_shift(b, ta, NULL, NULL, NULL), CLSP_ERROR_MISMATCH, "t:");

  /* Buffers of B's cl_context wrapped into A. */
  clsp_tensor_desc d = good_desc();
  cl_mem cm = make_buffer(b, good_coords, sizeof good_coords);
  cl_mem fm = make_buffer(b, good_feats, sizeof good_feats);
  cl_mem cma = make_buffer(a, good_coords, sizeof good_coords);
  EXPECT(a, clsp_tensor_wrap(a, &d, cm, fm, &out), CLSP_ERROR_MISMATCH,
         "coords:", "another cl_context");
  assert_null(out);
  EXPECT(a, clsp_tensor_wrap(a, &d, cma, fm, &out), CLSP_ERROR_MISMATCH,
         "feats:", "another cl_context");
  float pts[4][4] = {{0}};
  cl_mem pm = make_buffer(b, pts, sizeof pts);
  clsp_voxelize_options vo;
  assert_int_equal(clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &vo), CLSP_SUCCESS);
  EXPECT(a, clsp_voxelize_buffer(a, &vo, pm, 4, &out, NULL), CLSP_ERROR_MISMATCH,
         "points:", "another cl_context");
  /* A queue of B's cl_context with A's. */
  cl_context acl;
  cl_device_id dev;
  cl_command_queue bq;
  assert_int_equal(clsp_context_cl(a, &acl, &dev, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_context_cl(b, NULL, NULL, &bq), CLSP_SUCCESS);
  clsp_context *wrapped = (clsp_context *)&wrapped;
  assert_int_equal(clsp_context_wrap(acl, dev, bq, NULL, &wrapped), CLSP_ERROR_MISMATCH);
  assert_null(wrapped);
  expect_buffer(b, cm, good_coords, sizeof good_coords);
  expect_buffer(b, fm, good_feats, sizeof good_feats);
  expect_buffer(a, cma, good_coords, sizeof good_coords);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
  clReleaseMemObject(cma);
  clReleaseMemObject(pm);

  /* Both still work, and A's tensor is intact. */
  assert_int_equal(clsp_tensor_download(a, ta, NULL, &f[0][0]), CLSP_SUCCESS);
  assert_memory_equal(f, good_feats, sizeof f);
  clsp_weights_destroy(wa);
  clsp_weights_destroy(wb);
  clsp_rulebook_destroy(ra);
  clsp_rulebook_destroy(rra);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(ta);
  clsp_tensor_destroy(tb);
  check_usable(a);
  check_usable(b);
  clsp_context_destroy(b);
}

/* ---- device memory exhaustion ---- */

static void test_out_of_device_memory(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  const clsp_device_caps *caps = clsp_context_caps(ctx);
  uint64_t max_alloc = caps->max_alloc_bytes;
  if (max_alloc == 0 || max_alloc / 4 + 1 > UINT32_MAX / 4)
    HARNESS_SKIP("largest allocation %llu bytes: no 32-bit-indexable buffer exceeds it",
                 (unsigned long long)max_alloc);
  uint64_t before = 0, after = 1, peak0 = 0, peak1 = 0;
  assert_int_equal(clsp_context_memory(ctx, &before, &peak0), CLSP_SUCCESS);
  /* One site whose features need one float more than the largest
   * allocation: the coordinates are allocated first, then released. */
  size_t channels = (size_t)(max_alloc / 4) + 1;
  clsp_tensor_desc d = {2, {8, 8, 1, 1}, 1, 1, channels, 0};
  int32_t one[3] = {0, 1, 2};
  clsp_tensor *t = (clsp_tensor *)&t;
  char want[64];
  snprintf(want, sizeof want, "%zu bytes", channels * 4);
  EXPECT(ctx, clsp_tensor_create(ctx, &d, one, NULL, &t), CLSP_ERROR_OUT_OF_DEVICE_MEMORY,
         "tensor feats", want);
  assert_null(t);
  assert_int_equal(clsp_context_memory(ctx, &after, &peak1), CLSP_SUCCESS);
  assert_int_equal(after, before);
  /* The same for a tensor on a rulebook's output sites. */
  clsp_tensor *g = good_tensor(ctx);
  clsp_conv_geometry k = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &k, g, &rb),
                   CLSP_SUCCESS);
  uint64_t mid = 0;
  assert_int_equal(clsp_context_memory(ctx, &mid, NULL), CLSP_SUCCESS);
  size_t ch4 = (size_t)(max_alloc / 16) + 1; /* 4 sites */
  snprintf(want, sizeof want, "%zu bytes", ch4 * 16);
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, rb, ch4, NULL, &t),
         CLSP_ERROR_OUT_OF_DEVICE_MEMORY, "tensor feats", want);
  assert_null(t);
  assert_int_equal(clsp_context_memory(ctx, &after, NULL), CLSP_SUCCESS);
  assert_int_equal(after, mid);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(g);
  check_usable(ctx);
  assert_int_equal(clsp_context_memory(ctx, &after, NULL), CLSP_SUCCESS);
  assert_int_equal(after, before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_tensor),
    cmocka_unit_test(test_too_large),
    cmocka_unit_test(test_rulebook_other_tensor),
    cmocka_unit_test(test_inverse_without_regular),
    cmocka_unit_test(test_cross_context),
    cmocka_unit_test(test_out_of_device_memory),
  };
  return HARNESS_RUN("errors_handles", tests, 1);
}
