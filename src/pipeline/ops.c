/* SPDX-License-Identifier: Apache-2.0 */
/* Elementwise device operations on tensor features (see ops.h). */
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"
#include "clspconv/ops.h"

static clsp_status check_tensor(clsp_context *ctx, const clsp_tensor *t,
                                const char *name) {
  if (!t) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL", name);
  if (t->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "%s: tensor of another context", name);
  return CLSP_SUCCESS;
}

static clsp_status same_sites(clsp_context *ctx, const clsp_tensor *a,
                              const clsp_tensor *b) {
  if (a->half != b->half)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "b: stored as %s, a as %s",
                      b->half ? "float16" : "float", a->half ? "float16" : "float");
  if (a->sites_id != b->sites_id || a->desc.n_sites != b->desc.n_sites)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "b: not on the sites of a (site ids %llu vs %llu, %zu vs %zu "
                      "sites)",
                      (unsigned long long)a->sites_id, (unsigned long long)b->sites_id,
                      a->desc.n_sites, b->desc.n_sites);
  return CLSP_SUCCESS;
}

/* Runs kernel k over n items with the n_args arguments; waits and
 * reports its device time when device_ms is given. */
static clsp_status run(clsp_context *ctx, clsp_kernel_id k, size_t n,
                       const clsp_arg *args, int n_args, double *device_ms) {
  if (device_ms) *device_ms = 0.0;
  clsp_events ev = {0};
  clsp_status st =
    CLSP_RUN_ARRAY(ctx, k, clsp_items_any(n), device_ms ? &ev : NULL, args, n_args);
  if (st == CLSP_SUCCESS && device_ms)
    st = clsp__events_finish(ctx, &ev, NULL, 0, device_ms, NULL);
  clsp__events_release(&ev);
  return st;
}

static uint32_t elems(const clsp_tensor *t) {
  /* n_sites x channels <= UINT32_MAX: checked when the tensor was made. */
  return (uint32_t)(t->desc.n_sites * t->desc.channels);
}

clsp_status clsp_relu(clsp_context *ctx, clsp_tensor *t, double *device_ms) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = check_tensor(ctx, t, "t");
  if (st != CLSP_SUCCESS) return st;
  uint32_t n = elems(t);
  const clsp_arg a[] = {CLSP_A(t->feats), CLSP_A(n)};
  return run(ctx, t->half ? CLSP_K_H_EW_RELU : CLSP_K_EW_RELU, n, a, 2, device_ms);
}

clsp_status clsp_add(clsp_context *ctx, clsp_tensor *a, const clsp_tensor *b, int relu,
                     double *device_ms) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = check_tensor(ctx, a, "a");
  if (st == CLSP_SUCCESS) st = check_tensor(ctx, b, "b");
  if (st == CLSP_SUCCESS) st = same_sites(ctx, a, b);
  if (st != CLSP_SUCCESS) return st;
  if (a->desc.channels != b->desc.channels)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "b: %zu channels, a has %zu",
                      b->desc.channels, a->desc.channels);
  uint32_t n = elems(a);
  int32_t r = relu ? 1 : 0;
  const clsp_arg args[] = {CLSP_A(a->feats), CLSP_A(b->feats), CLSP_A(n), CLSP_A(r)};
  return run(ctx, a->half ? CLSP_K_H_EW_ADD : CLSP_K_EW_ADD, n, args, 4, device_ms);
}

/* A copy of a's coordinates for the concatenated tensor. */
static clsp_status copy_coords(clsp_context *ctx, const clsp_tensor *a, cl_mem *out) {
  size_t bytes = a->desc.n_sites * (size_t)(1 + a->desc.ndim) * sizeof(int32_t);
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "concat coords", out);
  if (st != CLSP_SUCCESS || bytes == 0) return st;
  cl_int err =
    clEnqueueCopyBuffer(ctx->queue, a->coords, *out, 0, 0, bytes, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    clsp__buffer_release(ctx, out);
    return clsp__cl_fail(ctx, err, "copying concat coords");
  }
  return CLSP_SUCCESS;
}

/* out's columns [col, col + cols) of every row = src's rows (cols values
 * each): one rectangular copy, which PoCL runs as a memcpy per row (the
 * element-per-value kernel it replaces ran at ~2 GB/s there). */
