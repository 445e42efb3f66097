/* SPDX-License-Identifier: Apache-2.0 */
/* Device buffers with accounting, so peak device memory can be reported. */
#include "internal.h"

clsp_status clsp__buffer_create(clsp_context *ctx, cl_mem_flags flags, size_t bytes,
                                void *host, const char *what, cl_mem *out) {
  *out = NULL;
  size_t alloc = bytes ? bytes : 1;
  if (ctx->caps.max_alloc_bytes && alloc > ctx->caps.max_alloc_bytes)
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_DEVICE_MEMORY,
                      "%s: %zu bytes exceed the device's largest allocation "
                      "(%llu bytes)",
                      what, alloc, (unsigned long long)ctx->caps.max_alloc_bytes);
  cl_int err = CL_SUCCESS;
  /* An empty buffer has nothing to copy: a host pointer flag without a
   * host pointer would be CL_INVALID_HOST_PTR. */
  if (bytes == 0) flags &= ~(cl_mem_flags)(CL_MEM_COPY_HOST_PTR | CL_MEM_USE_HOST_PTR);
  cl_mem m = clCreateBuffer(ctx->cl, flags, alloc, bytes ? host : NULL, &err);
  if (err != CL_SUCCESS) {
    clsp__cl_fail(ctx, err, what);
    return clsp__fail(ctx,
                      err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                          err == CL_OUT_OF_RESOURCES
                        ? CLSP_ERROR_OUT_OF_DEVICE_MEMORY
                        : (clsp_status)err,
                      "%s: allocating %zu bytes on the device failed: %s (%d)", what,
                      alloc, clsp_status_string(err), (int)err);
  }
  ctx->mem_current += alloc;
  if (ctx->mem_current > ctx->mem_peak) ctx->mem_peak = ctx->mem_current;
  *out = m;
  return CLSP_SUCCESS;
}

void clsp__buffer_release(clsp_context *ctx, cl_mem *mem) {
  if (!mem || !*mem) return;
  size_t size = 0;
  if (clGetMemObjectInfo(*mem, CL_MEM_SIZE, sizeof size, &size, NULL) == CL_SUCCESS &&
      size <= ctx->mem_current)
    ctx->mem_current -= size;
  clReleaseMemObject(*mem);
  *mem = NULL;
}
