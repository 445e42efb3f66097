/* SPDX-License-Identifier: Apache-2.0 */
/* Scatter stage (cl/scatter.cl): adds GEMM results into output rows, with
 * float atomics (a chunk at once) or, in deterministic mode, one tap at a
 * time without atomics; and the output initialisation (bias or zeros). */
#include "conv_stages.h"

#define SCATTER_SOURCES "common.clh,scatter.cl"

const char *clsp__scatter_options(const clsp_context *ctx) {
  int native = ctx->caps.float_atomic_add &&
               !(ctx->flags & CLSP_CONTEXT_NO_FLOAT_ATOMICS);
  /* atomic_float and atomic_fetch_add_explicit are OpenCL C 2.0+; without
   * native float atomics the 1.2 compare-and-swap loop is built. */
  if (!native) return "";
  return ctx->caps.opencl_c_major >= 3 ? "-cl-std=CL3.0" : "-cl-std=CL2.0";
}

static clsp_status scatter_kernel(clsp_context *ctx, const char *name, cl_kernel *k) {
  return clsp__kernel(ctx, SCATTER_SOURCES, clsp__scatter_options(ctx), name, k);
}

clsp_status clsp__scatter_atomic(clsp_context *ctx, cl_mem block, size_t cout,
                                 cl_mem pair_out, cl_mem plan, const clsp__chunk *ch,
                                 cl_mem out, cl_event *ev) {
  const char *kname =
      clsp__row_kernels(ctx) ? "clsp_scatter_atomic_cpu" : "clsp_scatter_atomic";
  cl_kernel k;
  clsp_status st = scatter_kernel(ctx, kname, &k);
  if (st != CLSP_SUCCESS) return st;
  cl_uint c = (cl_uint)cout;
  cl_uint n_rows = ch->n_members * ch->rows;
  const size_t sizes[] = {sizeof(cl_mem),  sizeof c,        sizeof(cl_mem),
                          sizeof(cl_mem),  sizeof(cl_uint), sizeof(cl_uint),
                          sizeof(cl_uint), sizeof(cl_mem)};
  const void *const values[] = {&block,          &c,        &pair_out, &plan,
                                &ch->plan_first, &ch->rows, &n_rows,   &out};
  st = clsp__set_args(ctx, k, kname, 8, sizes, values);
  if (st != CLSP_SUCCESS) return st;
  return clsp__launch_rows(ctx, k, kname, cout, n_rows, ev);
}

clsp_status clsp__scatter_add(clsp_context *ctx, cl_mem block, size_t cout,
                              uint32_t block_row, cl_mem pair_out, uint32_t begin,
                              uint32_t valid, cl_mem out, cl_event *ev) {
  const char *kname = clsp__row_kernels(ctx) ? "clsp_scatter_add_cpu" : "clsp_scatter_add";
  cl_kernel k;
  clsp_status st = scatter_kernel(ctx, kname, &k);
  if (st != CLSP_SUCCESS) return st;
  cl_uint c = (cl_uint)cout;
  const size_t sizes[] = {sizeof(cl_mem),  sizeof c,        sizeof(cl_uint), sizeof(cl_mem),
                          sizeof(cl_uint), sizeof(cl_uint), sizeof(cl_mem)};
  const void *const values[] = {&block, &c, &block_row, &pair_out, &begin, &valid, &out};
  st = clsp__set_args(ctx, k, kname, 7, sizes, values);
  if (st != CLSP_SUCCESS) return st;
  return clsp__launch_rows(ctx, k, kname, cout, valid, ev);
}

clsp_status clsp__init_output(clsp_context *ctx, cl_mem out, cl_mem bias, size_t n_rows,
                              size_t cout, cl_event *ev) {
  size_t n = n_rows * cout; /* <= UINT32_MAX: checked by the tensor desc */
  if (!bias) return clsp__buffer_fill32(ctx, out, 0u, 0, n * sizeof(float), ev);
  static const char kname[] = "clsp_fill_bias";
  cl_kernel k;
  clsp_status st = scatter_kernel(ctx, kname, &k);
  if (st != CLSP_SUCCESS) return st;
  cl_uint c = (cl_uint)cout, nn = (cl_uint)n;
  const size_t sizes[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof c, sizeof nn};
  const void *const values[] = {&out, &bias, &c, &nn};
  st = clsp__set_args(ctx, k, kname, 4, sizes, values);
  if (st != CLSP_SUCCESS) return st;
  return clsp__launch_1d(ctx, k, kname, n, 0, ev);
}
