/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the bad-input suites (test_errors.c: arguments, sizes,
 * geometry, coordinates; test_errors_handles.c: empty and too-large
 * tensors, handles that do not belong together, memory exhaustion). */
#ifndef CLSP_TEST_ERRORS_COMMON_H
#define CLSP_TEST_ERRORS_COMMON_H

#include "harness.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts `got` == `want` and that the context's last error contains every
 * one of the NULL-terminated substrings. */
void expect(clsp_context *ctx, clsp_status got, clsp_status want, ...);
#define EXPECT(ctx, call, want, ...)                                                     \
  expect((ctx), (call), (want), __VA_ARGS__, (const char *)NULL)

/* A fresh context on the suite's device (deterministic). */
clsp_context *second_context(void);

/* Four 2D sites, batch 2, 8 x 8 grid; 3 channels. */
extern const int32_t good_coords[4][3];
extern const float good_feats[4][3];
clsp_tensor_desc good_desc(void);
clsp_tensor *good_tensor(clsp_context *ctx);
/* 2D geometry: kernel k, stride s, padding p on both axes. */
clsp_conv_geometry geom2(int k, int s, int p);

/* The context still works and has no device memory left behind. */
void check_usable(clsp_context *ctx);

/* A caller buffer on ctx's cl_context with a copy of `bytes` from `data`. */
cl_mem make_buffer(clsp_context *ctx, const void *data, size_t bytes);
/* The buffer still holds exactly `bytes` of `data`. */
void expect_buffer(clsp_context *ctx, cl_mem m, const void *data, size_t bytes);

#endif
