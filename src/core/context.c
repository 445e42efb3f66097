/* SPDX-License-Identifier: Apache-2.0 */
/* Contexts: creation, wrapping, teardown and accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "launch.h"

#define DEFAULT_WORKSPACE_BYTES ((size_t)256 << 20)

static clsp_context *context_alloc(const clsp_context_options *o) {
  clsp_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  if (o) {
    ctx->flags = o->flags;
    ctx->workspace_bytes = o->workspace_bytes;
    ctx->log = o->log;
    ctx->log_user = o->log_user;
  }
  return ctx;
}

/* Everything that depends on the device once handles are in place. */
static clsp_status context_finish_setup(clsp_context *ctx,
                                        const clsp_context_options *o) {
  clsp_status st = clsp__probe_caps(ctx->platform, ctx->device, &ctx->caps);
  if (st != CLSP_SUCCESS)
    return clsp__fail(ctx, st, "probing device capabilities failed");
  size_t quarter = (size_t)(ctx->caps.global_mem_bytes / 4);
  if (ctx->workspace_bytes == 0) {
    ctx->workspace_bytes = DEFAULT_WORKSPACE_BYTES;
    if (quarter > 0 && ctx->workspace_bytes > quarter) ctx->workspace_bytes = quarter;
  }
  cl_command_queue_properties props = 0;
  if (clGetCommandQueueInfo(ctx->queue, CL_QUEUE_PROPERTIES, sizeof props, &props,
                            NULL) == CL_SUCCESS)
    ctx->profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
  clsp__cache_init(ctx, o ? o->cache_dir : NULL);
  clsp__tuning_resolve(ctx); /* reads the tuning file in the cache folder */
  return CLSP_SUCCESS;
}

static clsp_status create_owned_objects(clsp_context *ctx) {
  cl_int err = CL_SUCCESS;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                   (cl_context_properties)ctx->platform, 0};
  ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
  if (err != CL_SUCCESS) return clsp__cl_fail(ctx, err, "clCreateContext");
  cl_command_queue_properties qp =
    (ctx->flags & CLSP_CONTEXT_PROFILING) ? CL_QUEUE_PROFILING_ENABLE : 0;
  /* clCreateCommandQueue is the 1.2 entry point; deprecated (not removed)
   * in 2.0, so it works on every device we target. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, qp, &err);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  if (err != CL_SUCCESS) return clsp__cl_fail(ctx, err, "clCreateCommandQueue");
  return CLSP_SUCCESS;
}

/* Passes a failed context's message to the caller's log before freeing. */
static clsp_status abandon(clsp_context *ctx, clsp_status st) {
  clsp_context_destroy(ctx);
  return st;
}

clsp_status clsp_context_create(const clsp_context_options *options, clsp_context **out) {
  if (!out) return CLSP_ERROR_INVALID_ARGUMENT;
  *out = NULL;
  clsp_context *ctx = context_alloc(options);
  if (!ctx) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  const char *spec = options ? options->device : NULL;
  if (!spec) spec = getenv("CLSP_DEVICE");
  clsp_status st = clsp__select(ctx, spec, &ctx->platform, &ctx->device);
  if (st == CLSP_SUCCESS) st = create_owned_objects(ctx);
  if (st == CLSP_SUCCESS) st = context_finish_setup(ctx, options);
  if (st != CLSP_SUCCESS) return abandon(ctx, st);
  clsp__blas_context_opened();
  ctx->registered = 1;
  *out = ctx;
  return CLSP_SUCCESS;
}

static clsp_status check_wrapped(clsp_context *ctx) {
  cl_context qctx = NULL;
  cl_device_id qdev = NULL;
  CLSP_CL_CHECK(ctx,
                clGetCommandQueueInfo(ctx->queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx,
                                      NULL),
                "clGetCommandQueueInfo(queue)");
  CLSP_CL_CHECK(ctx,
                clGetCommandQueueInfo(ctx->queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev,
                                      NULL),
                "clGetCommandQueueInfo(queue)");
  if (qctx != ctx->cl || qdev != ctx->device)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "queue: belongs to another context or device than the "
                      "one passed");
  CLSP_CL_CHECK(ctx,
                clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof ctx->platform,
                                &ctx->platform, NULL),
                "clGetDeviceInfo(device)");
  return CLSP_SUCCESS;
}

clsp_status clsp_context_wrap(cl_context context, cl_device_id device,
                              cl_command_queue queue, const clsp_context_options *options,
                              clsp_context **out) {
  if (!out) return CLSP_ERROR_INVALID_ARGUMENT;
  *out = NULL;
  if (!context || !device || !queue) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_context *ctx = context_alloc(options);
  if (!ctx) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  ctx->cl = context;
  ctx->device = device;
  ctx->queue = queue;
  clsp_status st = check_wrapped(ctx);
  if (st != CLSP_SUCCESS) {
    free(ctx); /* nothing retained yet */
    return st;
  }
  clRetainContext(context);
  clRetainCommandQueue(queue);
  clRetainDevice(device);
  st = context_finish_setup(ctx, options);
  if (st != CLSP_SUCCESS) return abandon(ctx, st);
  clsp__blas_context_opened();
  ctx->registered = 1;
  *out = ctx;
  return CLSP_SUCCESS;
}

void clsp_context_destroy(clsp_context *ctx) {
  if (!ctx) return;
  if (ctx->queue) clFinish(ctx->queue);
  clsp__programs_release(ctx);
  if (ctx->registered) clsp__blas_context_closed();
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->cl) clReleaseContext(ctx->cl);
  if (ctx->device) clReleaseDevice(ctx->device); /* no-op for root devices */
  free(ctx);
}

const clsp_device_caps *clsp_context_caps(const clsp_context *ctx) {
  return ctx ? &ctx->caps : NULL;
}

clsp_status clsp_context_cl(const clsp_context *ctx, cl_context *context,
                            cl_device_id *device, cl_command_queue *queue) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (context) *context = ctx->cl;
  if (device) *device = ctx->device;
  if (queue) *queue = ctx->queue;
  return CLSP_SUCCESS;
}

const char *clsp_context_last_error(const clsp_context *ctx) {
  return ctx ? ctx->message : "";
}

clsp_status clsp_context_finish(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  CLSP_CL_CHECK(ctx, clFinish(ctx->queue), "clFinish");
  return CLSP_SUCCESS;
}

clsp_status clsp_context_memory(const clsp_context *ctx, uint64_t *current,
                                uint64_t *peak) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (current) *current = ctx->mem_current;
  if (peak) *peak = ctx->mem_peak;
  return CLSP_SUCCESS;
}

clsp_status clsp_context_reset_peak(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  ctx->mem_peak = ctx->mem_current;
  return CLSP_SUCCESS;
}

const char *clsp_context_cache_dir(const clsp_context *ctx) {
  return ctx ? ctx->cache_dir : "";
}

clsp_status clsp_context_cache_stats(const clsp_context *ctx, clsp_cache_stats *out) {
  if (!ctx || !out) return CLSP_ERROR_INVALID_ARGUMENT;
  *out = ctx->cache_stats;
  return CLSP_SUCCESS;
}
