/* SPDX-License-Identifier: Apache-2.0 */
/* The data-parallel primitives of the rulebook: exclusive scan, stream
 * compaction, radix sort (cl/scan.cl, cl/sort.cl). All of them are exact
 * and deterministic; chunk and block sizes come from ctx->tuning. */
#include <string.h>
#include "pipeline.h"

clsp_status clsp__fill_u32(clsp_context *ctx, cl_mem m, uint32_t value, uint32_t first,
                           uint32_t n, clsp_events *l) {
  return CLSP_RUN(ctx, CLSP_K_FILL_RANGE_U32, clsp_items(n), l, CLSP_A(m), CLSP_A(value),
                  CLSP_A(first), CLSP_A(n));
}

static uint32_t chunks_of(uint32_t n, uint32_t chunk) {
  return (uint32_t)(((uint64_t)n + chunk - 1) / chunk);
}

clsp_status clsp__scan_exclusive(clsp_context *ctx, cl_mem data, uint32_t n,
                                 clsp_events *l) {
  if (n == 0) return CLSP_SUCCESS;
  uint32_t chunk = ctx->tuning.scan_chunk, nc = chunks_of(n, chunk);
  /* One chunk: one work-item, one launch (the top of every scan). */
  if (nc == 1)
    return CLSP_RUN(ctx, CLSP_K_SCAN_ONE, clsp_items(1), l, CLSP_A(data), CLSP_A(n));
  cl_mem sums = NULL;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)nc * 4, NULL,
                                       "scan chunk sums", &sums);
  if (st != CLSP_SUCCESS) return st;
  st = CLSP_RUN(ctx, CLSP_K_SCAN_REDUCE, clsp_items(nc), l, CLSP_A(data), CLSP_A(n),
                CLSP_A(chunk), CLSP_A(sums), CLSP_A(nc));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, sums, nc, l);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_SCAN_APPLY, clsp_items(nc), l, CLSP_A(data), CLSP_A(n),
                  CLSP_A(chunk), CLSP_A(sums), CLSP_A(nc));
  clsp__buffer_release(ctx, &sums);
  return st;
}

clsp_status clsp__compact_count(clsp_context *ctx, cl_mem sel, uint32_t n,
                                clsp_compaction *c, clsp_events *l) {
  uint32_t chunk = ctx->tuning.scan_chunk;
  memset(c, 0, sizeof *c);
  c->n = n;
  c->n_chunks = chunks_of(n, chunk);
  uint32_t m = c->n_chunks + 1;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)m * 4, NULL,
                                       "compaction offsets", &c->offsets);
  /* The kernel zeroes the extra last entry: after the scan, the total
   * (nothing launches for n = 0: a fill does it). */
  if (st == CLSP_SUCCESS && c->n_chunks == 0)
    st = clsp__fill_u32(ctx, c->offsets, 0, 0, 1, l);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_COMPACT_COUNT, clsp_items(c->n_chunks), l, CLSP_A(sel),
                  CLSP_A(n), CLSP_A(chunk), CLSP_A(c->offsets), CLSP_A(c->n_chunks));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, c->offsets, m, l);
  if (st == CLSP_SUCCESS) {
    cl_int err =
      clEnqueueReadBuffer(ctx->queue, c->offsets, CL_TRUE, (size_t)c->n_chunks * 4, 4,
                          &c->total, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the compaction total");
  }
  if (st != CLSP_SUCCESS) clsp__compact_release(ctx, c);
  return st;
}

clsp_status clsp__compact_emit(clsp_context *ctx, cl_mem sel, const clsp_compaction *c,
                               cl_mem out_val, cl_mem out_idx, uint32_t modulus,
                               clsp_events *l) {
  uint32_t chunk = ctx->tuning.scan_chunk;
  cl_mem idx = out_idx ? out_idx : out_val;
  return CLSP_RUN(ctx, CLSP_K_COMPACT_EMIT, clsp_items(c->n_chunks), l, CLSP_A(sel),
                  CLSP_A(c->n), CLSP_A(chunk), CLSP_A(c->offsets), CLSP_A(c->n_chunks),
                  CLSP_A(out_val), CLSP_A(idx), CLSP_A(modulus));
}

clsp_status clsp__compact_positions(clsp_context *ctx, cl_mem sel,
                                    const clsp_compaction *c, uint32_t stride,
                                    uint32_t n_q, cl_mem positions, clsp_events *l) {
  uint32_t chunk = ctx->tuning.scan_chunk;
  return CLSP_RUN(ctx, CLSP_K_COMPACT_POSITIONS, clsp_items(n_q), l, CLSP_A(sel),
                  CLSP_A(chunk), CLSP_A(c->offsets), CLSP_A(stride), CLSP_A(n_q),
                  CLSP_A(positions));
}

void clsp__compact_release(clsp_context *ctx, clsp_compaction *c) {
  clsp__buffer_release(ctx, &c->offsets);
}

/* One 4-bit pass from (keys, vals) into (keys2, vals2). */
static clsp_status radix_pass(clsp_context *ctx, cl_mem keys, cl_mem vals, cl_mem keys2,
                              cl_mem vals2, uint32_t n, uint32_t shift, cl_mem hist,
                              clsp_events *l) {
  uint32_t block = ctx->tuning.radix_block, nb = chunks_of(n, block);
  uint32_t has_vals = vals != NULL;
  cl_mem v = vals ? vals : keys, v2 = vals2 ? vals2 : keys2;
  clsp_status st =
    CLSP_RUN(ctx, CLSP_K_RADIX_HIST, clsp_items(nb), l, CLSP_A(keys), CLSP_A(n),
             CLSP_A(block), CLSP_A(shift), CLSP_A(hist), CLSP_A(nb));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, hist, nb * 16u, l);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RADIX_SCATTER, clsp_items(nb), l, CLSP_A(keys), CLSP_A(v),
                  CLSP_A(n), CLSP_A(block), CLSP_A(shift), CLSP_A(hist), CLSP_A(nb),
                  CLSP_A(keys2), CLSP_A(v2), CLSP_A(has_vals));
  return st;
}

static void swap_mem(cl_mem *a, cl_mem *b) {
  cl_mem t = *a;
  *a = *b;
  *b = t;
}

clsp_status clsp__radix_sort(clsp_context *ctx, cl_mem *keys, cl_mem *vals, uint32_t n,
                             uint32_t bits, clsp_events *l) {
  if (n < 2 || bits == 0) return CLSP_SUCCESS;
  uint32_t nb = chunks_of(n, ctx->tuning.radix_block);
  if ((uint64_t)nb * 16u > UINT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE, "sort: %u keys exceed the histogram", n);
  cl_mem k2 = NULL, v2 = NULL, hist = NULL;
  int with_vals = vals && *vals;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 8, NULL, "sort keys", &k2);
  if (st == CLSP_SUCCESS && with_vals)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, "sort values",
                             &v2);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)nb * 16u * 4, NULL,
                             "sort histogram", &hist);
  for (uint32_t shift = 0; st == CLSP_SUCCESS && shift < bits; shift += 4) {
    st = radix_pass(ctx, *keys, with_vals ? *vals : NULL, k2, v2, n, shift, hist, l);
    if (st != CLSP_SUCCESS) break;
    swap_mem(keys, &k2);
    if (with_vals) swap_mem(vals, &v2);
  }
  clsp__buffer_release(ctx, &k2);
  clsp__buffer_release(ctx, &v2);
  clsp__buffer_release(ctx, &hist);
  return st;
}
