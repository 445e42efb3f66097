/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse max/avg pooling over a rulebook's windows and global pooling per
 * batch item, forward and backward (cl/pool.cl; semantics in train.h).
 * The pairs (grouped by tap) become two tap-major lookup tables per call,
 * kvol x n_out and kvol x n_in uints; every kernel then reads one window
 * or one input's windows in tap order without atomics. */
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"
#include "programs.h"
#include "clspconv/train.h"

typedef struct pool_tables {
  cl_mem start, by_out, by_in;
} pool_tables;

static clsp_status check_type(clsp_context *ctx, clsp_pool_type type) {
  if (type != CLSP_POOL_MAX && type != CLSP_POOL_AVG)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "type: %d is neither CLSP_POOL_MAX nor CLSP_POOL_AVG", (int)type);
  return CLSP_SUCCESS;
}

static clsp_status check_tensor(clsp_context *ctx, const clsp_tensor *t,
                                const char *name) {
  if (!t) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL", name);
  if (t->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "%s: created on another context", name);
  return CLSP_SUCCESS;
}

static clsp_status check_pool(clsp_context *ctx, const clsp_rulebook *rb,
                              clsp_pool_type type, const clsp_tensor *in) {
  if (!rb) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  if (rb->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "rb: created on another context");
  clsp_status st = check_type(ctx, type);
  if (st == CLSP_SUCCESS) st = check_tensor(ctx, in, "in");
  if (st != CLSP_SUCCESS) return st;
  if (in->sites_id != rb->in_sites_id || in->desc.n_sites != rb->info.n_in)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "in: tensor (%zu sites) is not on the sites the rulebook was built "
                      "for (%zu sites)",
                      in->desc.n_sites, rb->info.n_in);
  size_t kvol = rb->info.kernel_volume,
         widest = rb->info.n_in > rb->info.n_out ? rb->info.n_in : rb->info.n_out;
  if (widest > 0 && kvol > UINT32_MAX / widest)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "rb: kernel_volume x sites = %zu x %zu exceeds the 32-bit index "
                      "range of the pooling tables",
                      kvol, widest);
  return CLSP_SUCCESS;
}

static clsp_status check_grad(clsp_context *ctx, const clsp_tensor *d_out, uint64_t sites,
                              size_t n_sites, size_t channels) {
  clsp_status st = check_tensor(ctx, d_out, "d_out");
  if (st != CLSP_SUCCESS) return st;
  if (d_out->sites_id != sites || d_out->desc.n_sites != n_sites)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "d_out: tensor (%zu sites) is not on the pooling's output sites "
                      "(%zu sites)",
                      d_out->desc.n_sites, n_sites);
  if (d_out->desc.channels != channels)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "d_out: %zu channels, the input has %zu",
                      d_out->desc.channels, channels);
  return CLSP_SUCCESS;
}

static void tables_release(clsp_context *ctx, pool_tables *t) {
  clsp__buffer_release(ctx, &t->start);
  clsp__buffer_release(ctx, &t->by_out);
  clsp__buffer_release(ctx, &t->by_in);
}

static clsp_status build_tables(clsp_context *ctx, const clsp_rulebook *rb,
                                pool_tables *t) {
  clsp_status st0 = clsp__rulebook_pairs(ctx, rb);
  if (st0 != CLSP_SUCCESS) return st0;
  uint32_t kvol = (uint32_t)rb->info.kernel_volume, n_pairs = rb->start[kvol];
  uint32_t n_in = (uint32_t)rb->info.n_in, n_out = (uint32_t)rb->info.n_out;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                       (kvol + 1) * sizeof(uint32_t), rb->start,
                                       "pool tap starts", &t->start);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)kvol * n_out * 4, NULL,
                             "pool table by output", &t->by_out);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)kvol * n_in * 4, NULL,
                             "pool table by input", &t->by_in);
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(ctx, t->by_out, CLSP_NONE_U32, 0, kvol * n_out, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(ctx, t->by_in, CLSP_NONE_U32, 0, kvol * n_in, NULL);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_POOL_TABLES, clsp_items(n_pairs), NULL, CLSP_A(rb->pair_in),
                  CLSP_A(rb->pair_out), CLSP_A(t->start), CLSP_A(kvol), CLSP_A(n_pairs),
                  CLSP_A(n_in), CLSP_A(n_out), CLSP_A(t->by_out), CLSP_A(t->by_in));
  if (st != CLSP_SUCCESS) tables_release(ctx, t);
  return st;
}

