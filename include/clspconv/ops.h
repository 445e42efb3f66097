/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_OPS_H
#define CLSPCONV_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Elementwise operations on sparse tensors' features, on the device. Two
 * tensors "on the same sites" have the same site set in the same order:
 * a convolution's output and the tensors of its rulebook's output sites,
 * a submanifold conv's input and output, an inverse conv's output and its
 * regular conv's input (same site identity; other pairs give
 * CLSP_ERROR_MISMATCH even if their coordinates happen to be equal).
 *
 * `device_ms` (may be NULL) receives the call's device time when the
 * context has a profiling queue (the call then waits for the device),
 * else 0. Errors common to all: CLSP_ERROR_INVALID_ARGUMENT (NULL),
 * CLSP_ERROR_MISMATCH (tensor of another context), OpenCL codes.
 */

/* t = max(t, 0), in place. */
CLSP_API clsp_status clsp_relu(clsp_context *ctx, clsp_tensor *t,
                               double *device_ms);

/* a += b (then max(a, 0) with `relu` != 0), in place on a: the residual
 * add. Errors also: CLSP_ERROR_MISMATCH (not the same sites, different
 * channels). */
CLSP_API clsp_status clsp_add(clsp_context *ctx, clsp_tensor *a,
                              const clsp_tensor *b, int relu,
                              double *device_ms);

/* A new tensor on the sites of a and b with a's channels followed by b's
 * (channel concatenation, as torch.cat(dim=1)). Errors also:
 * CLSP_ERROR_MISMATCH (not the same sites), CLSP_ERROR_TOO_LARGE,
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY. `*out` is NULL on error. */
CLSP_API clsp_status clsp_concat(clsp_context *ctx, const clsp_tensor *a,
                                 const clsp_tensor *b, clsp_tensor **out,
                                 double *device_ms);

/* y = x * scale[c] + shift[c] per channel c, in place: a folded batch
 * norm (scale = gamma / sqrt(var + eps), shift = beta - mean * scale).
 * `scale` and `shift` are host arrays of the tensor's channel count;
 * either may be NULL (1 and 0). */
CLSP_API clsp_status clsp_scale_shift(clsp_context *ctx, clsp_tensor *t,
                                      const float *scale, const float *shift,
                                      double *device_ms);

#ifdef __cplusplus
}
#endif
#endif
