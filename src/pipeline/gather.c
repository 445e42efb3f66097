/* SPDX-License-Identifier: Apache-2.0 */
/* Gather stage: copies the input rows of a chunk's members into a
 * contiguous block (cl/gather.cl), the A operand of the batched GEMM; and
 * the row-or-element launch shape that gather and scatter share. */
#include "conv_stages.h"

static clsp__shape forced_shape;

void clsp__conv_debug_shape(clsp__shape shape) { forced_shape = shape; }

int clsp__row_kernels(const clsp_context *ctx) {
  if (forced_shape != CLSP_SHAPE_AUTO) return forced_shape == CLSP_SHAPE_ROWS;
  return ctx->tuning.row_kernels;
}

clsp_range clsp__rows_range(const clsp_context *ctx, size_t channels, size_t rows) {
  if (channels == 0) return clsp_items_any(0);
  return clsp__row_kernels(ctx) ? clsp_items_any(rows) : clsp_grid(channels, rows);
}

clsp_status clsp__gather(clsp_context *ctx, const clsp_tensor *in, cl_mem pair_in,
                         cl_mem plan, const clsp__chunk *ch, cl_mem block,
                         clsp_events *ev) {
  clsp_kernel_id k = clsp__row_kernels(ctx) ? CLSP_K_GATHER_ROWS_CPU : CLSP_K_GATHER_ROWS;
  cl_uint cin = (cl_uint)in->desc.channels;
  cl_uint n_rows = ch->n_members * ch->rows; /* bounded by the workspace */
  return CLSP_RUN(ctx, k, clsp__rows_range(ctx, cin, n_rows), ev, CLSP_A(in->feats),
                  CLSP_A(cin), CLSP_A(pair_in), CLSP_A(plan), CLSP_A(ch->plan_first),
                  CLSP_A(ch->rows), CLSP_A(n_rows), CLSP_A(block));
}