/* A new tensor (desc, a copy of `coords`, `feats` adopted) on site set `sites`. */
static clsp_status adopt_copy(clsp_context *ctx, const clsp_tensor_desc *desc,
                              cl_mem coords, cl_mem *feats, uint64_t sites,
                              clsp_tensor **out) {
  size_t bytes = desc->n_sites * (1 + (size_t)desc->ndim) * sizeof(int32_t);
  cl_mem c = NULL;
  clsp_status st = clsp__coords_copy(ctx, coords, bytes, &c);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, feats);
    return st;
  }
  st = clsp__tensor_adopt(ctx, desc, c, *feats, sites, out);
  *feats = NULL; /* adopted, or released on failure */
  return st;
}

/* The window results y (n_out x C) and, for max, the arg-max rows. */
static clsp_status window_forward(clsp_context *ctx, const clsp_rulebook *rb,
                                  clsp_pool_type type, const clsp_tensor *in,
                                  const pool_tables *t, cl_mem y, cl_mem arg) {
  uint32_t kvol = (uint32_t)rb->info.kernel_volume, n_out = (uint32_t)rb->info.n_out;
  uint32_t ch = (uint32_t)in->desc.channels;
  size_t n = (size_t)n_out * ch;
  if (type == CLSP_POOL_MAX)
    return CLSP_RUN(ctx, CLSP_K_POOL_MAX_FORWARD, clsp_items(n), NULL, CLSP_A(in->feats),
                    CLSP_A(ch), CLSP_A(t->by_out), CLSP_A(kvol), CLSP_A(n_out), CLSP_A(y),
                    CLSP_A(arg));
  return CLSP_RUN(ctx, CLSP_K_POOL_AVG_FORWARD, clsp_items(n), NULL, CLSP_A(in->feats),
                  CLSP_A(ch), CLSP_A(t->by_out), CLSP_A(kvol), CLSP_A(n_out), CLSP_A(y));
}

clsp_status clsp_pool_forward(clsp_context *ctx, const clsp_rulebook *rb,
                              clsp_pool_type type, const clsp_tensor *in,
                              clsp_tensor **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  clsp_status st = check_pool(ctx, rb, type, in);
  if (st != CLSP_SUCCESS) return st;
  pool_tables t = {0};
  cl_mem arg = NULL;
  size_t n = rb->info.n_out * in->desc.channels;
  st = clsp_tensor_create_on_output(ctx, rb, in->desc.channels, NULL, out);
  if (st == CLSP_SUCCESS) st = build_tables(ctx, rb, &t);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, n * 4, NULL, "pool arg-max", &arg);
  if (st == CLSP_SUCCESS) st = window_forward(ctx, rb, type, in, &t, (*out)->feats, arg);
  if (st != CLSP_SUCCESS) {
    clsp_tensor_destroy(*out);
    *out = NULL;
  }
  clsp__buffer_release(ctx, &arg);
  tables_release(ctx, &t);
  return st;
}

/* dx from dy: the arg-max (max) or window counts (avg), then one pass over
 * every input's windows. */
static clsp_status window_backward(clsp_context *ctx, const clsp_rulebook *rb,
                                   clsp_pool_type type, const clsp_tensor *in,
                                   const clsp_tensor *d_out, const pool_tables *t,
                                   cl_mem dx) {
  uint32_t kvol = (uint32_t)rb->info.kernel_volume, n_out = (uint32_t)rb->info.n_out;
  uint32_t n_in = (uint32_t)rb->info.n_in, ch = (uint32_t)in->desc.channels;
  int32_t is_max = type == CLSP_POOL_MAX;
  cl_mem y = NULL, arg = NULL, count = NULL;
  size_t n = (size_t)n_out * ch;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, n * 4, NULL, "pool output", &y);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, n * 4, NULL, "pool arg-max", &arg);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_out * 4, NULL,
                             "pool window counts", &count);
  if (st == CLSP_SUCCESS && is_max) st = window_forward(ctx, rb, type, in, t, y, arg);
  if (st == CLSP_SUCCESS && !is_max)
    st = CLSP_RUN(ctx, CLSP_K_POOL_COUNTS, clsp_items(n_out), NULL, CLSP_A(t->by_out),
                  CLSP_A(kvol), CLSP_A(n_out), CLSP_A(count));
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_POOL_BACKWARD, clsp_items((size_t)n_in * ch), NULL,
                  CLSP_A(d_out->feats), CLSP_A(ch), CLSP_A(t->by_in), CLSP_A(kvol),
                  CLSP_A(n_in), CLSP_A(arg), CLSP_A(count), CLSP_A(is_max), CLSP_A(dx));
  clsp__buffer_release(ctx, &y);
  clsp__buffer_release(ctx, &arg);
  clsp__buffer_release(ctx, &count);
  return st;
}

