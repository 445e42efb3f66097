/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_TRAIN_H
#define CLSPCONV_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Training: the backward pass of every convolution kind, sparse pooling
 * (forward and backward) and global pooling per batch item.
 *
 * Loss convention: for an output Y and an upstream gradient dY = dL/dY,
 * the backward calls return dX = dL/dX, dW = dL/dW and db = dL/db, so that
 * L = sum(Y * dY) gives exactly the adjoints of the forward.
 *
 * Every backward call reuses the forward's rulebook (it is never rebuilt)
 * and takes its gradient dY as a tensor on the rulebook's output sites: the
 * forward's output itself, or clsp_tensor_create_on_output(rb, ...) with
 * rows in the order of clsp_rulebook_download_out_coords. Any other tensor
 * gives CLSP_ERROR_MISMATCH, even with equal coordinates.
 */

/*
 * Backward pass of clsp_conv_forward(ctx, rb, in, w, ...), for all four
 * conv kinds and every geometry the forward accepts:
 *   dX[i] += W_t * dY[o]          over the rulebook's pairs (i, o, t),
 *   dW_t   = sum over tap t's pairs of X[i]^T dY[o]   (native layout),
 *   db     = sum over output rows of dY[o].
 * Takes: the forward's rulebook `rb`, input `in` and weights `w`, and
 * `d_out` (w->c_out channels on rb's output sites). Outputs, each optional
 * (NULL: not computed):
 *   `d_in`: a new tensor on in's sites (same site identity, so it can feed
 *     the backward of the layer before), w->c_in channels; every element is
 *     written (zero where no pair reaches a site);
 *   `d_weights`: host array of kernel_volume * c_in * c_out floats in the
 *     native layout [tap][c_in][c_out] (clsp_weights_convert_back gives the
 *     PyTorch and spconv layouts);
 *   `d_bias`: host array of c_out floats (computed whether or not w has a
 *     bias: db is the same sum either way).
 * The call waits for the device when d_weights or d_bias is asked for (to
 * read them back) or when `stats` (may be NULL) is given with a profiling
 * queue; stats then holds the dX pass (gather/GEMM/scatter of dY with the
 * transposed weights, and its plan counters) plus the device time of dW
 * and db in stage_ms and total_ms.
 * Dataflow: the forward's choice for this layer shape and flags (conv.h:
 * CLSP_CONV_FUSED, CLSP_CONV_GATHER_GEMM, the tuning record). Fused: dX
 * is the fused forward on the rulebook read backwards (its pair list is
 * built by the first call and kept with the rulebook), dW one pass of
 * weight-stationary kernels (a work-item per tap, 4 input and up to 16
 * output channels, summing the tap's pairs in order). Gather -> GEMM ->
 * scatter: dX as that forward, dW one GEMM of gathered rows per tap.
 * Determinism: dW and db are always bit-identical run to run (fixed
 * summation orders, no atomics). dX is too on the fused dataflow (the
 * default on CPU devices) and with the ordered scatter; the atomic
 * scatter of gather -> GEMM -> scatter (forced by CLSP_CONV_ATOMIC; the
 * default on GPUs) may differ in the last bits. CLSP_CONV_DETERMINISTIC or
 * the context flag CLSP_CONTEXT_DETERMINISTIC rule out atomics. Measured
 * on PoCL (BENCHMARKS.md), the deterministic default was the fastest:
 * fused forward + backward 0.08-0.10x of gather -> GEMM -> atomic
 * scatter, and the ordered scatter 0.64-0.76x of the atomic one. On GPUs
 * the cost was not measured.
 * Device memory: d_in, the transposed weights (one weights-sized copy),
 * the dX pass's workspace as in the forward (none when fused; the kept
 * pair list, n_in + 1 + 2 x pairs words, instead), and for dW on gather
 * -> GEMM at most workspace_bytes of gathered rows.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL rb, in, w or d_out),
 * CLSP_ERROR_MISMATCH (handles of another context, `in` not on the
 * rulebook's input sites, weights vs rulebook or channels, d_out not on
 * the rulebook's output sites or with channels != c_out),
 * CLSP_ERROR_OUT_OF_HOST_MEMORY, CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL
 * and CLBlast codes. On error *d_in is NULL and the host arrays may hold
 * partial results.
 */
