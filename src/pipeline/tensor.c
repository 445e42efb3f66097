/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse tensors: creation from host arrays or caller buffers, download. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

uint64_t clsp__new_sites_id(void) {
  static atomic_uint_fast64_t next = 1;
  return (uint64_t)atomic_fetch_add(&next, 1);
}

clsp_status clsp__tensor_desc_check(clsp_context *ctx, const clsp_tensor_desc *d) {
  if (d->ndim < 1 || d->ndim > CLSP_MAX_DIMS)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "desc->ndim = %d: must be 1..%d",
                      d->ndim, CLSP_MAX_DIMS);
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
  /* N = 0 is valid: no host pointer to copy from (1-byte buffers). */
  int copy = d->n_sites > 0;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE | (copy ? CL_MEM_COPY_HOST_PTR : 0),
                        coord_bytes(d), copy ? (void *)coords : NULL, "tensor coords", c);
  if (st != CLSP_SUCCESS) return st;
  cl_mem_flags ff = CL_MEM_READ_WRITE | (feats && copy ? CL_MEM_COPY_HOST_PTR : 0);
  st = clsp__buffer_create(ctx, ff, feat_bytes(d), (void *)feats, "tensor feats", f);
  if (st == CLSP_SUCCESS && !(feats && copy))
    st = clsp__fill_u32(ctx, *f, 0, 0, (uint32_t)(d->n_sites * d->channels), NULL);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, c);
    clsp__buffer_release(ctx, f);
  }
  return st;
}

/* Formats row `row` of host coordinates as "(b, c1, ...)". */
static void format_row(const int32_t *c, int ndim, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "(%d", (int)c[0]);
  for (int a = 0; a < ndim && n > 0 && (size_t)n < cap; a++)
    n += snprintf(buf + n, cap - (size_t)n, ", %d", (int)c[1 + a]);
  if (n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, ")");
}

/* Error path only: names the row the device flagged, with its values, and
 * for a duplicate the earlier row it repeats. */
static clsp_status report_row(clsp_context *ctx, const clsp_tensor *t, uint32_t row,
                              clsp_status code) {
  size_t w = (size_t)(1 + t->desc.ndim);
  int32_t *all = malloc(t->desc.n_sites * w * sizeof *all);
  if (!all || clsp_tensor_download(ctx, t, all, NULL) != CLSP_SUCCESS) {
    free(all);
    return clsp__fail(ctx, code, "coords row %u: %s", row,
                      code == CLSP_ERROR_DUPLICATE_COORDS
                        ? "repeats an earlier row's coordinates"
                        : "outside the shape or batch size");
  }
  char text[160];
  format_row(all + row * w, t->desc.ndim, text, sizeof text);
  if (code == CLSP_ERROR_OUT_OF_RANGE) {
    free(all);
    return clsp__fail(ctx, code,
                      "coords row %u = %s lies outside batch size %d or the shape", row,
                      text, (int)t->desc.batch_size);
  }
  size_t first = 0;
  while (first < row && memcmp(all + first * w, all + row * w, w * sizeof *all) != 0)
    first++;
  free(all);
  return clsp__fail(ctx, code,
                    "coords row %u = %s duplicates row %zu (set "
                    "CLSP_TENSOR_MERGE_DUPLICATES to sum their features)",
                    row, text, first);
}

/* Sums the features of duplicate sites (device): the first rows of every
 * key are compacted in order, rows are sorted stably by key, and each run
 * of equal keys is summed in row order into its first row's new place. */
static clsp_status merge_duplicates(clsp_context *ctx, clsp_tensor *t,
                                    const clsp_keyspec *ks, cl_mem *keys, cl_mem sel) {
  uint32_t n = (uint32_t)t->desc.n_sites, zero = 0, ch = (uint32_t)t->desc.channels;
  cl_int ndim = t->desc.ndim;
  clsp_compaction c = {0};
  cl_mem first = NULL, rank = NULL, rows = NULL, nc = NULL, nf = NULL;
  clsp_status st = clsp__compact_count(ctx, sel, n, &c, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * 4, NULL,
                             "merge firsts", &first);
  if (st == CLSP_SUCCESS) st = clsp__compact_emit(ctx, sel, &c, first, NULL, 0, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, "merge ranks",
                             &rank);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_RANK, clsp_items(c.total), NULL, CLSP_A(first),
                  CLSP_A(c.total), CLSP_A(rank));
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, "merge rows",
                             &rows);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_IOTA_U32, clsp_items(n), NULL, CLSP_A(rows), CLSP_A(zero),
                  CLSP_A(n));
  if (st == CLSP_SUCCESS)
    st = clsp__radix_sort(ctx, keys, &rows, n, ks->total_bits, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             (size_t)c.total * (size_t)(1 + ndim) * 4, NULL,
                             "tensor coords", &nc);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * ch * 4, NULL,
                             "tensor feats", &nf);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_MERGE, clsp_items(n), NULL, CLSP_A(*keys), CLSP_A(rows),
                  CLSP_A(n), CLSP_A(rank), CLSP_A(t->coords), CLSP_A(t->feats),
                  CLSP_A(ch), CLSP_A(ndim), CLSP_A(nc), CLSP_A(nf));
  if (st == CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &t->coords);
    clsp__buffer_release(ctx, &t->feats);
    t->coords = nc;
    t->feats = nf;
    nc = nf = NULL;
    t->desc.n_sites = c.total;
  }
  clsp__compact_release(ctx, &c);
  clsp__buffer_release(ctx, &first);
  clsp__buffer_release(ctx, &rank);
  clsp__buffer_release(ctx, &rows);
  clsp__buffer_release(ctx, &nc);
  clsp__buffer_release(ctx, &nf);
  return st;
}

