/* SPDX-License-Identifier: Apache-2.0 */
/* Bad inputs through the public API: every case checks the specific status,
 * that clsp_context_last_error names the argument and its value, that the
 * caller's arrays and buffers are untouched, and that the context still
 * works afterwards. Also device memory exhaustion (a clean error, no leak). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts `got` == `want` and that the context's last error contains every
 * one of the NULL-terminated substrings. */
static void expect(clsp_context *ctx, clsp_status got, clsp_status want, ...) {
  const char *msg = clsp_context_last_error(ctx);
  if (got != want)
    fail_msg("status %d (%s), expected %d (%s); last error: %s", (int)got,
             clsp_status_string(got), (int)want, clsp_status_string(want), msg);
  va_list ap;
  va_start(ap, want);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
    if (!strstr(msg, s)) fail_msg("last error '%s' does not mention '%s'", msg, s);
  va_end(ap);
}
#define EXPECT(ctx, call, want, ...) expect((ctx), (call), (want), __VA_ARGS__, (const char *)NULL)

/* A fresh context on the suite's device (deterministic). */
static clsp_context *second_context(void) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_DETERMINISTIC;
  clsp_context *c = NULL;
  assert_int_equal(clsp_context_create(&o, &c), CLSP_SUCCESS);
  return c;
}

/* Four 2D sites, batch 2, 8 x 8 grid; 3 channels. */
static const int32_t good_coords[4][3] = {{0, 1, 1}, {0, 1, 2}, {1, 3, 3}, {0, 7, 7}};
static const float good_feats[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-1, -2, -3}};
static clsp_tensor_desc good_desc(void) {
  clsp_tensor_desc d = {2, {8, 8, 1, 1}, 2, 4, 3, 0};
  return d;
}

static clsp_tensor *good_tensor(clsp_context *ctx) {
  clsp_tensor_desc d = good_desc();
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &good_coords[0][0], &good_feats[0][0], &t),
                   CLSP_SUCCESS);
  return t;
}

static clsp_conv_geometry geom2(int k, int s, int p) {
  clsp_conv_geometry g = {{k, k, 1, 1}, {s, s, 1, 1}, {p, p, 0, 0}, {1, 1, 1, 1}};
  return g;
}

/* The context still works: a submanifold 3x3 conv whose weights are the
 * identity on the centre tap reproduces its input; no device memory is
 * left behind. */
static void check_usable(clsp_context *ctx) {
  uint64_t before = 0, after = 1;
  assert_int_equal(clsp_context_memory(ctx, &before, NULL), CLSP_SUCCESS);
  clsp_tensor *t = good_tensor(ctx), *out = NULL;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb), CLSP_SUCCESS);
  float w[9][3][3] = {{{0}}};
  for (int c = 0; c < 3; c++) w[4][c][c] = 1.0f;
  clsp_weights *wt = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, &w[0][0][0], NULL, &wt), CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, rb, t, wt, 0, &out, NULL), CLSP_SUCCESS);
  float got[4][3];
  int32_t coords[4][3];
  assert_int_equal(clsp_tensor_download(ctx, out, &coords[0][0], &got[0][0]), CLSP_SUCCESS);
  assert_memory_equal(coords, good_coords, sizeof coords);
  assert_memory_equal(got, good_feats, sizeof got);
  clsp_tensor_destroy(out);
  clsp_weights_destroy(wt);
  clsp_rulebook_destroy(rb);
  clsp_tensor_destroy(t);
  assert_int_equal(clsp_context_memory(ctx, &after, NULL), CLSP_SUCCESS);
  assert_int_equal(after, before);
}

/* A caller buffer on ctx's cl_context with a copy of `bytes` from `data`. */
static cl_mem make_buffer(clsp_context *ctx, const void *data, size_t bytes) {
  cl_context cl;
  assert_int_equal(clsp_context_cl(ctx, &cl, NULL, NULL), CLSP_SUCCESS);
  cl_int err;
  cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                            (void *)data, &err);
  assert_int_equal(err, CL_SUCCESS);
  return m;
}

/* The buffer still holds exactly `bytes` of `data`. */
static void expect_buffer(clsp_context *ctx, cl_mem m, const void *data, size_t bytes) {
  cl_command_queue q;
  assert_int_equal(clsp_context_cl(ctx, NULL, NULL, &q), CLSP_SUCCESS);
  void *host = malloc(bytes);
  assert_non_null(host);
  assert_int_equal(clEnqueueReadBuffer(q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL),
                   CL_SUCCESS);
  assert_memory_equal(host, data, bytes);
  free(host);
}

/* ---- NULL pointers and handles ---- */

