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
CLSP_API clsp_status clsp_relu(clsp_context *ctx, clsp_tensor *t, double *device_ms);

/* a += b (then max(a, 0) with `relu` != 0), in place on a: the residual
 * add. Errors also: CLSP_ERROR_MISMATCH (not the same sites, different
 * channels). */
CLSP_API clsp_status clsp_add(clsp_context *ctx, clsp_tensor *a, const clsp_tensor *b,
                              int relu, double *device_ms);

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

/* t = 1 / (1 + exp(-t)), in place. */
CLSP_API clsp_status clsp_sigmoid(clsp_context *ctx, clsp_tensor *t, double *device_ms);

/* t = t < 0 ? alpha * t : t, in place (PyTorch LeakyReLU). */
CLSP_API clsp_status clsp_leaky_relu(clsp_context *ctx, clsp_tensor *t, float alpha,
                                     double *device_ms);

/* t = t rounded to the nearest float16 value (ties to even; magnitudes
 * from 65520 up become +-inf; subnormals kept), in place, stored as
 * float32: what a float16 input holds (clsp_model rounds a declared
 * FLOAT16 input so). On the device (vstore_half_rte, core OpenCL 1.2). */
CLSP_API clsp_status clsp_round_half(clsp_context *ctx, clsp_tensor *t,
                                     double *device_ms);

/* A new tensor with t's sites (same site identity, so it can join t's
 * rulebooks and adds) and a copy of its features. Errors also:
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY. `*out` is NULL on error. */
CLSP_API clsp_status clsp_tensor_copy(clsp_context *ctx, const clsp_tensor *t,
                                      clsp_tensor **out);

/* Axis orders of a dense tensor made from a sparse one. */
typedef enum clsp_dense_format {
  CLSP_DENSE_AXES_IN_ORDER = 0, /* [B, C, s0, s1, ...]: spatial axes in the
                                   tensor's order ("zyx" for (b, z, y, x)) */
  CLSP_DENSE_AXES_REVERSED = 1, /* [B, C, ..., s1, s0] ("xyz") */
} clsp_dense_format;

/* Bytes of the dense float32 tensor of t (batch_size x channels x every
 * spatial extent x 4): what clsp_scatter_dense needs. Host only.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL), CLSP_ERROR_TOO_LARGE. */
CLSP_API clsp_status clsp_dense_bytes(const clsp_tensor *t, size_t *bytes);

/*
 * Writes t as a dense float32 tensor [batch_size, channels, spatial axes
 * in `format` order] into the caller's buffer `dense` (on the context,
 * at least clsp_dense_bytes): zeros, then every site's features (spconv's
 * SparseConvTensor.dense(), libspconv's ScatterDense). Asynchronous unless
 * device_ms is given. Errors also: CLSP_ERROR_INVALID_ARGUMENT (unknown
 * format, NULL buffer), CLSP_ERROR_MISMATCH (buffer too small),
 * CLSP_ERROR_TOO_LARGE (more than 2^32 - 1 sites x channels).
 */
CLSP_API clsp_status clsp_scatter_dense(clsp_context *ctx, const clsp_tensor *t,
                                        clsp_dense_format format, cl_mem dense,
                                        double *device_ms);

/*
 * out = in with its axes permuted (numpy.transpose(in, perm)): `in` holds
 * the row-major float32 tensor of `ndims` (1..8) axes `dims`; output axis
 * k is input axis perm[k]; `out` (another buffer, same size) receives it.
 * Errors also: CLSP_ERROR_INVALID_ARGUMENT (NULL, ndims, a dim < 1, perm
 * not a permutation, out == in), CLSP_ERROR_TOO_LARGE (2^32 elements or
 * more), CLSP_ERROR_MISMATCH (a buffer too small).
 */
CLSP_API clsp_status clsp_dense_permute(clsp_context *ctx, cl_mem in, int ndims,
                                        const int64_t *dims, const int *perm, cl_mem out,
                                        double *device_ms);

#ifdef __cplusplus
}
#endif
#endif
