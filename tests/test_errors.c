/* SPDX-License-Identifier: Apache-2.0 */
/* Bad inputs through the public API: every case checks the specific status,
 * that clsp_context_last_error names the argument and its value, that the
 * caller's arrays and buffers are untouched, and that the context still
 * works afterwards. This file: NULL arguments, sizes, mismatched channels
 * and volumes, geometry, coordinates; test_errors_handles.c: the rest. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errors_common.h"

/* ---- NULL pointers and handles ---- */

static void test_null_arguments(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor_desc d = good_desc();
  clsp_tensor *t = good_tensor(ctx), *out = (clsp_tensor *)&out;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL, *rbo = (clsp_rulebook *)&rbo;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb),
                   CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL, *wo = (clsp_weights *)&wo;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);

  /* No context: nothing to record the message on. */
  assert_int_equal(clsp_tensor_create(NULL, &d, &good_coords[0][0], NULL, &out),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_wrap(NULL, &d, NULL, NULL, &out),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_build(NULL, CLSP_CONV_SUBMANIFOLD, &g, t, &rbo),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_inverse(NULL, rb, &rbo), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_create(NULL, 9, 3, 3, wv, NULL, &wo),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_conv_forward(NULL, rb, t, w, 0, &out, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_download(NULL, t, NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_download(NULL, rb, NULL, NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_relu(NULL, t, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_finish(NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_warmup(NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_memory(NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_reset_peak(NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_cl(NULL, NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_cache_stats(ctx, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_string_equal(clsp_context_last_error(NULL), "");
  assert_string_equal(clsp_context_cache_dir(NULL), "");
  {
    cl_context cl;
    cl_device_id dev;
    cl_command_queue q;
    clsp_context *w2 = (clsp_context *)&w2;
    assert_int_equal(clsp_context_cl(ctx, &cl, &dev, &q), CLSP_SUCCESS);
    assert_int_equal(clsp_context_wrap(cl, dev, NULL, NULL, &w2),
                     CLSP_ERROR_INVALID_ARGUMENT);
    assert_null(w2);
    assert_int_equal(clsp_context_wrap(cl, NULL, q, NULL, &w2),
                     CLSP_ERROR_INVALID_ARGUMENT);
    assert_int_equal(clsp_context_wrap(cl, dev, q, NULL, NULL),
                     CLSP_ERROR_INVALID_ARGUMENT);
  }

  /* Handle-only accessors. */
  clsp_tensor_desc dd;
  clsp_rulebook_info info;
  uint32_t counts[9];
  assert_int_equal(clsp_tensor_describe(NULL, &dd), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_describe(t, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_buffers(NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_describe(NULL, &info), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_describe(rb, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_pair_counts(NULL, counts), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_pair_counts(rb, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  clsp_tensor_destroy(NULL);
  clsp_rulebook_destroy(NULL);
  clsp_weights_destroy(NULL);

  /* With a context: the message names the argument. */
  EXPECT(ctx, clsp_tensor_create(ctx, NULL, &good_coords[0][0], NULL, &out),
         CLSP_ERROR_INVALID_ARGUMENT, "desc: NULL");
  assert_null(out);
  EXPECT(ctx, clsp_tensor_create(ctx, &d, &good_coords[0][0], NULL, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  out = (clsp_tensor *)&out;
  EXPECT(ctx, clsp_tensor_create(ctx, &d, NULL, NULL, &out), CLSP_ERROR_INVALID_ARGUMENT,
         "coords: NULL", "n_sites = 4");
  assert_null(out);
  cl_mem cm = make_buffer(ctx, good_coords, sizeof good_coords);
  cl_mem fm = make_buffer(ctx, good_feats, sizeof good_feats);
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, NULL, fm, &out), CLSP_ERROR_INVALID_ARGUMENT,
         "coords: NULL");
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, NULL, &out), CLSP_ERROR_INVALID_ARGUMENT,
         "feats: NULL");
  EXPECT(ctx, clsp_tensor_wrap(ctx, NULL, cm, fm, &out), CLSP_ERROR_INVALID_ARGUMENT,
         "desc: NULL");
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, fm, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "out: NULL");
  EXPECT(ctx, clsp_tensor_download(ctx, NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "t: NULL");
  EXPECT(ctx, clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, NULL, t, &rbo),
         CLSP_ERROR_INVALID_ARGUMENT, "geometry: NULL");
  assert_null(rbo);
  EXPECT(ctx, clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, NULL, &rbo),
         CLSP_ERROR_INVALID_ARGUMENT, "in: NULL");
  EXPECT(ctx, clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  EXPECT(ctx, clsp_rulebook_inverse(ctx, NULL, &rbo), CLSP_ERROR_INVALID_ARGUMENT,
         "regular: NULL");
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rb, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "out: NULL");
  EXPECT(ctx, clsp_rulebook_download(ctx, NULL, NULL, NULL, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  int32_t oc[4][3];
  EXPECT(ctx, clsp_rulebook_download_out_coords(ctx, NULL, &oc[0][0]),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  EXPECT(ctx, clsp_rulebook_download_out_coords(ctx, rb, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "coords: NULL");
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, NULL, 3, NULL, &out),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  EXPECT(ctx, clsp_weights_create(ctx, 9, 3, 3, NULL, NULL, &wo),
         CLSP_ERROR_INVALID_ARGUMENT, "weights: NULL");
  assert_null(wo);
  EXPECT(ctx, clsp_weights_create(ctx, 9, 3, 3, wv, NULL, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  EXPECT(ctx, clsp_conv_forward(ctx, rb, NULL, w, 0, &out, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "in: NULL");
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, NULL, 0, &out, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "w: NULL");
  EXPECT(ctx, clsp_relu(ctx, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT, "t: NULL");
  EXPECT(ctx, clsp_add(ctx, t, NULL, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT, "b: NULL");
  EXPECT(ctx, clsp_add(ctx, NULL, t, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT, "a: NULL");
  EXPECT(ctx, clsp_concat(ctx, t, t, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "out: NULL");
  EXPECT(ctx, clsp_concat(ctx, t, NULL, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "b: NULL");
  EXPECT(ctx, clsp_scale_shift(ctx, NULL, NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "t: NULL");
  clsp_voxelize_options vo;
  assert_int_equal(clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &vo), CLSP_SUCCESS);
  EXPECT(ctx, clsp_voxelize_buffer(ctx, &vo, NULL, 4, &out, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "points: NULL");

  /* The caller's buffers are untouched; the tensor still reads back. */
  expect_buffer(ctx, cm, good_coords, sizeof good_coords);
  expect_buffer(ctx, fm, good_feats, sizeof good_feats);
  float f[4][3];
  assert_int_equal(clsp_tensor_download(ctx, t, NULL, &f[0][0]), CLSP_SUCCESS);
  assert_memory_equal(f, good_feats, sizeof f);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
  clsp_weights_destroy(w);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
  check_usable(ctx);
}

/* ---- zero or negative sizes ---- */

static void test_bad_sizes(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  int32_t coords[4][3];
  float feats[4][3];
  memcpy(coords, good_coords, sizeof coords);
  memcpy(feats, good_feats, sizeof feats);
  cl_mem cm = make_buffer(ctx, good_coords, sizeof good_coords);
  cl_mem fm = make_buffer(ctx, good_feats, sizeof good_feats);
  struct {
    int field; /* 0 ndim, 1 shape[1], 2 batch, 3 channels */
    int32_t value;
    const char *want;
  } cases[] = {
    {0, 0, "desc->ndim = 0"},         {0, 5, "desc->ndim = 5"},
    {0, -1, "desc->ndim = -1"},       {1, 0, "desc->shape[1] = 0"},
    {1, -1, "desc->shape[1] = -1"},   {2, 0, "desc->batch_size = 0"},
    {2, -3, "desc->batch_size = -3"}, {3, 0, "desc->channels = 0"},
  };
  for (size_t i = 0; i < N_OF(cases); i++) {
    clsp_tensor_desc d = good_desc();
    if (cases[i].field == 0) d.ndim = cases[i].value;
    if (cases[i].field == 1) d.shape[1] = cases[i].value;
    if (cases[i].field == 2) d.batch_size = cases[i].value;
    if (cases[i].field == 3) d.channels = (size_t)cases[i].value;
    clsp_tensor *t = (clsp_tensor *)&t;
    EXPECT(ctx, clsp_tensor_create(ctx, &d, &coords[0][0], &feats[0][0], &t),
           CLSP_ERROR_INVALID_ARGUMENT, cases[i].want);
    assert_null(t);
    EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, fm, &t), CLSP_ERROR_INVALID_ARGUMENT,
           cases[i].want);
    assert_null(t);
  }
  /* Weights: every size must be positive; the message gives all three. */
  float wv[27] = {0};
  clsp_weights *w = (clsp_weights *)&w;
  EXPECT(ctx, clsp_weights_create(ctx, 0, 3, 3, wv, NULL, &w),
         CLSP_ERROR_INVALID_ARGUMENT, "kernel_volume = 0", "must be positive");
  assert_null(w);
  EXPECT(ctx, clsp_weights_create(ctx, 3, 0, 3, wv, NULL, &w),
         CLSP_ERROR_INVALID_ARGUMENT, "c_in = 0");
  EXPECT(ctx, clsp_weights_create(ctx, 3, 3, 0, wv, NULL, &w),
         CLSP_ERROR_INVALID_ARGUMENT, "c_out = 0");
  /* A tensor on rulebook outputs with 0 channels. */
  clsp_tensor *t = good_tensor(ctx), *o = (clsp_tensor *)&o;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb),
                   CLSP_SUCCESS);
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, rb, 0, NULL, &o),
         CLSP_ERROR_INVALID_ARGUMENT, "channels = 0");
  assert_null(o);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
  assert_memory_equal(coords, good_coords, sizeof coords);
  assert_memory_equal(feats, good_feats, sizeof feats);
  expect_buffer(ctx, cm, good_coords, sizeof good_coords);
  expect_buffer(ctx, fm, good_feats, sizeof good_feats);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
  check_usable(ctx);
}

/* ---- weights vs tensor vs rulebook ---- */

static void test_channel_and_volume_mismatch(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *t = good_tensor(ctx), *out = (clsp_tensor *)&out;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb),
                   CLSP_SUCCESS);
  float *wv = calloc(27 * 4 * 5, sizeof *wv);
  assert_non_null(wv);
  clsp_weights *w = NULL;
  /* Tensor C = 3, weights c_in = 4. */
  assert_int_equal(clsp_weights_create(ctx, 9, 4, 5, wv, NULL, &w), CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "w:", "c_in = 4", "3 channels");
  assert_null(out);
  clsp_weights_destroy(w);
  /* 27 taps (a 3x3x3 kernel) against a 2D 3x3 rulebook. */
  assert_int_equal(clsp_weights_create(ctx, 27, 3, 5, wv, NULL, &w), CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH,
         "w:", "kernel_volume = 27", "9 taps");
  assert_null(out);
  clsp_weights_destroy(w);
  free(wv);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
  check_usable(ctx);
}

/* A wrapped cl_mem too small for the declared shape ("too short"). */
static void test_wrapped_buffer_too_small(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor_desc d = good_desc();
  cl_mem cm = make_buffer(ctx, good_coords, sizeof good_coords);
  cl_mem fm = make_buffer(ctx, good_feats, sizeof good_feats);
  cl_mem short_c = make_buffer(ctx, good_coords, sizeof good_coords - 4);
  cl_mem short_f = make_buffer(ctx, good_feats, 3 * 3 * sizeof(float));
  clsp_tensor *t = (clsp_tensor *)&t;
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, short_c, fm, &t), CLSP_ERROR_MISMATCH,
         "coords:", "holds 44 bytes", "needs 48");
  assert_null(t);
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, short_f, &t), CLSP_ERROR_MISMATCH,
         "feats:", "holds 36 bytes", "needs 48");
  assert_null(t);
  expect_buffer(ctx, short_c, good_coords, sizeof good_coords - 4);
  expect_buffer(ctx, short_f, good_feats, 3 * 3 * sizeof(float));
  expect_buffer(ctx, cm, good_coords, sizeof good_coords);
  expect_buffer(ctx, fm, good_feats, sizeof good_feats);
  /* The full-size buffers wrap fine. */
  assert_int_equal(clsp_tensor_wrap(ctx, &d, cm, fm, &t), CLSP_SUCCESS);
  clsp_tensor_destroy(t);
  clReleaseMemObject(cm);
  clReleaseMemObject(fm);
  clReleaseMemObject(short_c);
  clReleaseMemObject(short_f);
  check_usable(ctx);
}

/* ---- geometry ---- */

static void test_bad_geometry(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor *t = good_tensor(ctx);
  struct {
    clsp_conv_kind kind;
    clsp_conv_geometry g;
    const char *want[3];
  } cases[] = {
    {CLSP_CONV_REGULAR, {{3, 0}, {1, 1}, {0, 0}, {1, 1}}, {"axis 1", "kernel 0"}},
    {CLSP_CONV_REGULAR, {{3, 3}, {2, 0}, {0, 0}, {1, 1}}, {"axis 1", "stride 0"}},
    {CLSP_CONV_TRANSPOSED, {{3, 3}, {2, 2}, {0, 0}, {0, 1}}, {"axis 0", "dilation 0"}},
    {CLSP_CONV_REGULAR, {{3, -2}, {1, 1}, {0, 0}, {1, 1}}, {"axis 1", "kernel -2"}},
    /* Padding must stay below dilation * (kernel - 1) + 1. */
    {CLSP_CONV_REGULAR,
     {{3, 3}, {1, 1}, {0, 3}, {1, 1}},
     {"axis 1", "padding 3", "= 3)"}},
    {CLSP_CONV_SUBMANIFOLD, {{3, 3}, {1, 1}, {4, 0}, {1, 1}}, {"axis 0", "padding 4"}},
    {CLSP_CONV_TRANSPOSED, {{2, 2}, {2, 2}, {-1, 0}, {1, 1}}, {"axis 0", "padding -1"}},
    {CLSP_CONV_REGULAR,
     {{3, 3}, {1, 1}, {5, 0}, {2, 1}},
     {"axis 0", "padding 5", "= 5)"}},
  };
  for (size_t i = 0; i < N_OF(cases); i++) {
    clsp_rulebook *rb = (clsp_rulebook *)&rb;
    clsp_conv_geometry g = cases[i].g;
    for (int a = 2; a < CLSP_MAX_DIMS; a++) g.kernel[a] = g.stride[a] = g.dilation[a] = 1;
    const char *const *w = cases[i].want;
    EXPECT(ctx, clsp_rulebook_build(ctx, cases[i].kind, &g, t, &rb),
           CLSP_ERROR_INVALID_ARGUMENT, w[0], w[1] ? w[1] : w[0], w[2] ? w[2] : w[0]);
    assert_null(rb);
    int32_t in_shape[2] = {8, 8}, out_shape[4];
    assert_int_equal(clsp_conv_output_shape(cases[i].kind, 2, &g, in_shape, out_shape),
                     CLSP_ERROR_INVALID_ARGUMENT);
  }
  /* Unknown kind values. */
  clsp_conv_geometry ok = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  EXPECT(ctx, clsp_rulebook_build(ctx, (clsp_conv_kind)7, &ok, t, &rb),
         CLSP_ERROR_INVALID_ARGUMENT, "kind = 7");
  clsp_tensor_destroy(t);
  check_usable(ctx);
}

/* ---- coordinates ---- */

static void test_bad_coordinates(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  struct {
    int row, col;
    int32_t value;
    clsp_status st;
    const char *want[2];
  } cases[] = {
    {1, 1, -1, CLSP_ERROR_OUT_OF_RANGE, {"row 1", "coordinate -1"}},
    {2, 2, 8, CLSP_ERROR_OUT_OF_RANGE, {"row 2", "coordinate 8 outside [0, 8)"}},
    {3, 1, 100, CLSP_ERROR_OUT_OF_RANGE, {"row 3", "coordinate 100"}},
    {2, 0, 2, CLSP_ERROR_OUT_OF_RANGE, {"row 2", "batch index 2 outside [0, 2)"}},
    {1, 0, -1, CLSP_ERROR_OUT_OF_RANGE, {"row 1", "batch index -1"}},
    {3, 2, 1, CLSP_ERROR_DUPLICATE_COORDS, {"row 3", "duplicates row 0"}},
  };
  for (size_t i = 0; i < N_OF(cases); i++) {
    int32_t coords[4][3], copy[4][3];
    float feats[4][3];
    memcpy(coords, good_coords, sizeof coords);
    memcpy(feats, good_feats, sizeof feats);
    coords[cases[i].row][cases[i].col] = cases[i].value;
    if (cases[i].st == CLSP_ERROR_DUPLICATE_COORDS)
      memcpy(coords[3], coords[0], sizeof coords[0]);
    memcpy(copy, coords, sizeof copy);
    clsp_tensor_desc d = good_desc();
    clsp_tensor *t = (clsp_tensor *)&t;
    EXPECT(ctx, clsp_tensor_create(ctx, &d, &coords[0][0], &feats[0][0], &t), cases[i].st,
           cases[i].want[0], cases[i].want[1]);
    assert_null(t);
    assert_memory_equal(coords, copy, sizeof coords);
    assert_memory_equal(feats, good_feats, sizeof feats);
    /* The same through wrapped buffers (validated on the device). */
    cl_mem cm = make_buffer(ctx, coords, sizeof coords);
    cl_mem fm = make_buffer(ctx, feats, sizeof feats);
    char row[16];
    snprintf(row, sizeof row, "row %d", cases[i].row);
    EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, fm, &t), cases[i].st, row);
    assert_null(t);
    expect_buffer(ctx, cm, coords, sizeof coords);
    expect_buffer(ctx, fm, feats, sizeof feats);
    clReleaseMemObject(cm);
    clReleaseMemObject(fm);
  }
  check_usable(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_null_arguments),
    cmocka_unit_test(test_bad_sizes),
    cmocka_unit_test(test_channel_and_volume_mismatch),
    cmocka_unit_test(test_wrapped_buffer_too_small),
    cmocka_unit_test(test_bad_geometry),
    cmocka_unit_test(test_bad_coordinates),
  };
  return HARNESS_RUN("errors", tests, 1);
}