clsp_status clsp_pool_backward(clsp_context *ctx, const clsp_rulebook *rb,
                               clsp_pool_type type, const clsp_tensor *in,
                               const clsp_tensor *d_out, clsp_tensor **d_in) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!d_in) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "d_in: NULL");
  *d_in = NULL;
  clsp_status st = check_pool(ctx, rb, type, in);
  if (st == CLSP_SUCCESS)
    st = check_grad(ctx, d_out, rb->out_sites_id, rb->info.n_out, in->desc.channels);
  if (st != CLSP_SUCCESS) return st;
  pool_tables t = {0};
  cl_mem dx = NULL;
  clsp_tensor_desc d = in->desc;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  st = build_tables(ctx, rb, &t);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, d.n_sites * d.channels * 4, NULL,
                             "pool input gradient", &dx);
  if (st == CLSP_SUCCESS) st = window_backward(ctx, rb, type, in, d_out, &t, dx);
  if (st == CLSP_SUCCESS) st = adopt_copy(ctx, &d, in->coords, &dx, in->sites_id, d_in);
  clsp__buffer_release(ctx, &dx);
  tables_release(ctx, &t);
  return st;
}

/* ---- global pooling ---- */

typedef struct gpool {
  cl_mem y, arg, count;
} gpool;

static void gpool_release(clsp_context *ctx, gpool *g) {
  clsp__buffer_release(ctx, &g->y);
  clsp__buffer_release(ctx, &g->arg);
  clsp__buffer_release(ctx, &g->count);
}

static clsp_status gpool_forward(clsp_context *ctx, clsp_pool_type type,
                                 const clsp_tensor *in, gpool *g) {
  uint32_t cols = 1 + (uint32_t)in->desc.ndim, n = (uint32_t)in->desc.n_sites;
  uint32_t ch = (uint32_t)in->desc.channels, batch = (uint32_t)in->desc.batch_size;
  int32_t is_max = type == CLSP_POOL_MAX;
  size_t bytes = (size_t)batch * ch * 4;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "global pool output", &g->y);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "global pool arg-max",
                             &g->arg);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "global pool counts",
                             &g->count);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_GPOOL_FORWARD, clsp_items((size_t)batch * ch), NULL,
                  CLSP_A(in->feats), CLSP_A(in->coords), CLSP_A(cols), CLSP_A(n),
                  CLSP_A(ch), CLSP_A(batch), CLSP_A(is_max), CLSP_A(g->y), CLSP_A(g->arg),
                  CLSP_A(g->count));
  return st;
}

static clsp_status check_global(clsp_context *ctx, clsp_pool_type type,
                                const clsp_tensor *in, const void *host) {
  clsp_status st = check_type(ctx, type);
  if (st == CLSP_SUCCESS) st = check_tensor(ctx, in, "in");
  if (st == CLSP_SUCCESS && !host)
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "host array: NULL");
  return st;
}

clsp_status clsp_global_pool_forward(clsp_context *ctx, clsp_pool_type type,
                                     const clsp_tensor *in, float *out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = check_global(ctx, type, in, out);
  if (st != CLSP_SUCCESS) return st;
  gpool g = {0};
  st = gpool_forward(ctx, type, in, &g);
  size_t bytes = (size_t)in->desc.batch_size * in->desc.channels * sizeof(float);
  if (st == CLSP_SUCCESS) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, g.y, CL_TRUE, 0, bytes, out, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the global pool");
  }
  gpool_release(ctx, &g);
  return st;
}

clsp_status clsp_global_pool_backward(clsp_context *ctx, clsp_pool_type type,
                                      const clsp_tensor *in, const float *d_out,
                                      clsp_tensor **d_in) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!d_in) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "d_in: NULL");
  *d_in = NULL;
  clsp_status st = check_global(ctx, type, in, d_out);
  if (st != CLSP_SUCCESS) return st;
  gpool g = {0};
  cl_mem dy = NULL, dx = NULL;
  uint32_t cols = 1 + (uint32_t)in->desc.ndim, n = (uint32_t)in->desc.n_sites;
  uint32_t ch = (uint32_t)in->desc.channels;
  int32_t is_max = type == CLSP_POOL_MAX;
  clsp_tensor_desc d = in->desc;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  st = gpool_forward(ctx, type, in, &g);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (size_t)d.batch_size * ch * sizeof(float), (void *)d_out,
                             "global pool gradient", &dy);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * ch * 4, NULL,
                             "global pool input gradient", &dx);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_GPOOL_BACKWARD, clsp_items((size_t)n * ch), NULL,
                  CLSP_A(dy), CLSP_A(in->coords), CLSP_A(cols), CLSP_A(n), CLSP_A(ch),
                  CLSP_A(is_max), CLSP_A(g.arg), CLSP_A(g.count), CLSP_A(dx));
  if (st == CLSP_SUCCESS) st = adopt_copy(ctx, &d, in->coords, &dx, in->sites_id, d_in);
  clsp__buffer_release(ctx, &dx);
  clsp__buffer_release(ctx, &dy);
  gpool_release(ctx, &g);
  return st;
}
