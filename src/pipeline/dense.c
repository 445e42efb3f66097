/* SPDX-License-Identifier: Apache-2.0 */
/* Dense scatter, dense permutation, sigmoid / leaky ReLU, float16
 * rounding and tensor copies
 * (see ops.h): the operations model graphs need beyond ops.c. */
#include <string.h>
#include "pipeline.h"
#include "programs.h"
#include "clspconv/ops.h"

static clsp_status check_tensor(clsp_context *ctx, const clsp_tensor *t) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!t) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "t: NULL");
  if (t->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "t: tensor of another context");
  return CLSP_SUCCESS;
}

/* Device time of `l` into *device_ms when asked (waits), else nothing. */
static clsp_status finish(clsp_context *ctx, clsp_status st, clsp_events *l,
                          double *device_ms) {
  if (device_ms) *device_ms = 0.0;
  if (st == CLSP_SUCCESS && l) st = clsp__events_finish(ctx, l, NULL, 0, device_ms, NULL);
  clsp__events_release(l);
  return st;
}

/* A one-argument elementwise kernel over t's features, in place. */
static clsp_status unary(clsp_context *ctx, clsp_tensor *t, clsp_kernel_id k,
                         double *device_ms) {
  clsp_status st = check_tensor(ctx, t);
  if (st != CLSP_SUCCESS) return st;
  uint32_t n = (uint32_t)(t->desc.n_sites * t->desc.channels);
  clsp_events ev = {0};
  clsp_events *l = device_ms ? &ev : NULL;
  st = CLSP_RUN(ctx, k, clsp_items(n), l, CLSP_A(t->feats), CLSP_A(n));
  return finish(ctx, st, l, device_ms);
}

clsp_status clsp_sigmoid(clsp_context *ctx, clsp_tensor *t, double *device_ms) {
  if (t && t->half) return unary(ctx, t, CLSP_K_H_EW_SIGMOID, device_ms);
  return unary(ctx, t, CLSP_K_EW_SIGMOID, device_ms);
}

clsp_status clsp_leaky_relu(clsp_context *ctx, clsp_tensor *t, float alpha,
                            double *device_ms) {
  clsp_status st = check_tensor(ctx, t);
  if (st != CLSP_SUCCESS) return st;
  uint32_t n = (uint32_t)(t->desc.n_sites * t->desc.channels);
  clsp_events ev = {0};
  clsp_events *l = device_ms ? &ev : NULL;
  st = CLSP_RUN(ctx, t->half ? CLSP_K_H_EW_LEAKY_RELU : CLSP_K_EW_LEAKY_RELU,
                clsp_items(n), l, CLSP_A(t->feats), CLSP_A(n), CLSP_A(alpha));
  return finish(ctx, st, l, device_ms);
}

clsp_status clsp_round_half(clsp_context *ctx, clsp_tensor *t, double *device_ms) {
  return unary(ctx, t, CLSP_K_EW_ROUND_HALF, device_ms);
}

/* A new accounted buffer with a copy of `bytes` of `src`. */
static clsp_status copy_buffer(clsp_context *ctx, cl_mem src, size_t bytes,
                               const char *what, cl_mem *out) {
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, what, out);
  if (st != CLSP_SUCCESS || bytes == 0) return st;
  cl_int err = clEnqueueCopyBuffer(ctx->queue, src, *out, 0, 0, bytes, 0, NULL, NULL);
  if (err == CL_SUCCESS) return CLSP_SUCCESS;
  clsp__buffer_release(ctx, out);
  return clsp__cl_fail(ctx, err, what);
}

clsp_status clsp_tensor_copy(clsp_context *ctx, const clsp_tensor *t, clsp_tensor **out) {
  if (ctx && !out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  if (out) *out = NULL;
  clsp_status st = check_tensor(ctx, t);
  if (st != CLSP_SUCCESS) return st;
  const clsp_tensor_desc *d = &t->desc;
  cl_mem c = NULL, f = NULL;
  st = copy_buffer(ctx, t->coords, d->n_sites * (size_t)(1 + d->ndim) * sizeof(int32_t),
                   "copied coords", &c);
  if (st == CLSP_SUCCESS)
    st = copy_buffer(ctx, t->feats, d->n_sites * d->channels * clsp__feat_size(t),
                     "copied feats", &f);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &c);
    return st;
  }
  clsp_tensor_desc nd = *d;
  nd.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  st = clsp__tensor_adopt(ctx, &nd, c, f, t->sites_id, out);
  if (st == CLSP_SUCCESS) (*out)->half = t->half;
  return st;
}

clsp_status clsp_dense_bytes(const clsp_tensor *t, size_t *bytes) {
  if (!t || !bytes) return CLSP_ERROR_INVALID_ARGUMENT;
  size_t n = sizeof(float);
  int ok = clsp__mul_size(n, (size_t)t->desc.batch_size, &n) &&
           clsp__mul_size(n, t->desc.channels, &n);
  for (int a = 0; ok && a < t->desc.ndim; a++)
    ok = clsp__mul_size(n, (size_t)t->desc.shape[a], &n);
  if (!ok) return CLSP_ERROR_TOO_LARGE;
  *bytes = n;
  return CLSP_SUCCESS;
}

