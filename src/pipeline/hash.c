/* SPDX-License-Identifier: Apache-2.0 */
/* Packed coordinate keys and the device hash (cl/hash.cl). */
#include <string.h>
#include "pipeline.h"

static uint32_t bits_for(int64_t extent) {
  uint32_t b = 0;
  while (((int64_t)1 << b) < extent) b++;
  return b;
}

clsp_status clsp__keyspec(clsp_context *ctx, int ndim, const int32_t *shape,
                          int32_t batch, const char *what, clsp_keyspec *ks) {
  memset(ks, 0, sizeof *ks);
  ks->ndim = ndim;
  ks->batch = batch;
  ks->total_bits = bits_for(batch);
  for (int a = 0; a < ndim; a++) {
    ks->shape[a] = shape[a];
    ks->bits[a] = bits_for(shape[a]);
    ks->total_bits += ks->bits[a];
  }
  for (int a = ndim; a < CLSP_MAX_DIMS; a++) ks->shape[a] = 1;
  if (ks->total_bits > CLSP_KEY_BITS_MAX)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "%s: batch %d x shape (%d, %d, %d, %d)[:%d] needs a %u-bit "
                      "coordinate key, the device hash supports %d bits",
                      what, (int)batch, (int)shape[0], ndim > 1 ? (int)shape[1] : 0,
                      ndim > 2 ? (int)shape[2] : 0, ndim > 3 ? (int)shape[3] : 0, ndim,
                      ks->total_bits, CLSP_KEY_BITS_MAX);
  return CLSP_SUCCESS;
}

static cl_int4 int4_of(const int32_t *v) {
  cl_int4 r;
  for (int a = 0; a < 4; a++) r.s[a] = v[a];
  return r;
}

static cl_uint4 uint4_of(const uint32_t *v) {
  cl_uint4 r;
  for (int a = 0; a < 4; a++) r.s[a] = v[a];
  return r;
}

clsp_status clsp__keys_from_coords(clsp_context *ctx, const clsp_keyspec *ks,
                                   cl_mem coords, uint32_t n, cl_mem *keys,
                                   uint32_t *bad_row, clsp_events *l) {
  cl_mem bad = NULL;
  *bad_row = CLSP_NONE_U32;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 8, NULL,
                                       "coordinate keys", keys);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, 4, NULL, "bad-row flag", &bad);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, bad, CLSP_NONE_U32, 0, 1, l);
  cl_int4 shape = int4_of(ks->shape);
  cl_uint4 bits = uint4_of(ks->bits);
  cl_int ndim = ks->ndim, batch = ks->batch;
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_KEYS_FROM_COORDS, clsp_items(n), l, CLSP_A(coords),
                  CLSP_A(n), CLSP_A(ndim), CLSP_A(shape), CLSP_A(batch), CLSP_A(bits),
                  CLSP_A(*keys), CLSP_A(bad));
  if (st == CLSP_SUCCESS && n) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, bad, CL_TRUE, 0, 4, bad_row, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the bad-row flag");
  }
  clsp__buffer_release(ctx, &bad);
  if (st != CLSP_SUCCESS) clsp__buffer_release(ctx, keys);
  return st;
}

void clsp__hash_args(const clsp_hash *h, clsp_arg *args, uint32_t *mask) {
  *mask = h->capacity - 1;
  /* The 32-bit path has no key slots; the kernels never read the argument,
   * any buffer will do. */
  args[0] = (clsp_arg){sizeof(cl_mem), h->slot_keys ? &h->slot_keys : &h->slot_vals};
  args[1] = (clsp_arg){sizeof(cl_mem), &h->slot_vals};
  args[2] = (clsp_arg){sizeof(uint32_t), mask};
  args[3] = (clsp_arg){sizeof(cl_mem), &h->keys};
}

clsp_status clsp__hash_build(clsp_context *ctx, cl_mem keys, uint32_t n, clsp_hash *h,
                             clsp_events *l) {
  return clsp__hash_build_bounded(ctx, keys, n, n, h, l);
}

/* The table for at most `keys` distinct keys at load <= 1/2, filled empty,
 * then the n rows inserted, each probing at most max_probes slots (a key
 * that finds none sets *overflow, which may be slot_vals itself when
 * max_probes = capacity: then no key can fail). */
