/* SPDX-License-Identifier: Apache-2.0 */
/* The fused output-stationary convolution dataflow (conv_fused.c,
 * cl/conv_fused.cl) and the choice between it and gather -> GEMM ->
 * scatter (conv.c). Its tile and default live in the context's tuning
 * record (ctx->tuning.fused*, src/core/tuning.c). Not installed. */
#ifndef CLSP_CONV_FUSED_H
#define CLSP_CONV_FUSED_H

#include "conv_stages.h"

/* Test hook (process-wide): which dataflow runs, whatever the device
 * default, the environment and the call's flags say. */
typedef enum clsp__dataflow {
  CLSP_DATAFLOW_AUTO = 0,
  CLSP_DATAFLOW_GEMM = 1,  /* gather -> GEMM -> scatter */
  CLSP_DATAFLOW_FUSED = 2, /* fused output-stationary kernels */
} clsp__dataflow;
void clsp__conv_debug_dataflow(clsp__dataflow d);

/* Test hook (process-wide): how many work-group-tile launches
 * (tuning.fused_groups, the GPU shape) have been made, so that a test can
 * tell that they ran and not the work-item tiles they fall back to. */
unsigned long clsp__fused_group_launches(void);
/* Test hooks (process-wide): how many row-tile launches have been made,
 * and how many tap-sorted lists for them (kept with their rulebooks). */
unsigned long clsp__fused_tile_launches(void);
unsigned long clsp__fused_tile_sorts(void);

/* 1 when the device runs every work-group tile kernel of the storage
 * (half: float16) in groups of CLSP_GROUP_SIDE^2 work-items
 * (CL_KERNEL_WORK_GROUP_SIZE; Mesa's llvmpipe reports 32 for them), which
 * the work-group tiles need; elsewhere convs asking for them run the
 * work-item tiles. Builds the kernels on first use; 0 if that fails. */
int clsp__fused_groups_fit(clsp_context *ctx, int half);

/* 1 when this call (c_in -> c_out channels) runs the fused dataflow. In
 * order: the test hook; the call's flags (CLSP_CONV_FUSED,
 * CLSP_CONV_GATHER_GEMM; CLSP_CONV_ATOMIC means gather -> GEMM -> atomic
 * scatter); the environment variable CLSP_CONV_DATAFLOW=fused|gemm; the
 * tuning record's choice for the layer class (clsp__tuning_fused_for). */
int clsp__fused_chosen(const clsp_context *ctx, uint32_t flags, size_t c_in,
                       size_t c_out);

/* Makes sure rb has its output-major pair list (rb->fused_offsets,
 * fused_entries): built on the device from the rulebook's pairs by the
 * first fused conv on it, then kept with the rulebook (freed by
 * clsp_rulebook_destroy). The rulebook is const to callers but used by
 * one thread at a time (clspconv.h); this cache does not change what it
 * describes. Events into `l` (may be NULL). Errors: device memory, OpenCL
 * codes (rb unchanged then). */
clsp_status clsp__fused_list(clsp_context *ctx, const clsp_rulebook *rb, clsp_events *l);

/* Builds rb's output-major pair list from the rulebook builder's
 * [tap][out row] map matrix `sel` (uint, CLSP_NONE_U32 where a tap reads
 * nothing; rb->info.n_out and kernel_volume already set) and sets
 * rb->info.n_pairs (one blocking read): a work-item per output row walks
 * its column in tap order, so neither atomics nor a sort are needed. Used
 * where the fused dataflow is the device default, so that no conv has to
 * build the list. Errors: device memory, OpenCL codes (rb unchanged
 * then). */
clsp_status clsp__fused_list_from_map(clsp_context *ctx, clsp_rulebook *rb, cl_mem sel,
                                      clsp_events *l);

/* The other way (clsp__rulebook_pairs): fills `sel` (n_mat = n_out x
 * kernel_volume uint) with the [tap][out row] matrix of rb's pair list.
 * Errors: OpenCL codes. */
clsp_status clsp__fused_list_to_map(clsp_context *ctx, const clsp_rulebook *rb,
                                    cl_mem sel, uint32_t n_mat);

/* Makes rb's tap-sorted pair list for row tiles (kept with rb) where a
 * fused conv with `w` on ctx's tuning runs row tiles and rb has none for
 * the tuning's rows per tile; otherwise nothing. Events into `l` (may be
 * NULL). Errors: device memory, OpenCL codes. */
clsp_status clsp__fused_tile_list(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_weights *w, clsp_events *l);

/* out (n_out x c_out, every element written) = the convolution of `in`
 * over rb's pair list (clsp__fused_list first) with `w`, bias included,
 * then the epilogue `ep` (NULL: none; checked by the caller), in
 * ctx->tuning's tile; row tiles make rb's tap-sorted list first where
 * clsp__fused_tile_list has not. Events into `l` (may be NULL). Errors:
 * device memory, OpenCL codes. */
clsp_status clsp__conv_fused(clsp_context *ctx, const clsp_rulebook *rb,
                             const clsp_tensor *in, const clsp_weights *w,
                             const clsp_conv_epilogue *ep, cl_mem out, clsp_events *l);

#endif
