/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the bad-input suites (see errors_common.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errors_common.h"

/* Asserts `got` == `want` and that the context's last error contains every
 * one of the NULL-terminated substrings. */
void expect(clsp_context *ctx, clsp_status got, clsp_status want, ...) {
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

/* A fresh context on the suite's device (deterministic). */
clsp_context *second_context(void) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_DETERMINISTIC;
  clsp_context *c = NULL;
  assert_int_equal(clsp_context_create(&o, &c), CLSP_SUCCESS);
  return c;
}

/* Four 2D sites, batch 2, 8 x 8 grid; 3 channels. */
const int32_t good_coords[4][3] = {{0, 1, 1}, {0, 1, 2}, {1, 3, 3}, {0, 7, 7}};
const float good_feats[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-1, -2, -3}};
clsp_tensor_desc good_desc(void) {
  clsp_tensor_desc d = {2, {8, 8, 1, 1}, 2, 4, 3, 0};
  return d;
}

clsp_tensor *good_tensor(clsp_context *ctx) {
  clsp_tensor_desc d = good_desc();
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, &good_coords[0][0], &good_feats[0][0], &t),
                   CLSP_SUCCESS);
  return t;
}

clsp_conv_geometry geom2(int k, int s, int p) {
  clsp_conv_geometry g = {{k, k, 1, 1}, {s, s, 1, 1}, {p, p, 0, 0}, {1, 1, 1, 1}};
  return g;
}

/* The context still works: a submanifold 3x3 conv whose weights are the
 * identity on the centre tap reproduces its input; no device memory is
 * left behind. */
void check_usable(clsp_context *ctx) {
  uint64_t before = 0, after = 1;
  assert_int_equal(clsp_context_memory(ctx, &before, NULL), CLSP_SUCCESS);
  clsp_tensor *t = good_tensor(ctx), *out = NULL;
  clsp_conv_geometry g = geom2(3, 1, 1);
  clsp_rulebook *rb = NULL;
  assert_int_equal(clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &g, t, &rb),
                   CLSP_SUCCESS);
  float w[9][3][3] = {{{0}}};
  for (int c = 0; c < 3; c++) w[4][c][c] = 1.0f;
  clsp_weights *wt = NULL;
  assert_int_equal(clsp_weights_create(ctx, 9, 3, 3, &w[0][0][0], NULL, &wt),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, rb, t, wt, 0, &out, NULL), CLSP_SUCCESS);
  float got[4][3];
  int32_t coords[4][3];
  assert_int_equal(clsp_tensor_download(ctx, out, &coords[0][0], &got[0][0]),
                   CLSP_SUCCESS);
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
cl_mem make_buffer(clsp_context *ctx, const void *data, size_t bytes) {
  cl_context cl;
  assert_int_equal(clsp_context_cl(ctx, &cl, NULL, NULL), CLSP_SUCCESS);
  cl_int err;
  cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                            (void *)data, &err);
  assert_int_equal(err, CL_SUCCESS);
  return m;
}

/* The buffer still holds exactly `bytes` of `data`. */
void expect_buffer(clsp_context *ctx, cl_mem m, const void *data, size_t bytes) {
  cl_command_queue q;
  assert_int_equal(clsp_context_cl(ctx, NULL, NULL, &q), CLSP_SUCCESS);
  void *host = malloc(bytes);
  assert_non_null(host);
  assert_int_equal(clEnqueueReadBuffer(q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL),
                   CL_SUCCESS);
  assert_memory_equal(host, data, bytes);
  free(host);
}