static void test_null_arguments(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  clsp_tensor_desc d = good_desc();
  clsp_tensor *t = good_tensor(ctx), *out = (clsp_tensor *)&out;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL, *rbo = (clsp_rulebook *)&rbo;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb), CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL, *wo = (clsp_weights *)&wo;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);

  /* No context: nothing to record the message on. */
  assert_int_equal(clsp_tensor_create(NULL, &d, &good_coords[0][0], NULL, &out),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_wrap(NULL, &d, NULL, NULL, &out), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_build(NULL, CLSP_CONV_SUBMANIFOLD, &g, t, &rbo),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_rulebook_inverse(NULL, rb, &rbo), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_weights_create(NULL, 9, 3, 3, wv, NULL, &wo),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_conv_forward(NULL, rb, t, w, 0, &out, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tensor_download(NULL, t, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
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
    assert_int_equal(clsp_context_wrap(cl, dev, NULL, NULL, &w2), CLSP_ERROR_INVALID_ARGUMENT);
    assert_null(w2);
    assert_int_equal(clsp_context_wrap(cl, NULL, q, NULL, &w2), CLSP_ERROR_INVALID_ARGUMENT);
    assert_int_equal(clsp_context_wrap(cl, dev, q, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
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
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rb, NULL), CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  EXPECT(ctx, clsp_rulebook_download(ctx, NULL, NULL, NULL, NULL),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  int32_t oc[4][3];
  EXPECT(ctx, clsp_rulebook_download_out_coords(ctx, NULL, &oc[0][0]),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  EXPECT(ctx, clsp_rulebook_download_out_coords(ctx, rb, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "coords: NULL");
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, NULL, 3, NULL, &out),
         CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  EXPECT(ctx, clsp_weights_create(ctx, 9, 3, 3, NULL, NULL, &wo), CLSP_ERROR_INVALID_ARGUMENT,
         "weights: NULL");
  assert_null(wo);
  EXPECT(ctx, clsp_weights_create(ctx, 9, 3, 3, wv, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "out: NULL");
  EXPECT(ctx, clsp_conv_forward(ctx, rb, NULL, w, 0, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "in: NULL");
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, NULL, 0, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "w: NULL");
  EXPECT(ctx, clsp_relu(ctx, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT, "t: NULL");
  EXPECT(ctx, clsp_add(ctx, t, NULL, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT, "b: NULL");
  EXPECT(ctx, clsp_add(ctx, NULL, t, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT, "a: NULL");
  EXPECT(ctx, clsp_concat(ctx, t, t, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  EXPECT(ctx, clsp_concat(ctx, t, NULL, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT, "b: NULL");
  EXPECT(ctx, clsp_scale_shift(ctx, NULL, NULL, NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "t: NULL");
  clsp_voxelize_options vo;
  assert_int_equal(clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &vo), CLSP_SUCCESS);
  EXPECT(ctx, clsp_voxelize_buffer(ctx, &vo, NULL, 4, &out, NULL), CLSP_ERROR_INVALID_ARGUMENT,
         "points: NULL");

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
    {0, 0, "desc->ndim = 0"},       {0, 5, "desc->ndim = 5"},
    {0, -1, "desc->ndim = -1"},     {1, 0, "desc->shape[1] = 0"},
    {1, -1, "desc->shape[1] = -1"}, {2, 0, "desc->batch_size = 0"},
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
  EXPECT(ctx, clsp_weights_create(ctx, 0, 3, 3, wv, NULL, &w), CLSP_ERROR_INVALID_ARGUMENT,
         "kernel_volume = 0", "must be positive");
  assert_null(w);
  EXPECT(ctx, clsp_weights_create(ctx, 3, 0, 3, wv, NULL, &w), CLSP_ERROR_INVALID_ARGUMENT,
         "c_in = 0");
  EXPECT(ctx, clsp_weights_create(ctx, 3, 3, 0, wv, NULL, &w), CLSP_ERROR_INVALID_ARGUMENT,
         "c_out = 0");
  /* A tensor on rulebook outputs with 0 channels. */
  clsp_tensor *t = good_tensor(ctx), *o = (clsp_tensor *)&o;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb), CLSP_SUCCESS);
  EXPECT(ctx, clsp_tensor_create_on_output(ctx, rb, 0, NULL, &o), CLSP_ERROR_INVALID_ARGUMENT,
         "channels = 0");
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
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb), CLSP_SUCCESS);
  float *wv = calloc(27 * 4 * 5, sizeof *wv);
  assert_non_null(wv);
  clsp_weights *w = NULL;
  /* Tensor C = 3, weights c_in = 4. */
  assert_int_equal(clsp_weights_create(ctx, 9, 4, 5, wv, NULL, &w), CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH, "w:",
         "c_in = 4", "3 channels");
  assert_null(out);
  clsp_weights_destroy(w);
  /* 27 taps (a 3x3x3 kernel) against a 2D 3x3 rulebook. */
  assert_int_equal(clsp_weights_create(ctx, 27, 3, 5, wv, NULL, &w), CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH, "w:",
         "kernel_volume = 27", "9 taps");
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
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, short_c, fm, &t), CLSP_ERROR_MISMATCH, "coords:",
         "holds 44 bytes", "needs 48");
  assert_null(t);
  EXPECT(ctx, clsp_tensor_wrap(ctx, &d, cm, short_f, &t), CLSP_ERROR_MISMATCH, "feats:",
         "holds 36 bytes", "needs 48");
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
    {CLSP_CONV_REGULAR, {{3, 3}, {1, 1}, {0, 3}, {1, 1}}, {"axis 1", "padding 3", "= 3)"}},
    {CLSP_CONV_SUBMANIFOLD, {{3, 3}, {1, 1}, {4, 0}, {1, 1}}, {"axis 0", "padding 4"}},
    {CLSP_CONV_TRANSPOSED, {{2, 2}, {2, 2}, {-1, 0}, {1, 1}}, {"axis 0", "padding -1"}},
    {CLSP_CONV_REGULAR, {{3, 3}, {1, 1}, {5, 0}, {2, 1}}, {"axis 0", "padding 5", "= 5)"}},
  };
  for (size_t i = 0; i < N_OF(cases); i++) {
    clsp_rulebook *rb = (clsp_rulebook *)&rb;
    clsp_conv_geometry g = cases[i].g;
    for (int a = 2; a < CLSP_MAX_DIMS; a++)
      g.kernel[a] = g.stride[a] = g.dilation[a] = 1;
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
    if (cases[i].st == CLSP_ERROR_DUPLICATE_COORDS) memcpy(coords[3], coords[0], sizeof coords[0]);
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
    assert_int_equal(clsp_conv_forward(ctx, rb, t, kinds[i].w, CLSP_CONV_DETERMINISTIC, &out,
                                       NULL),
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
  assert_int_equal(clsp_conv_forward(ctx, inv, reg_out, wiv, 0, &back, NULL), CLSP_SUCCESS);
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
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &k, g, &rb), CLSP_SUCCESS);
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
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, a, &rb), CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);
  /* Same coordinates, other site set. */
  EXPECT(ctx, clsp_conv_forward(ctx, rb, b, w, 0, &out, NULL), CLSP_ERROR_MISMATCH, "in:",
         "4 sites", "not on the sites");
  assert_null(out);
  /* Fewer sites. */
  clsp_tensor_desc d = good_desc();
  d.n_sites = 3;
  clsp_tensor *c = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &good_coords[0][0], NULL, &c), CLSP_SUCCESS);
  EXPECT(ctx, clsp_conv_forward(ctx, rb, c, w, 0, &out, NULL), CLSP_ERROR_MISMATCH, "in:",
         "3 sites");
  /* Ops refuse tensors not on the same sites. */
  EXPECT(ctx, clsp_add(ctx, a, b, 0, NULL), CLSP_ERROR_MISMATCH, "b:", "not on the sites");
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
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &rs), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, t, &rr), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_TRANSPOSED, &up, t, &rt), CLSP_SUCCESS);
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rs, &inv), CLSP_ERROR_INVALID_ARGUMENT, "regular:",
         "kind 0");
  assert_null(inv);
  EXPECT(ctx, clsp_rulebook_inverse(ctx, rt, &inv), CLSP_ERROR_INVALID_ARGUMENT, "regular:",
         "kind 2");
  assert_int_equal(clsp_rulebook_inverse(ctx, rr, &inv), CLSP_SUCCESS);
  /* An inverse of an inverse is not a regular conv either. */
  clsp_rulebook *inv2 = (clsp_rulebook *)&inv2;
  EXPECT(ctx, clsp_rulebook_inverse(ctx, inv, &inv2), CLSP_ERROR_INVALID_ARGUMENT, "kind 3");
  assert_null(inv2);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *w = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, wv, NULL, &w), CLSP_SUCCESS);
  /* The inverse takes the regular conv's output, not its input. */
  EXPECT(ctx, clsp_conv_forward(ctx, inv, t, w, 0, &out, NULL), CLSP_ERROR_MISMATCH, "in:",
         "not on the sites");
  assert_null(out);
  clsp_tensor *down_out = NULL, *back = NULL;
  assert_int_equal(clsp_conv_forward(ctx, rr, t, w, 0, &down_out, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, inv, down_out, w, 0, &back, NULL), CLSP_SUCCESS);
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
  assert_int_equal(clsp_rulebook_build(a, CLSP_CONV_SUBMANIFOLD, &g, ta, &ra), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(a, CLSP_CONV_REGULAR, &down, ta, &rra), CLSP_SUCCESS);
  assert_int_equal(clsp_rulebook_build(b, CLSP_CONV_SUBMANIFOLD, &g, tb, &rb), CLSP_SUCCESS);
  float wv[9 * 3 * 3] = {0};
  clsp_weights *wa = NULL, *wb = NULL;
  assert_int_equal(clsp_weights_create(a, 9, 3, 3, wv, NULL, &wa), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(b, 9, 3, 3, wv, NULL, &wb), CLSP_SUCCESS);

  EXPECT(b, clsp_rulebook_build(b, CLSP_CONV_SUBMANIFOLD, &g, ta, &x), CLSP_ERROR_MISMATCH,
         "in:", "another context");
  assert_null(x);
  EXPECT(b, clsp_conv_forward(b, ra, tb, wb, 0, &out, NULL), CLSP_ERROR_MISMATCH, "rb:",
         "another context");
  assert_null(out);
  EXPECT(b, clsp_conv_forward(b, rb, ta, wb, 0, &out, NULL), CLSP_ERROR_MISMATCH, "in:",
         "another context");
  EXPECT(b, clsp_conv_forward(b, rb, tb, wa, 0, &out, NULL), CLSP_ERROR_MISMATCH, "w:",
         "another context");
  EXPECT(b, clsp_rulebook_inverse(b, rra, &x), CLSP_ERROR_MISMATCH, "regular:",
         "another context");
  EXPECT(b, clsp_tensor_create_on_output(b, ra, 3, NULL, &out), CLSP_ERROR_MISMATCH, "rb:",
         "another context");
  assert_null(out);
  uint32_t start[10];
  int32_t oc[4][3];
  EXPECT(b, clsp_rulebook_download(b, ra, start, NULL, NULL), CLSP_ERROR_MISMATCH, "rb:");
  EXPECT(b, clsp_rulebook_download_out_coords(b, ra, &oc[0][0]), CLSP_ERROR_MISMATCH, "rb:");
  float f[4][3];
  EXPECT(b, clsp_tensor_download(b, ta, NULL, &f[0][0]), CLSP_ERROR_MISMATCH, "t:");
  EXPECT(b, clsp_relu(b, ta, NULL), CLSP_ERROR_MISMATCH, "t:", "another context");
  EXPECT(b, clsp_add(b, tb, ta, 0, NULL), CLSP_ERROR_MISMATCH, "b:", "another context");
  EXPECT(b, clsp_concat(b, ta, tb, &out, NULL), CLSP_ERROR_MISMATCH, "a:", "another context");
  EXPECT(b, clsp_scale_shift(b, ta, NULL, NULL, NULL), CLSP_ERROR_MISMATCH, "t:");

  /* Buffers of B's cl_context wrapped into A. */
  clsp_tensor_desc d = good_desc();
  cl_mem cm = make_buffer(b, good_coords, sizeof good_coords);
  cl_mem fm = make_buffer(b, good_feats, sizeof good_feats);
  cl_mem cma = make_buffer(a, good_coords, sizeof good_coords);
  EXPECT(a, clsp_tensor_wrap(a, &d, cm, fm, &out), CLSP_ERROR_MISMATCH, "coords:",
         "another cl_context");
  assert_null(out);
  EXPECT(a, clsp_tensor_wrap(a, &d, cma, fm, &out), CLSP_ERROR_MISMATCH, "feats:",
         "another cl_context");
  float pts[4][4] = {{0}};
  cl_mem pm = make_buffer(b, pts, sizeof pts);
  clsp_voxelize_options vo;
  assert_int_equal(clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &vo), CLSP_SUCCESS);
  EXPECT(a, clsp_voxelize_buffer(a, &vo, pm, 4, &out, NULL), CLSP_ERROR_MISMATCH, "points:",
         "another cl_context");
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
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &k, g, &rb), CLSP_SUCCESS);
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
    cmocka_unit_test(test_null_arguments),
    cmocka_unit_test(test_bad_sizes),
    cmocka_unit_test(test_channel_and_volume_mismatch),
    cmocka_unit_test(test_wrapped_buffer_too_small),
    cmocka_unit_test(test_bad_geometry),
    cmocka_unit_test(test_bad_coordinates),
    cmocka_unit_test(test_empty_tensor),
    cmocka_unit_test(test_too_large),
    cmocka_unit_test(test_rulebook_other_tensor),
    cmocka_unit_test(test_inverse_without_regular),
    cmocka_unit_test(test_cross_context),
    cmocka_unit_test(test_out_of_device_memory),
  };
  return HARNESS_RUN("errors", tests, 1);
}