static clsp_status copy_columns(clsp_context *ctx, cl_mem src, size_t rows, size_t cols,
                                size_t col, size_t width, size_t esize, cl_mem dst,
                                clsp_events *ev) {
  const size_t src_origin[3] = {0, 0, 0}, dst_origin[3] = {col * esize, 0, 0};
  const size_t region[3] = {cols * esize, rows, 1};
  cl_int err = clEnqueueCopyBufferRect(ctx->queue, src, dst, src_origin, dst_origin,
                                       region, cols * esize, 0, width * esize, 0, 0, NULL,
                                       clsp__event_slot(ev, 0, 0));
  return err == CL_SUCCESS ? CLSP_SUCCESS
                           : clsp__cl_fail(ctx, err, "copying concat columns");
}

/* out = [a | b], row by row; device time of both copies to *device_ms. */
static clsp_status concat_feats(clsp_context *ctx, const clsp_tensor *a,
                                const clsp_tensor *b, cl_mem out, double *device_ms) {
  size_t rows = a->desc.n_sites, ca = a->desc.channels, cb = b->desc.channels;
  size_t esize = clsp__feat_size(a);
  if (device_ms) *device_ms = 0.0;
  if (rows == 0) return CLSP_SUCCESS;
  clsp_events ev = {0}, *e = device_ms ? &ev : NULL;
  clsp_status st = copy_columns(ctx, a->feats, rows, ca, 0, ca + cb, esize, out, e);
  if (st == CLSP_SUCCESS)
    st = copy_columns(ctx, b->feats, rows, cb, ca, ca + cb, esize, out, e);
  if (st == CLSP_SUCCESS && device_ms)
    st = clsp__events_finish(ctx, &ev, NULL, 0, device_ms, NULL);
  clsp__events_release(&ev);
  return st;
}

clsp_status clsp_concat(clsp_context *ctx, const clsp_tensor *a, const clsp_tensor *b,
                        clsp_tensor **out, double *device_ms) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  clsp_status st = check_tensor(ctx, a, "a");
  if (st == CLSP_SUCCESS) st = check_tensor(ctx, b, "b");
  if (st == CLSP_SUCCESS) st = same_sites(ctx, a, b);
  if (st != CLSP_SUCCESS) return st;
  clsp_tensor_desc d = a->desc;
  d.channels = a->desc.channels + b->desc.channels;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  st = clsp__tensor_desc_check(ctx, &d);
  cl_mem c = NULL, f = NULL;
  if (st == CLSP_SUCCESS) st = copy_coords(ctx, a, &c);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             d.n_sites * d.channels * clsp__feat_size(a), NULL,
                             "concat feats", &f);
  if (st == CLSP_SUCCESS) st = concat_feats(ctx, a, b, f, device_ms);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &c);
    clsp__buffer_release(ctx, &f);
    return st;
  }
  st = clsp__tensor_adopt(ctx, &d, c, f, a->sites_id, out);
  if (st == CLSP_SUCCESS) (*out)->half = a->half;
  return st;
}

/* Uploads `values` (or `fill` when NULL) as a channels-float buffer. */
static clsp_status upload_channels(clsp_context *ctx, const float *values, float fill,
                                   size_t channels, const char *what, cl_mem *out) {
  float *tmp = NULL;
  if (!values) {
    tmp = malloc(channels * sizeof *tmp);
    if (!tmp) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "%s", what);
    for (size_t i = 0; i < channels; i++) tmp[i] = fill;
  }
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                       channels * sizeof(float),
                                       (void *)(values ? values : tmp), what, out);
  free(tmp);
  return st;
}

clsp_status clsp_scale_shift(clsp_context *ctx, clsp_tensor *t, const float *scale,
                             const float *shift, double *device_ms) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = check_tensor(ctx, t, "t");
  if (st != CLSP_SUCCESS) return st;
  cl_mem sc = NULL, sh = NULL;
  st = upload_channels(ctx, scale, 1.0f, t->desc.channels, "scale", &sc);
  if (st == CLSP_SUCCESS)
    st = upload_channels(ctx, shift, 0.0f, t->desc.channels, "shift", &sh);
  uint32_t n = elems(t), c = (uint32_t)t->desc.channels;
  const clsp_arg a[] = {CLSP_A(t->feats), CLSP_A(sc), CLSP_A(sh), CLSP_A(n), CLSP_A(c)};
  if (st == CLSP_SUCCESS) st = run(ctx, CLSP_K_EW_SCALE_SHIFT, n, a, 5, device_ms);
  /* The kernel may still be reading: releasing is safe (OpenCL keeps the
   * buffers alive until enqueued work that uses them is done). */
  clsp__buffer_release(ctx, &sc);
  clsp__buffer_release(ctx, &sh);
  return st;
}
