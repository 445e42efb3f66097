/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse tensors: creation from host arrays or caller buffers, download. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

uint64_t clsp__new_sites_id(void) {
  static atomic_uint_fast64_t next = 1;
  return (uint64_t)atomic_fetch_add(&next, 1);
}

clsp_status clsp__tensor_desc_check(clsp_context *ctx, const clsp_tensor_desc *d) {
  if (d->ndim < 1 || d->ndim > CLSP_MAX_DIMS)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "desc->ndim = %d: must be 1..%d", d->ndim, CLSP_MAX_DIMS);
  for (int a = 0; a < d->ndim; a++)
    if (d->shape[a] <= 0)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "desc->shape[%d] = %d: must be positive", a, (int)d->shape[a]);
  if (d->batch_size <= 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "desc->batch_size = %d: must be positive", (int)d->batch_size);
  if (d->channels == 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "desc->channels = 0: must be positive");
  size_t elems;
  /* Kernels index features with 32-bit arithmetic. */
  if (!clsp__mul_size(d->n_sites, d->channels, &elems) || elems > UINT32_MAX ||
      d->n_sites > UINT32_MAX / (1 + CLSP_MAX_DIMS))
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "desc: n_sites x channels = %zu x %zu exceeds the 32-bit index "
                      "range of the kernels",
                      d->n_sites, d->channels);
  return CLSP_SUCCESS;
}

static size_t coord_bytes(const clsp_tensor_desc *d) {
  return d->n_sites * (size_t)(1 + d->ndim) * sizeof(int32_t);
}

static size_t feat_bytes(const clsp_tensor_desc *d) {
  return d->n_sites * d->channels * sizeof(float);
}

/* Host-side range check of coordinates (for host arrays). */
static clsp_status check_coords(clsp_context *ctx, const clsp_tensor_desc *d,
                                const int32_t *coords) {
  size_t w = (size_t)(1 + d->ndim);
  for (size_t i = 0; i < d->n_sites; i++) {
    const int32_t *c = coords + i * w;
    if (c[0] < 0 || c[0] >= d->batch_size)
      return clsp__fail(ctx, CLSP_ERROR_OUT_OF_RANGE,
                        "coords row %zu: batch index %d outside [0, %d)", i, (int)c[0],
                        (int)d->batch_size);
    for (int a = 0; a < d->ndim; a++)
      if (c[1 + a] < 0 || c[1 + a] >= d->shape[a])
        return clsp__fail(ctx, CLSP_ERROR_OUT_OF_RANGE,
                          "coords row %zu: axis %d coordinate %d outside [0, %d)", i, a,
                          (int)c[1 + a], (int)d->shape[a]);
  }
  return CLSP_SUCCESS;
}

clsp_status clsp__tensor_adopt(clsp_context *ctx, const clsp_tensor_desc *desc,
                               cl_mem coords, cl_mem feats, uint64_t sites_id,
                               clsp_tensor **out) {
  clsp_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    clsp__buffer_release(ctx, &coords);
    clsp__buffer_release(ctx, &feats);
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "tensor");
  }
  t->ctx = ctx;
  t->desc = *desc;
  t->coords = coords;
  t->feats = feats;
  t->sites_id = sites_id;
  *out = t;
  return CLSP_SUCCESS;
}

static clsp_status upload(clsp_context *ctx, const clsp_tensor_desc *d,
                          const int32_t *coords, const float *feats, cl_mem *c,
                          cl_mem *f) {
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                       coord_bytes(d), (void *)coords, "tensor coords", c);
  if (st != CLSP_SUCCESS) return st;
  cl_mem_flags ff = CL_MEM_READ_WRITE | (feats ? CL_MEM_COPY_HOST_PTR : 0);
  st = clsp__buffer_create(ctx, ff, feat_bytes(d), (void *)feats, "tensor feats", f);
  if (st == CLSP_SUCCESS && !feats)
    st = clsp__buffer_fill32(ctx, *f, 0, 0, feat_bytes(d), NULL);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, c);
    clsp__buffer_release(ctx, f);
  }
  return st;
}

clsp_status clsp_tensor_create(clsp_context *ctx, const clsp_tensor_desc *desc,
                               const int32_t *coords, const float *feats,
                               clsp_tensor **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!desc) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "desc: NULL");
  clsp_status st = clsp__tensor_desc_check(ctx, desc);
  if (st != CLSP_SUCCESS) return st;
  if (!coords && desc->n_sites > 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "coords: NULL with n_sites = %zu",
                      desc->n_sites);
  if (desc->n_sites > 0) st = check_coords(ctx, desc, coords);
  cl_mem c = NULL, f = NULL;
  if (st == CLSP_SUCCESS) st = upload(ctx, desc, coords, feats, &c, &f);
  if (st != CLSP_SUCCESS) return st;
  return clsp__tensor_adopt(ctx, desc, c, f, clsp__new_sites_id(), out);
}

static clsp_status check_wrapped_buffer(clsp_context *ctx, cl_mem m, size_t need,
                                        const char *name) {
  size_t size = 0;
  cl_context owner = NULL;
  if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof size, &size, NULL) != CL_SUCCESS ||
      clGetMemObjectInfo(m, CL_MEM_CONTEXT, sizeof owner, &owner, NULL) != CL_SUCCESS)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: not a valid cl_mem", name);
  if (owner != ctx->cl)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "%s: buffer belongs to another cl_context than the clsp context's",
                      name);
  if (size < need)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "%s: buffer holds %zu bytes, the declared shape needs %zu", name,
                      size, need);
  return CLSP_SUCCESS;
}

