/* SPDX-License-Identifier: Apache-2.0 */
/* The stages of a sparse convolution forward pass (gather -> GEMM ->
 * scatter) and the plan that conv.c builds for them. Not installed. */
#ifndef CLSP_CONV_STAGES_H
#define CLSP_CONV_STAGES_H

#include "pipeline.h"

struct clsp_weights {
  clsp_context *ctx;
  size_t kernel_volume, c_in, c_out;
  cl_mem weights; /* kernel_volume x c_in x c_out float */
  cl_mem bias;    /* c_out float, or NULL */
  int half;       /* weights stored as float16 (bias stays float) */
};

/* t (argument `name` in messages) lies on rb's output sites with w's
 * c_out channels, in ctx: CLSP_SUCCESS, else CLSP_ERROR_MISMATCH naming
 * it (a conv's residual, a backward pass's d_out). */
clsp_status clsp__check_on_output(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_weights *w, const clsp_tensor *t,
                                  const char *name);

/* Converts w's weights to float16 storage in place (rounded to nearest,
 * ties to even); w then only serves tensors with half storage. Errors:
 * device memory, OpenCL codes (w unchanged then). */
clsp_status clsp__weights_to_half(clsp_context *ctx, clsp_weights *w);

/* Taps whose pair counts differ by at most this fraction of the group's
 * largest count share one batched GEMM (1 - min/max <= bound). Padding is
 * then at most bound / (1 - bound) = 1/3 of the real rows. */
#define CLSP_GROUP_BOUND 0.25

/* A group of taps run as one batched GEMM: order[first .. first+count)
 * sorted by descending pair count, max = the first member's count. */
typedef struct clsp__group {
  uint32_t first, count, max;
} clsp__group;

/* One batched GEMM call: `n_members` members whose plan entries start at
 * `plan_first`, `rows` block rows each; members are the taps at sorted
 * positions pos .. pos + n_members of the tap order. */
typedef struct clsp__chunk {
  uint32_t plan_first, n_members, rows, pos;
} clsp__chunk;

/* ---- gemm.c ---- */
/* Sorts the taps with pairs (except `skip`, or -1) by descending count
 * (ties: lower tap first) into order[] and cuts groups by the bound.
 * order[] and groups[] hold kvol entries; *n_taps and *n_groups receive
 * how many were used. */
clsp_status clsp__group_taps(clsp_context *ctx, const uint32_t *start, size_t kvol,
                             long skip, double bound, uint32_t *order, size_t *n_taps,
                             clsp__group *groups, size_t *n_groups);
/* The GEMM itself: clsp__gemm (src/core/blas.c). */

/* ---- gather.c ---- */
clsp_status clsp__gather(clsp_context *ctx, const clsp_tensor *in, cl_mem pair_in,
                         cl_mem plan, const clsp__chunk *ch, cl_mem block,
                         clsp_events *ev);

/* ---- scatter.c ---- */
/* Adds all valid rows of the chunk into out with float atomics. */
clsp_status clsp__scatter_atomic(clsp_context *ctx, cl_mem block, size_t cout,
                                 cl_mem pair_out, cl_mem plan, const clsp__chunk *ch,
                                 cl_mem out, clsp_events *ev);
/* Adds one member (block rows from block_row, pairs [begin, begin+valid))
 * without atomics. */
clsp_status clsp__scatter_add(clsp_context *ctx, cl_mem block, size_t cout,
                              uint32_t block_row, cl_mem pair_out, uint32_t begin,
                              uint32_t valid, cl_mem out, clsp_events *ev);
/* out[n_rows][cout] = bias (or zeros when bias is NULL). */
clsp_status clsp__init_output(clsp_context *ctx, cl_mem out, cl_mem bias, size_t n_rows,
                              size_t cout, clsp_events *ev);

/* ---- conv.c ---- */
/* The forward's argument checks (NULL, contexts, `in` on the rulebook's
 * input sites, weights vs channels and taps); also used by the backward. */
clsp_status clsp__conv_check_args(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_tensor *in, const clsp_weights *w);
/* Test hook (process-wide): when on, clsp_conv_forward fills the output
 * features and its workspace with NaN (0x7fc00000) before computing, so
 * that tests catch any element left unwritten or any stale row read. */
void clsp__conv_debug_poison(int on);

/* Test hook (process-wide): kernel shape for gather and scatter. */
typedef enum clsp__shape {
  CLSP_SHAPE_AUTO = 0, /* rows on CPU devices, elements elsewhere */
  CLSP_SHAPE_ELEMENTS = 1,
  CLSP_SHAPE_ROWS = 2,
} clsp__shape;
void clsp__conv_debug_shape(clsp__shape shape);

/* ---- launches shared by gather and scatter (gather.c) ---- */
/* Whether to use the row-shaped kernels (one work-item per row):
 * ctx->tuning.row_kernels unless the test hook forces a shape. */
int clsp__row_kernels(const clsp_context *ctx);
/* The launch range over rows x channels: 1D (rows) for row kernels, 2D
 * (channels, rows) for element kernels; empty when either is 0. */
clsp_range clsp__rows_range(const clsp_context *ctx, size_t channels, size_t rows);

#endif
