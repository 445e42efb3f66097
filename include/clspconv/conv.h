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
 * and `bias` (c_out floats, or NULL for none). For transposed and inverse
 * convs W_t is also [c_in][c_out]: the rulebook's pairs already say which
 * tap connects which input to which output (convert PyTorch
 * ConvTranspose weights with CLSP_LAYOUT_TORCH_TRANSPOSED).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, zero sizes),
 * CLSP_ERROR_TOO_LARGE, CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_weights_create(clsp_context *ctx, size_t kernel_volume,
                                         size_t c_in, size_t c_out, const float *weights,
                                         const float *bias, clsp_weights **out);
CLSP_API void clsp_weights_destroy(clsp_weights *w);

/* Layouts the converters read. */
typedef enum clsp_weight_layout {
  CLSP_LAYOUT_NATIVE = 0,           /* [k...][Cin][Cout] */
  CLSP_LAYOUT_TORCH_CONV = 1,       /* PyTorch Conv{1,2,3}d: [Cout][Cin][k...] */
  CLSP_LAYOUT_TORCH_TRANSPOSED = 2, /* PyTorch ConvTranspose: [Cin][Cout][k...] */
  CLSP_LAYOUT_SPCONV = 3,           /* spconv 2.x: [Cout][k...][Cin] */
} clsp_weight_layout;

/*
 * Converts `src` in `layout` to native layout in `dst` (kernel_volume *
 * c_in * c_out floats; must not overlap src). Host only, no context.
 * Kernel dims are row-major, first axis slowest, in every layout (as
 * PyTorch and spconv store them), so tap t is the same in all.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, zero or too large sizes,
 * unknown layout, overlapping buffers).
 */
CLSP_API clsp_status clsp_weights_convert(clsp_weight_layout layout, size_t kernel_volume,
                                          size_t c_in, size_t c_out, const float *src,
                                          float *dst);

/* Stages of a convolution, for timings. */
typedef enum clsp_stage {
  CLSP_STAGE_RULEBOOK = 0,
  CLSP_STAGE_GATHER = 1,
  CLSP_STAGE_GEMM = 2,
  CLSP_STAGE_SCATTER = 3,
  CLSP_STAGE_OTHER = 4, /* bias, zero fill, copies */
  CLSP_STAGE_COUNT = 5,
} clsp_stage;

CLSP_API const char *clsp_stage_name(clsp_stage stage);

enum clsp_conv_flag {
  /* Bit-identical output run to run for this call (the context flag
   * CLSP_CONTEXT_DETERMINISTIC sets it for every call). Wins over
   * CLSP_CONV_ATOMIC. */
  CLSP_CONV_DETERMINISTIC = 1u << 0,
  /* Scatter with float atomics even where the ordered scatter is the
   * default (CPU devices without native float atomic add). */
  CLSP_CONV_ATOMIC = 1u << 1,
  /* Dataflow of this call (docs/performance.md), overriding the context's
   * tuning record (the device's default, or per layer-shape class a stored
   * `clsp tune` choice: clspconv/tuning.h) and the environment variable
   * CLSP_CONV_DATAFLOW=fused|gemm.
   * FUSED: one kernel per output-channel slice accumulates each output
   * row over its (tap, input row) list in registers and writes it once
   * (no workspace, no atomics, deterministic). GATHER_GEMM: gather ->
   * batched CLBlast GEMM -> scatter (the only one with atomic scatter:
   * CLSP_CONV_ATOMIC implies it). FUSED wins when both are set. */
  CLSP_CONV_FUSED = 1u << 2,
  CLSP_CONV_GATHER_GEMM = 1u << 3,
};

/* Activation of a convolution's epilogue (clsp_conv_epilogue) and of a
 * model's nodes (model.h). */
typedef enum clsp_activation {
  CLSP_ACTIVATION_NONE = 0,
  CLSP_ACTIVATION_RELU = 1,       /* max(x, 0) */
  CLSP_ACTIVATION_SIGMOID = 2,    /* 1 / (1 + exp(-x)) */
  CLSP_ACTIVATION_LEAKY_RELU = 3, /* x < 0 ? alpha x : x */
} clsp_activation;

/* What clsp_conv_forward_epilogue does to each output element after the
 * bias: out = activation(conv + bias + residual). A zeroed struct is the
 * plain convolution. */
typedef struct clsp_conv_epilogue {
  const clsp_tensor *residual; /* NULL, or c_out channels on the conv's
                                  output sites (the same site set: for a
                                  submanifold conv, its input's sites) */
  clsp_activation activation;
  float alpha; /* LEAKY_RELU slope */
} clsp_conv_epilogue;

/* What a convolution call did: filled when passed to clsp_conv_forward.
 * Taps are grouped by pair count (1 - min/max <= 0.25 within a group) and
 * each group runs as batched GEMMs padded to its largest member, so
 * gemm_rows - pair_rows is the padding (at most a third of pair_rows). */
