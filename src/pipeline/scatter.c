/* SPDX-License-Identifier: Apache-2.0 */
/* Scatter stage (cl/scatter.cl): adds GEMM results into output rows, with
 * float atomics (a chunk at once) or, in deterministic mode, one tap at a
 * time without atomics; and the output initialisation (bias or zeros). */
#include "conv_stages.h"

clsp_status clsp__scatter_atomic(clsp_context *ctx, cl_mem block, size_t cout,
                                 cl_mem pair_out, cl_mem plan, const clsp__chunk *ch,
                                 cl_mem out, clsp_events *ev) {
  clsp_kernel_id k =
    clsp__row_kernels(ctx) ? CLSP_K_SCATTER_ATOMIC_CPU : CLSP_K_SCATTER_ATOMIC;
  cl_uint c = (cl_uint)cout;
  cl_uint n_rows = ch->n_members * ch->rows;
  return CLSP_RUN(ctx, k, clsp__rows_range(ctx, cout, n_rows), ev, CLSP_A(block),
                  CLSP_A(c), CLSP_A(pair_out), CLSP_A(plan), CLSP_A(ch->plan_first),
                  CLSP_A(ch->rows), CLSP_A(n_rows), CLSP_A(out));
}

clsp_status clsp__scatter_add(clsp_context *ctx, cl_mem block, size_t cout,
                              uint32_t block_row, cl_mem pair_out, uint32_t begin,
                              uint32_t valid, cl_mem out, clsp_events *ev) {
  clsp_kernel_id k = clsp__row_kernels(ctx) ? CLSP_K_SCATTER_ADD_CPU : CLSP_K_SCATTER_ADD;
  cl_uint c = (cl_uint)cout;
  return CLSP_RUN(ctx, k, clsp__rows_range(ctx, cout, valid), ev, CLSP_A(block),
                  CLSP_A(c), CLSP_A(block_row), CLSP_A(pair_out), CLSP_A(begin),
                  CLSP_A(valid), CLSP_A(out));
}

clsp_status clsp__init_output(clsp_context *ctx, cl_mem out, cl_mem bias, size_t n_rows,
                              size_t cout, clsp_events *ev) {
  size_t n = n_rows * cout; /* <= UINT32_MAX: checked by the tensor desc */
  if (!bias) return clsp__fill_u32(ctx, out, 0u, 0, (uint32_t)n, ev);
  cl_uint c = (cl_uint)cout, nn = (cl_uint)n;
  return CLSP_RUN(ctx, CLSP_K_FILL_BIAS, clsp_items_any(n), ev, CLSP_A(out), CLSP_A(bias),
                  CLSP_A(c), CLSP_A(nn));
}