static clsp_status buffer_holds(clsp_context *ctx, cl_mem m, size_t bytes,
                                const char *name) {
  if (!m) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL", name);
  size_t size = 0;
  CLSP_CL_CHECK(ctx, clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof size, &size, NULL),
                "clGetMemObjectInfo(CL_MEM_SIZE)");
  if (size < bytes)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "%s: %zu bytes, %zu needed", name, size,
                      bytes);
  return CLSP_SUCCESS;
}

clsp_status clsp_scatter_dense(clsp_context *ctx, const clsp_tensor *t,
                               clsp_dense_format format, cl_mem dense,
                               double *device_ms) {
  clsp_status st = check_tensor(ctx, t);
  if (st != CLSP_SUCCESS) return st;
  if (format != CLSP_DENSE_AXES_IN_ORDER && format != CLSP_DENSE_AXES_REVERSED)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "format = %d: unknown",
                      (int)format);
  size_t bytes = 0;
  if (clsp_dense_bytes(t, &bytes) != CLSP_SUCCESS)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE, "t: dense size beyond size_t");
  if (t->desc.n_sites * t->desc.channels > UINT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE, "t: %zu sites x %zu channels",
                      t->desc.n_sites, t->desc.channels);
  st = buffer_holds(ctx, dense, bytes, "dense");
  if (st != CLSP_SUCCESS) return st;
  clsp_events ev = {0};
  clsp_events *l = device_ms ? &ev : NULL;
  /* Zeros by a kernel (clsp__fill_u32), not clEnqueueFillBuffer: Oclgrind
   * counts a filled buffer as uninitialized and then flags every copy of
   * its zeros (the dense permute). */
  if (bytes / 4 > UINT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE, "t: dense tensor of %zu bytes", bytes);
  st = clsp__fill_u32(ctx, dense, 0u, 0, (uint32_t)(bytes / 4), l);
  uint32_t n = (uint32_t)t->desc.n_sites, c = (uint32_t)t->desc.channels;
  cl_int ndim = t->desc.ndim, rev = format == CLSP_DENSE_AXES_REVERSED;
  cl_int4 shape;
  for (int a = 0; a < 4; a++) shape.s[a] = a < ndim ? t->desc.shape[a] : 1;
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, t->half ? CLSP_K_H_DENSE_SCATTER : CLSP_K_DENSE_SCATTER,
                  clsp_items((size_t)n * c), l, CLSP_A(t->coords), CLSP_A(t->feats),
                  CLSP_A(n), CLSP_A(c), CLSP_A(ndim), CLSP_A(rev), CLSP_A(shape),
                  CLSP_A(dense));
  return finish(ctx, st, l, device_ms);
}

/* Validates a permutation of ndims axes and counts the elements. */
static clsp_status check_permute(clsp_context *ctx, int ndims, const int64_t *dims,
                                 const int *perm, size_t *elems) {
  if (!dims || !perm || ndims < 1 || ndims > 8)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "dims/perm NULL or ndims = %d outside 1..8", ndims);
  int seen[8] = {0};
  *elems = 1;
  for (int k = 0; k < ndims; k++) {
    if (perm[k] < 0 || perm[k] >= ndims || seen[perm[k]]++)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "perm[%d] = %d: not a permutation of 0..%d", k, perm[k],
                        ndims - 1);
    if (dims[k] < 1)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "dims[%d] = %lld: must be >= 1",
                        k, (long long)dims[k]);
    if (!clsp__mul_size(*elems, (size_t)dims[k], elems) || *elems > UINT32_MAX)
      return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE, "dense tensor: 2^32 elements or more");
  }
  return CLSP_SUCCESS;
}

clsp_status clsp_dense_permute(clsp_context *ctx, cl_mem in, int ndims,
                               const int64_t *dims, const int *perm, cl_mem out,
                               double *device_ms) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  size_t elems = 0;
  clsp_status st = check_permute(ctx, ndims, dims, perm, &elems);
  if (st == CLSP_SUCCESS && in == out)
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: the same buffer as in");
  if (st == CLSP_SUCCESS) st = buffer_holds(ctx, in, elems * sizeof(float), "in");
  if (st == CLSP_SUCCESS) st = buffer_holds(ctx, out, elems * sizeof(float), "out");
  if (st != CLSP_SUCCESS) return st;
  uint32_t stride[8], s = 1;
  for (int k = ndims - 1; k >= 0; k--) {
    stride[k] = s;
    s *= (uint32_t)dims[k];
  }
  cl_uint4 od[2], is[2];
  for (int k = 0; k < 8; k++) {
    od[k / 4].s[k % 4] = k < ndims ? (cl_uint)dims[perm[k]] : 1u;
    is[k / 4].s[k % 4] = k < ndims ? stride[perm[k]] : 0u;
  }
  uint32_t n = (uint32_t)elems;
  cl_int nd = ndims;
  clsp_events ev = {0};
  clsp_events *l = device_ms ? &ev : NULL;
  st = CLSP_RUN(ctx, CLSP_K_DENSE_PERMUTE, clsp_items(n), l, CLSP_A(in), CLSP_A(out),
                CLSP_A(n), CLSP_A(nd), CLSP_A(od[0]), CLSP_A(od[1]), CLSP_A(is[0]),
                CLSP_A(is[1]));
  return finish(ctx, st, l, device_ms);
}