typedef struct clsp_conv_stats {
  double stage_ms[CLSP_STAGE_COUNT]; /* device time per stage; requires a
                                        profiling queue, else all 0. GEMM
                                        counts from the end of the previous
                                        command (CLBlast reports only its
                                        last kernel); RULEBOOK stays 0 */
  double total_ms;                   /* device time of the call, first
                                        command's start to last one's end */
  size_t gemm_groups;                /* tap groups (a submanifold centre tap
                                        done as one plain GEMM counts one) */
  size_t gemm_rows;                  /* rows multiplied, padding included */
  size_t pair_rows;                  /* real pairs multiplied */
  size_t chunks;                     /* batched GEMM calls over the
                                        workspace: equals the number of
                                        groups (centre excluded) unless
                                        workspace_bytes forced splitting */
  int atomic;                        /* 1: atomic scatter ran, 0: ordered */
  int fused;                         /* 1: the fused dataflow ran: its
                                        kernels count as GEMM time, the
                                        output-major pair list it builds
                                        as OTHER; gemm_rows = pair_rows,
                                        no groups, chunks or scatter */
} clsp_conv_stats;

/*
 * out[o] = bias + sum over the rulebook's pairs (i, o, t) of
 * W_t^T * in[i], at the rulebook's output sites (a dense PyTorch
 * convolution evaluated there, absent inputs being zero).
 * `in` must be the tensor (or a tensor on the same sites) the rulebook
 * was built for — the inverse rulebook's input is its regular conv's
 * output. Creates `*out` with c_out channels on the output sites (its own
 * copy of the rulebook's output coordinates: the rulebook may be
 * destroyed first); every output element is written (bias or zero, then
 * the taps added).
 * Everything is enqueued on the context's queue; the call returns without
 * waiting, except that CLBlast may block internally, and that `stats` with
 * timings (profiling queue) waits for the call's last command. `stats`
 * may be NULL.
 * Device memory: the output, plus a workspace of at most the context's
 * workspace_bytes for gathered rows and GEMM results (large layers run in
 * chunks), plus, when grouped taps are not consecutive, one weights-sized
 * copy of the weights in group order.
 * Dataflows: gather -> GEMM -> scatter as above, or fused (see
 * CLSP_CONV_FUSED; the default on CPU devices, where it measured several
 * times faster, docs/performance.md; the context's tuning record may
 * choose per layer-shape class, clspconv/tuning.h); stats->fused says
 * which ran. The
 * fused dataflow needs no workspace, only the output-major pair list
 * (n_out + 1 + 2 x pairs 32-bit words), built on the device by the first
 * fused call on a rulebook and kept with the rulebook (freed by
 * clsp_rulebook_destroy) for later calls on it.
 * Scatter modes (gather -> GEMM -> scatter only). Atomic: GEMM results are added with float atomics
 * (native cl_ext_float_atomics add where available, else a 32-bit
 * compare-and-swap loop); the summation order, hence the last bits, may
 * vary run to run. Ordered: taps are added one after another in a fixed
 * order without atomics (within a tap every output row appears once):
 * bit-identical run to run on the same device and workspace size.
 * The default is atomic on GPUs, accelerators and devices with native
 * float atomic add, and ordered on CPU devices without it, where the
 * compare-and-swap loop measured 5-10x slower than plain adds (PoCL).
 * CLSP_CONV_DETERMINISTIC (or the context flag) forces ordered,
 * CLSP_CONV_ATOMIC forces atomic; stats->atomic says which ran.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL), CLSP_ERROR_MISMATCH
 * (channels vs weights, kernel volume vs rulebook, tensor vs rulebook),
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL and CLBlast codes.
 */
CLSP_API clsp_status clsp_conv_forward(clsp_context *ctx, const clsp_rulebook *rb,
                                       const clsp_tensor *in, const clsp_weights *w,
                                       uint32_t flags, clsp_tensor **out,
                                       clsp_conv_stats *stats);

/*
 * clsp_conv_forward, then the epilogue `ep` (may be NULL: none) on every
 * output element: out = activation(conv + bias + residual), the residual
 * added before the activation (a ResNet block's "add, then ReLU"). The
 * fused dataflow applies it in the convolution kernels' epilogue, before
 * each output is written, so it costs no pass over memory; gather -> GEMM
 * -> scatter runs it as elementwise passes after the scatter (counted as
 * CLSP_STAGE_OTHER). Both give the results of clsp_conv_forward followed
 * by clsp_add and the activation's own call (ops.h): bit for bit for
 * ReLU and leaky ReLU, within float rounding of exp for sigmoid.
 * `ep->residual` is only read.
 * Errors: those of clsp_conv_forward; CLSP_ERROR_MISMATCH (the residual
 * not on the output sites, other channels or another context),
 * CLSP_ERROR_INVALID_ARGUMENT (an activation outside clsp_activation).
 */
CLSP_API clsp_status clsp_conv_forward_epilogue(
  clsp_context *ctx, const clsp_rulebook *rb, const clsp_tensor *in,
  const clsp_weights *w, uint32_t flags, const clsp_conv_epilogue *ep, clsp_tensor **out,
  clsp_conv_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