clsp_status clsp_tensor_wrap(clsp_context *ctx, const clsp_tensor_desc *desc,
                             cl_mem coords, cl_mem feats, clsp_tensor **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!desc) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "desc: NULL");
  if (!coords || !feats)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL",
                      coords ? "feats" : "coords");
  if (desc->flags & CLSP_TENSOR_MERGE_DUPLICATES)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "desc->flags: CLSP_TENSOR_MERGE_DUPLICATES is not offered for "
                      "wrapped buffers");
  clsp_status st = clsp__tensor_desc_check(ctx, desc);
  if (st == CLSP_SUCCESS) st = check_wrapped_buffer(ctx, coords, coord_bytes(desc), "coords");
  if (st == CLSP_SUCCESS) st = check_wrapped_buffer(ctx, feats, feat_bytes(desc), "feats");
  if (st != CLSP_SUCCESS) return st;
  clsp_tensor *t = calloc(1, sizeof *t);
  if (!t) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "tensor");
  clRetainMemObject(coords);
  clRetainMemObject(feats);
  *t = (clsp_tensor){ctx, *desc, coords, feats, 1, clsp__new_sites_id()};
  *out = t;
  return CLSP_SUCCESS;
}

static clsp_status copy_out_coords(clsp_context *ctx, const clsp_rulebook *rb,
                                   size_t bytes, cl_mem *dst) {
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL,
                                       "tensor coords", dst);
  if (st != CLSP_SUCCESS || bytes == 0) return st;
  cl_int err = clEnqueueCopyBuffer(ctx->queue, rb->out_coords, *dst, 0, 0, bytes, 0,
                                   NULL, NULL);
  if (err != CL_SUCCESS) {
    clsp__buffer_release(ctx, dst);
    return clsp__cl_fail(ctx, err, "copying rulebook output coords");
  }
  return CLSP_SUCCESS;
}

clsp_status clsp_tensor_create_on_output(clsp_context *ctx, const clsp_rulebook *rb,
                                         size_t channels, const float *feats,
                                         clsp_tensor **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!rb) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  clsp_tensor_desc d = {0};
  d.ndim = rb->info.ndim;
  memcpy(d.shape, rb->info.out_shape, sizeof d.shape);
  d.batch_size = rb->info.batch_size;
  d.n_sites = rb->info.n_out;
  d.channels = channels;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  clsp_status st = clsp__tensor_desc_check(ctx, &d);
  cl_mem c = NULL, f = NULL;
  if (st == CLSP_SUCCESS) st = copy_out_coords(ctx, rb, coord_bytes(&d), &c);
  if (st != CLSP_SUCCESS) return st;
  cl_mem_flags ff = CL_MEM_READ_WRITE | (feats ? CL_MEM_COPY_HOST_PTR : 0);
  st = clsp__buffer_create(ctx, ff, feat_bytes(&d), (void *)feats, "tensor feats", &f);
  if (st == CLSP_SUCCESS && !feats) st = clsp__buffer_fill32(ctx, f, 0, 0, feat_bytes(&d), NULL);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &c);
    clsp__buffer_release(ctx, &f);
    return st;
  }
  return clsp__tensor_adopt(ctx, &d, c, f, rb->out_sites_id, out);
}

clsp_status clsp_tensor_describe(const clsp_tensor *t, clsp_tensor_desc *out) {
  if (!t || !out) return CLSP_ERROR_INVALID_ARGUMENT;
  *out = t->desc;
  return CLSP_SUCCESS;
}

clsp_status clsp_tensor_download(clsp_context *ctx, const clsp_tensor *t,
                                 int32_t *coords, float *feats) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!t) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "t: NULL");
  if (t->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "t: tensor of another context");
  if (coords && t->desc.n_sites)
    CLSP_CL_CHECK(ctx,
                  clEnqueueReadBuffer(ctx->queue, t->coords, CL_TRUE, 0,
                                      coord_bytes(&t->desc), coords, 0, NULL, NULL),
                  "reading tensor coords");
  if (feats && t->desc.n_sites)
    CLSP_CL_CHECK(ctx,
                  clEnqueueReadBuffer(ctx->queue, t->feats, CL_TRUE, 0,
                                      feat_bytes(&t->desc), feats, 0, NULL, NULL),
                  "reading tensor feats");
  return CLSP_SUCCESS;
}

clsp_status clsp_tensor_buffers(const clsp_tensor *t, cl_mem *coords, cl_mem *feats) {
  if (!t) return CLSP_ERROR_INVALID_ARGUMENT;
  if (coords) *coords = t->coords;
  if (feats) *feats = t->feats;
  return CLSP_SUCCESS;
}

void clsp_tensor_destroy(clsp_tensor *t) {
  if (!t) return;
  if (t->wrapped) {
    clReleaseMemObject(t->coords);
    clReleaseMemObject(t->feats);
  } else {
    clsp__buffer_release(t->ctx, &t->coords);
    clsp__buffer_release(t->ctx, &t->feats);
  }
  free(t);
}
