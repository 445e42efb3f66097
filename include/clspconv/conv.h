/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_CONV_H
#define CLSPCONV_CONV_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/rulebook.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Weights in native layout [kernel_volume][c_in][c_out] (taps row-major,
 * first axis slowest, as in clsp_conv_geometry), float32, plus an optional
 * bias of c_out values. Uploaded once, reusable across calls.
 */
typedef struct clsp_weights clsp_weights;

/*
 * Uploads `weights` (kernel_volume * c_in * c_out floats, native layout)
 * and `bias` (c_out floats, or NULL for none).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, zero sizes),
 * CLSP_ERROR_TOO_LARGE, CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_weights_create(clsp_context *ctx,
                                         size_t kernel_volume, size_t c_in,
                                         size_t c_out, const float *weights,
                                         const float *bias,
                                         clsp_weights **out);
CLSP_API void clsp_weights_destroy(clsp_weights *w);

/* Layouts the converters read. */
typedef enum clsp_weight_layout {
  CLSP_LAYOUT_NATIVE = 0,          /* [k...][Cin][Cout] */
  CLSP_LAYOUT_TORCH_CONV = 1,      /* PyTorch Conv{1,2,3}d: [Cout][Cin][k...] */
  CLSP_LAYOUT_TORCH_TRANSPOSED = 2,/* PyTorch ConvTranspose: [Cin][Cout][k...] */
  CLSP_LAYOUT_SPCONV = 3,          /* spconv 2.x: [Cout][k...][Cin] */
} clsp_weight_layout;

/*
 * Converts `src` in `layout` to native layout in `dst` (kernel_volume *
 * c_in * c_out floats; must not overlap src). Host only, no context.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT.
 */
CLSP_API clsp_status clsp_weights_convert(clsp_weight_layout layout,
                                          size_t kernel_volume, size_t c_in,
                                          size_t c_out, const float *src,
                                          float *dst);

/* Stages of a convolution, for timings. */
typedef enum clsp_stage {
  CLSP_STAGE_RULEBOOK = 0,
  CLSP_STAGE_GATHER = 1,
  CLSP_STAGE_GEMM = 2,
  CLSP_STAGE_SCATTER = 3,
  CLSP_STAGE_OTHER = 4,   /* bias, zero fill, copies */
  CLSP_STAGE_COUNT = 5,
} clsp_stage;

CLSP_API const char *clsp_stage_name(clsp_stage stage);

enum clsp_conv_flag {
  /* Bit-identical output run to run for this call (the context flag
   * CLSP_CONTEXT_DETERMINISTIC sets it for every call). */
  CLSP_CONV_DETERMINISTIC = 1u << 0,
};

/* What a convolution call did: filled when passed to clsp_conv_forward. */
typedef struct clsp_conv_stats {
  double stage_ms[CLSP_STAGE_COUNT]; /* device time per stage; requires a
                                        profiling queue, else all 0 */
  double total_ms;                   /* device time of the call */
  size_t gemm_groups;                /* batched GEMM calls */
  size_t gemm_rows;                  /* rows multiplied, padding included */
  size_t pair_rows;                  /* real pairs multiplied */
  size_t chunks;                     /* workspace chunks used */
} clsp_conv_stats;

/*
 * out[o] = bias + sum over the rulebook's pairs (i, o, t) of
 * W_t^T * in[i], at the rulebook's output sites (a dense PyTorch
 * convolution evaluated there, absent inputs being zero).
 * `in` must be the tensor (or a tensor on the same sites) the rulebook
 * was built for — the inverse rulebook's input is its regular conv's
 * output. Creates `*out` with c_out channels on the output sites.
 * `stats` may be NULL.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL), CLSP_ERROR_MISMATCH
 * (channels vs weights, kernel volume vs rulebook, tensor vs rulebook),
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL and CLBlast codes.
 */
CLSP_API clsp_status clsp_conv_forward(clsp_context *ctx,
                                       const clsp_rulebook *rb,
                                       const clsp_tensor *in,
                                       const clsp_weights *w, uint32_t flags,
                                       clsp_tensor **out,
                                       clsp_conv_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