/* Device-side validation of a tensor's coordinates: range (first bad row
 * by atomic_min), then duplicates through the device hash, merged when
 * asked. */
static clsp_status device_validate(clsp_context *ctx, clsp_tensor *t) {
  uint32_t n = (uint32_t)t->desc.n_sites, bad = CLSP_NONE_U32, dup = CLSP_NONE_U32;
  clsp_keyspec ks;
  clsp_hash h = {0};
  cl_mem keys = NULL, sel = NULL;
  clsp_status st =
    clsp__keyspec(ctx, t->desc.ndim, t->desc.shape, t->desc.batch_size, "desc", &ks);
  if (st != CLSP_SUCCESS || n == 0) return st;
  st = clsp__keys_from_coords(ctx, &ks, t->coords, n, &keys, &bad, NULL);
  if (st == CLSP_SUCCESS && bad != CLSP_NONE_U32)
    st = report_row(ctx, t, bad, CLSP_ERROR_OUT_OF_RANGE);
  int check_dups = !(t->desc.flags & CLSP_TENSOR_TRUSTED_UNIQUE) ||
                   (t->desc.flags & CLSP_TENSOR_MERGE_DUPLICATES);
  if (st == CLSP_SUCCESS && check_dups) {
    st = clsp__hash_build(ctx, keys, n, &h, NULL);
    if (st == CLSP_SUCCESS)
      st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, "first rows",
                               &sel);
    if (st == CLSP_SUCCESS) st = clsp__hash_firsts(ctx, &h, sel, &dup, NULL);
    clsp__hash_release(ctx, &h);
  }
  if (st == CLSP_SUCCESS && dup != CLSP_NONE_U32) {
    if (t->desc.flags & CLSP_TENSOR_MERGE_DUPLICATES)
      st = merge_duplicates(ctx, t, &ks, &keys, sel);
    else
      st = report_row(ctx, t, dup, CLSP_ERROR_DUPLICATE_COORDS);
  }
  clsp__buffer_release(ctx, &keys);
  clsp__buffer_release(ctx, &sel);
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
  if (st == CLSP_SUCCESS)
    st = clsp__tensor_adopt(ctx, desc, c, f, clsp__new_sites_id(), out);
  if (st == CLSP_SUCCESS) st = device_validate(ctx, *out);
  if (st != CLSP_SUCCESS && *out) {
    clsp_tensor_destroy(*out);
    *out = NULL;
  }
  return st;
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
  if (st == CLSP_SUCCESS)
    st = check_wrapped_buffer(ctx, coords, coord_bytes(desc), "coords");
  if (st == CLSP_SUCCESS)
    st = check_wrapped_buffer(ctx, feats, feat_bytes(desc), "feats");
  if (st != CLSP_SUCCESS) return st;
  clsp_tensor *t = calloc(1, sizeof *t);
  if (!t) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "tensor");
  clRetainMemObject(coords);
  clRetainMemObject(feats);
  *t = (clsp_tensor){ctx, *desc, coords, feats, 1, clsp__new_sites_id(), 0};
  st = device_validate(ctx, t);
  if (st != CLSP_SUCCESS) {
    clsp_tensor_destroy(t);
    return st;
  }
  *out = t;
  return CLSP_SUCCESS;
}

clsp_status clsp__coords_copy(clsp_context *ctx, cl_mem src, size_t bytes, cl_mem *dst) {
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "tensor coords", dst);
  if (st != CLSP_SUCCESS || bytes == 0) return st;
  cl_int err = clEnqueueCopyBuffer(ctx->queue, src, *dst, 0, 0, bytes, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    clsp__buffer_release(ctx, dst);
    return clsp__cl_fail(ctx, err, "copying coords");
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
  if (rb->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "rb: rulebook of another context");
  clsp_tensor_desc d = {0};
  d.ndim = rb->info.ndim;
  memcpy(d.shape, rb->info.out_shape, sizeof d.shape);
  d.batch_size = rb->info.batch_size;
  d.n_sites = rb->info.n_out;
  d.channels = channels;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  clsp_status st = clsp__tensor_desc_check(ctx, &d);
  cl_mem c = NULL, f = NULL;
  if (st == CLSP_SUCCESS)
    st = clsp__coords_copy(ctx, rb->out_coords, coord_bytes(&d), &c);
  if (st != CLSP_SUCCESS) return st;
  cl_mem_flags ff = CL_MEM_READ_WRITE | (feats ? CL_MEM_COPY_HOST_PTR : 0);
  st = clsp__buffer_create(ctx, ff, feat_bytes(&d), (void *)feats, "tensor feats", &f);
  if (st == CLSP_SUCCESS && !feats)
    st = clsp__fill_u32(ctx, f, 0, 0, (uint32_t)(feat_bytes(&d) / 4), NULL);
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

clsp_status clsp_tensor_download(clsp_context *ctx, const clsp_tensor *t, int32_t *coords,
                                 float *feats) {
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