static clsp_status hash_fill_insert(clsp_context *ctx, cl_mem keys, uint32_t n,
                                    uint32_t keys_bound, int bounded_probes,
                                    cl_mem overflow, clsp_hash *h, clsp_events *l) {
  memset(h, 0, sizeof *h);
  h->keys = keys;
  h->n = n;
  h->hash64 = ctx->tuning.hash64;
  uint64_t cap = 16;
  while (cap < 2 * (uint64_t)keys_bound) cap *= 2;
  if (cap > ((uint64_t)1 << 31))
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "hash: %u keys need %llu slots, beyond 32-bit slot indices", n,
                      (unsigned long long)cap);
  h->capacity = (uint32_t)cap;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)cap * 4, NULL,
                                       "hash values", &h->slot_vals);
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(ctx, h->slot_vals, CLSP_NONE_U32, 0, (uint32_t)cap, l);
  if (st == CLSP_SUCCESS && h->hash64)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)cap * 8, NULL, "hash keys",
                             &h->slot_keys);
  if (st == CLSP_SUCCESS && h->hash64)
    st = clsp__fill_u32(ctx, h->slot_keys, CLSP_NONE_U32, 0, (uint32_t)(cap * 2), l);
  clsp_arg a[7];
  uint32_t mask, max_probes = bounded_probes ? CLSP_HASH_GUESS_PROBES : h->capacity;
  clsp__hash_args(h, a, &mask);
  a[4] = (clsp_arg){sizeof n, &n};
  a[5] = (clsp_arg){sizeof max_probes, &max_probes};
  a[6] = (clsp_arg){sizeof(cl_mem), overflow ? &overflow : &h->slot_vals};
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, CLSP_K_HASH_INSERT, clsp_items(n), l, a, 7);
  if (st != CLSP_SUCCESS) clsp__hash_release(ctx, h);
  return st;
}

clsp_status clsp__hash_build_bounded(clsp_context *ctx, cl_mem keys, uint32_t n,
                                     uint32_t max_keys, clsp_hash *h, clsp_events *l) {
  return hash_fill_insert(ctx, keys, n, max_keys < n ? max_keys : n, 0, NULL, h, l);
}

clsp_status clsp__hash_build_guess(clsp_context *ctx, cl_mem keys, uint32_t n,
                                   uint32_t guess, uint32_t max_keys, clsp_hash *h,
                                   clsp_events *l) {
  if (guess >= max_keys || guess >= n)
    return clsp__hash_build_bounded(ctx, keys, n, max_keys, h, l);
  cl_mem overflow = NULL;
  cl_uint flag = 0;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, 4, NULL, "hash overflow flag", &overflow);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, overflow, 0, 0, 1, l);
  if (st == CLSP_SUCCESS) st = hash_fill_insert(ctx, keys, n, guess, 1, overflow, h, l);
  if (st == CLSP_SUCCESS) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, overflow, CL_TRUE, 0, 4, &flag, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
      st = clsp__cl_fail(ctx, err, "reading the hash overflow flag");
      clsp__hash_release(ctx, h);
    }
  }
  clsp__buffer_release(ctx, &overflow);
  if (st != CLSP_SUCCESS || !flag) return st;
  clsp__hash_release(ctx, h); /* more keys than guessed: size for the bound */
  return clsp__hash_build_bounded(ctx, keys, n, max_keys, h, l);
}

clsp_status clsp__hash_firsts(clsp_context *ctx, const clsp_hash *h, cl_mem sel,
                              uint32_t *dup_row, clsp_events *l) {
  cl_mem dup = NULL;
  uint32_t n = h->n, mask;
  *dup_row = CLSP_NONE_U32;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, 4, NULL, "duplicate flag", &dup);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, dup, CLSP_NONE_U32, 0, 1, l);
  clsp_arg a[7];
  clsp__hash_args(h, a, &mask);
  a[4] = (clsp_arg){sizeof n, &n};
  a[5] = (clsp_arg){sizeof sel, &sel};
  a[6] = (clsp_arg){sizeof dup, &dup};
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, CLSP_K_HASH_FIRSTS, clsp_items(n), l, a, 7);
  if (st == CLSP_SUCCESS && n) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, dup, CL_TRUE, 0, 4, dup_row, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the duplicate flag");
  }
  clsp__buffer_release(ctx, &dup);
  return st;
}

clsp_status clsp__hash_firsts_by_slot(clsp_context *ctx, const clsp_hash *h, cl_mem sel,
                                      clsp_events *l) {
  uint32_t cap = h->capacity;
  clsp_status st = clsp__fill_u32(ctx, sel, CLSP_NONE_U32, 0, h->n, l);
  if (st == CLSP_SUCCESS && h->n)
    st = CLSP_RUN(ctx, CLSP_K_HASH_FIRSTS_BY_SLOT, clsp_items(cap), l,
                  CLSP_A(h->slot_vals), CLSP_A(cap), CLSP_A(sel));
  return st;
}

clsp_status clsp__hash_probe_stats(clsp_context *ctx, const clsp_hash *h, double *mean,
                                   uint32_t *max) {
  cl_mem stats = NULL;
  uint32_t n = h->n, mask, host[2] = {0, 0};
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, 8, NULL, "probe stats", &stats);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, stats, 0, 0, 2, NULL);
  clsp_arg a[6];
  clsp__hash_args(h, a, &mask);
  a[4] = (clsp_arg){sizeof n, &n};
  a[5] = (clsp_arg){sizeof stats, &stats};
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, CLSP_K_HASH_PROBE_STATS, clsp_items(n), NULL, a, 6);
  if (st == CLSP_SUCCESS) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, stats, CL_TRUE, 0, 8, host, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading probe stats");
  }
  clsp__buffer_release(ctx, &stats);
  *mean = n ? (double)host[0] / n : 0;
  *max = host[1];
  return st;
}

void clsp__hash_release(clsp_context *ctx, clsp_hash *h) {
  clsp__buffer_release(ctx, &h->slot_keys);
  clsp__buffer_release(ctx, &h->slot_vals);
  h->keys = NULL;
}