CLSP_API clsp_status clsp_conv_backward(clsp_context *ctx, const clsp_rulebook *rb,
                                        const clsp_tensor *in, const clsp_weights *w,
                                        const clsp_tensor *d_out, uint32_t flags,
                                        clsp_tensor **d_in, float *d_weights,
                                        float *d_bias, clsp_conv_stats *stats);

/*
 * The inverse of clsp_weights_convert: native [tap][c_in][c_out] `src` to
 * `layout` in `dst` (e.g. a gradient for a PyTorch or spconv model).
 * Host only, no context. Errors as clsp_weights_convert.
 */
CLSP_API clsp_status clsp_weights_convert_back(clsp_weight_layout layout,
                                               size_t kernel_volume, size_t c_in,
                                               size_t c_out, const float *src,
                                               float *dst);

typedef enum clsp_pool_type {
  CLSP_POOL_MAX = 0,
  CLSP_POOL_AVG = 1,
} clsp_pool_type;

/*
 * Sparse pooling over the windows of a rulebook: output row o pools the
 * inputs i of all pairs (i, o, t). Build a REGULAR rulebook with the pool's
 * kernel, stride and padding (dilation 1) for spconv's SparseMaxPool
 * windows: the output sites are the regular conv's sites. (Any rulebook
 * works: a SUBMANIFOLD one pools around every input site.)
 *  MAX: Y[o,c] = the maximum of X[i,c] over the window's ACTIVE inputs
 *       (absent sites are not zeros: an all-negative window gives its
 *       negative maximum). Its gradient goes to the one input holding the
 *       maximum; on exact ties to the lowest input row.
 *  AVG: Y[o,c] = the mean of X[i,c] over the window's active inputs
 *       (divided by their number, not by the kernel volume); the gradient
 *       dY[o,c] / n_o goes to each of them.
 * An output with no input (possible only for hand-made rulebooks) is 0.
 * Difference from spconv 2.3.8's CPU SparseMaxPool: it returns
 * max(0, window max) (so all-negative windows give 0) and hands dY to
 * EVERY input equal to that value (tied maxima each get the full
 * gradient, zeros get it for clamped windows); both agree wherever the
 * window max is positive and unique.
 * Forward: creates `*out` on rb's output sites with in's channels.
 * Backward: `d_out` on rb's output sites with in's channels; creates
 * `*d_in` on in's sites. The max backward recomputes the arg-max from
 * `in`, so the forward's output need not be kept. Both are deterministic
 * (no atomics; fixed summation order).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, unknown type),
 * CLSP_ERROR_MISMATCH (another context, in not on rb's input sites, d_out
 * not on rb's output sites or with other channels),
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_pool_forward(clsp_context *ctx, const clsp_rulebook *rb,
                                       clsp_pool_type type, const clsp_tensor *in,
                                       clsp_tensor **out);
CLSP_API clsp_status clsp_pool_backward(clsp_context *ctx, const clsp_rulebook *rb,
                                        clsp_pool_type type, const clsp_tensor *in,
                                        const clsp_tensor *d_out, clsp_tensor **d_in);

/*
 * Global pooling per batch item: out[b][c] (host, batch_size x channels
 * floats) = the max or mean of in's features over the sites of batch item
 * b (0 for an item with no site; max ties go to the lowest row). Waits for
 * the device.
 * The backward takes d_out[b][c] (host, batch_size x channels) and creates
 * `*d_in` on in's sites: the mean's gradient d_out[b][c] / n_b on every
 * site of b, the max's to the arg-max row only.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, unknown type),
 * CLSP_ERROR_MISMATCH (another context), CLSP_ERROR_OUT_OF_DEVICE_MEMORY,
 * OpenCL codes.
 */
CLSP_API clsp_status clsp_global_pool_forward(clsp_context *ctx, clsp_pool_type type,
                                              const clsp_tensor *in, float *out);
CLSP_API clsp_status clsp_global_pool_backward(clsp_context *ctx, clsp_pool_type type,
                                               const clsp_tensor *in, const float *d_out,
                                               clsp_tensor **d_in);

#ifdef __cplusplus
}
#endif
#endif
