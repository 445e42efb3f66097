/* SPDX-License-Identifier: Apache-2.0 */
/* Gather stage: copies the input rows of a chunk's members into a
 * contiguous block (cl/gather.cl), the A operand of the batched GEMM. */
#include <stdio.h>
#include "conv_stages.h"

#define GATHER_SOURCES "common.clh,gather.cl"

static clsp__shape forced_shape;

void clsp__conv_debug_shape(clsp__shape shape) { forced_shape = shape; }

int clsp__row_kernels(const clsp_context *ctx) {
  if (forced_shape != CLSP_SHAPE_AUTO) return forced_shape == CLSP_SHAPE_ROWS;
  return (ctx->caps.type & CL_DEVICE_TYPE_CPU) != 0;
}

clsp_status clsp__launch_rows(clsp_context *ctx, cl_kernel k, const char *kname,
                              size_t channels, size_t rows, cl_event *ev) {
  if (channels == 0 || rows == 0) return CLSP_SUCCESS;
  if (clsp__row_kernels(ctx)) return clsp__launch_1d(ctx, k, kname, rows, 0, ev);
  size_t global[2] = {channels, rows};
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, 2, NULL, global, NULL, 0, NULL, ev);
  if (err != CL_SUCCESS) {
    char what[256];
    snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s, %zu x %zu items)", kname,
             channels, rows);
    return clsp__cl_fail(ctx, err, what);
  }
  return CLSP_SUCCESS;
}

clsp_status clsp__gather(clsp_context *ctx, const clsp_tensor *in, cl_mem pair_in,
                         cl_mem plan, const clsp__chunk *ch, cl_mem block,
                         cl_event *ev) {
  const char *kname = clsp__row_kernels(ctx) ? "clsp_gather_rows_cpu" : "clsp_gather_rows";
  cl_kernel k;
  clsp_status st = clsp__kernel(ctx, GATHER_SOURCES, "", kname, &k);
  if (st != CLSP_SUCCESS) return st;
  cl_uint cin = (cl_uint)in->desc.channels;
  cl_uint n_rows = ch->n_members * ch->rows; /* bounded by the workspace */
  const size_t sizes[] = {sizeof(cl_mem), sizeof cin,     sizeof(cl_mem),
                          sizeof(cl_mem), sizeof(cl_uint), sizeof(cl_uint),
                          sizeof n_rows,  sizeof(cl_mem)};
  const void *const values[] = {&in->feats,      &cin,     &pair_in, &plan,
                                &ch->plan_first, &ch->rows, &n_rows, &block};
  st = clsp__set_args(ctx, k, kname, 8, sizes, values);
  if (st != CLSP_SUCCESS) return st;
  return clsp__launch_rows(ctx, k, kname, cin, n_rows, ev);
}
