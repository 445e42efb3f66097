/* SPDX-License-Identifier: Apache-2.0 */
/* Output sites of regular and transposed convs (rulebook.c has the
 * overview): every (input row, tap) yields a candidate output key, and the
 * distinct keys in ascending order are the output sites. Where the output
 * key space is small, a bitmap of it gives them directly (bitmap_sites);
 * otherwise the candidates go into a device hash that keeps the smallest
 * candidate index per key, the first candidate of each key is compacted
 * out (deterministic), and the unique keys are radix-sorted
 * (hashed_sites). */
#include "rulebook_build.h"

/* Unique candidate keys, compacted in order of their first candidate.
 * The hash is sized for a guess of their number: a regular conv's output
 * sites, at most 2 per input for the downsampling layers of LiDAR networks
 * (KITTI, SECOND: 1.22, 0.50, 0.34, 0.74), while the bound (8 per input
 * for k3 s2) is what isolated sites reach; a wrong guess costs a rebuild
 * (clsp__hash_build_guess). Transposed convs upsample: the bound. */
static clsp_status unique_candidates(rb_build *b, cl_mem cand, uint32_t n_cand,
                                     uint32_t max_valid, cl_mem *keys, uint32_t *n_out) {
  clsp_context *ctx = b->ctx;
  clsp_hash h;
  clsp_compaction c = {0};
  cl_mem sel = NULL, first = NULL;
  uint64_t guess =
    b->rb->info.kind == CLSP_CONV_REGULAR ? 2 * (uint64_t)b->rb->info.n_in : max_valid;
  clsp_status st = clsp__hash_build_guess(ctx, cand, n_cand,
                                          guess < max_valid ? (uint32_t)guess : max_valid,
                                          max_valid, &h, b->ev);
  if (st != CLSP_SUCCESS) return st;
  st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_cand * 4, NULL,
                           "candidate flags", &sel);
  if (st == CLSP_SUCCESS) st = clsp__hash_firsts_by_slot(ctx, &h, sel, b->ev);
  if (st == CLSP_SUCCESS) st = clsp__compact_count(ctx, sel, n_cand, &c, b->ev);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * 4, NULL,
                             "first candidates", &first);
  if (st == CLSP_SUCCESS) st = clsp__compact_emit(ctx, sel, &c, first, NULL, 0, b->ev);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * 8, NULL,
                             "output keys", keys);
  if (st == CLSP_SUCCESS) {
    *n_out = c.total;
    st = CLSP_RUN(ctx, CLSP_K_RB_GATHER_KEYS, clsp_items(c.total), b->ev, CLSP_A(cand),
                  CLSP_A(first), CLSP_A(c.total), CLSP_A(*keys));
  }
  clsp__compact_release(ctx, &c);
  clsp__buffer_release(ctx, &sel);
  clsp__buffer_release(ctx, &first);
  clsp__hash_release(ctx, &h);
  return st;
}

clsp_status clsp__rb_sites_by_taps(clsp_context *ctx, const char *what, size_t sites,
                                   size_t taps, uint32_t *out) {
  uint64_t n = (uint64_t)sites * taps;
  if (n >= UINT32_MAX / 2)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "%s: %zu sites x %zu taps = %llu exceed 32-bit indices", what,
                      sites, taps, (unsigned long long)n);
  *out = (uint32_t)n;
  return CLSP_SUCCESS;
}

/* At most how many candidates of one input row are valid: a regular
 * conv's tap t reaches an output along an axis only if t d = x + p
 * (mod s), which holds for at most ceil(k / (s / gcd(d, s))) of the k taps
 * (k3 s2: 2 of 3 per axis, 8 of 27). Transposed: every tap may. Sizes the
 * candidate hash (load <= 1/2 of this bound, not of all n_in x kvol). */
static uint32_t valid_taps_bound(const clsp_rulebook *rb) {
  const clsp_conv_geometry *g = &rb->info.geometry;
  if (rb->info.kind != CLSP_CONV_REGULAR) return (uint32_t)rb->info.kernel_volume;
  uint64_t taps = 1;
  for (int a = 0; a < rb->info.ndim; a++) {
    uint32_t k = (uint32_t)g->kernel[a], s = (uint32_t)g->stride[a];
    uint32_t gcd = (uint32_t)g->dilation[a];
    for (uint32_t x = s; x != 0;) { /* gcd(d, s) */
      uint32_t r = gcd % x;
      gcd = x;
      x = r;
    }
    uint32_t period = s / gcd, per_axis = (k + period - 1) / period;
    taps *= per_axis < k ? per_axis : k;
  }
  return (uint32_t)taps;
}

int clsp__rb_candidate_rows(clsp_context *ctx, const geom_args *g) {
  int rows = clsp__row_kernels(ctx);
  for (int a = 0; a < g->ndim; a++) rows = rows && g->k.s[a] <= CLSP_AXIS_MAX;
  return rows;
}

/* The candidate kernel into b->cand (n_in x b->cand_stride keys): CPU
 * devices one work-item per input row, packed where fewer taps than kvol
 * can be valid (b->cand_taps holds their taps), else one work-item per
 * (input row, tap). */
static clsp_status candidates(rb_build *b, const geom_args *g, cl_int4 os, cl_uint4 ob) {
  clsp_context *ctx = b->ctx;
  uint32_t n_in = (uint32_t)b->rb->info.n_in, n_cand = n_in * b->cand_stride;
  clsp_status st = CLSP_SUCCESS;
  if (!clsp__rb_candidate_rows(ctx, g))
    return CLSP_RUN(ctx, CLSP_K_RB_CANDIDATES, clsp_items(n_cand), b->ev,
                    CLSP_A(b->in->coords), CLSP_A(n_in), CLSP_A(g->ndim), CLSP_A(g->kind),
                    CLSP_A(g->kvol), CLSP_A(g->k), CLSP_A(g->s), CLSP_A(g->p),
                    CLSP_A(g->d), CLSP_A(os), CLSP_A(ob), CLSP_A(b->cand));
  if (b->cand_stride < g->kvol)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_cand * 4, NULL,
                             "candidate taps", &b->cand_taps);
  /* Unpacked rows never read the taps: the keys stand in. */
  cl_mem taps = b->cand_taps ? b->cand_taps : b->cand;
  int three = g->ndim == 3 && g->k.s[0] <= 3 && g->k.s[1] <= 3 && g->k.s[2] <= 3;
  if (st == CLSP_SUCCESS && three)
    return CLSP_RUN(ctx, CLSP_K_RB_CANDIDATES3, clsp_items(n_in), b->ev,
                    CLSP_A(b->in->coords), CLSP_A(n_in), CLSP_A(g->kind), CLSP_A(g->kvol),
                    CLSP_A(g->k), CLSP_A(g->s), CLSP_A(g->p), CLSP_A(g->d), CLSP_A(os),
                    CLSP_A(ob), CLSP_A(b->cand), CLSP_A(taps), CLSP_A(b->cand_stride));
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_CANDIDATES_ROWS, clsp_items(n_in), b->ev,
                  CLSP_A(b->in->coords), CLSP_A(n_in), CLSP_A(g->ndim), CLSP_A(g->kind),
                  CLSP_A(g->kvol), CLSP_A(g->k), CLSP_A(g->s), CLSP_A(g->p), CLSP_A(g->d),
                  CLSP_A(os), CLSP_A(ob), CLSP_A(b->cand), CLSP_A(taps),
                  CLSP_A(b->cand_stride));
  return st;
}

/* Whether the distinct candidate keys come from a bitmap of the output
 * key space: CPU shape (the scatter-style map reads it), and at most
 * CLSP_BITMAP_BITS_MAX key bits with no more words than 4 per candidate
 * slot (SECOND on KITTI: 2^18 words for 330k slots), so that zeroing and
 * scanning it costs no more than the candidates do. */
static int bitmap_fits(const rb_build *b, uint32_t n_cand) {
  uint32_t bits = b->out_ks.total_bits;
  if (!b->scatter_map || bits > CLSP_BITMAP_BITS_MAX || !clsp__rb_bitmaps_allowed())
    return 0;
  uint64_t words = bits > 5 ? (uint64_t)1 << (bits - 5) : 1;
  return words <= 4 * (uint64_t)n_cand + 1024;
}

/* rb->out_coords for n_out rows, and info.n_out. */
static clsp_status new_out_coords(rb_build *b, uint32_t n_out) {
  clsp_rulebook *rb = b->rb;
  size_t row_bytes = (size_t)(1 + rb->info.ndim) * 4;
  clsp_status st =
    clsp__buffer_create(b->ctx, CL_MEM_READ_WRITE, (size_t)n_out * row_bytes, NULL,
                        "output coords", &rb->out_coords);
  if (st == CLSP_SUCCESS) {
    rb->owns_out_coords = 1;
    rb->info.n_out = n_out;
  }
  return st;
}

/* Output sites from the bitmap of the candidates (one blocking read: the
 * number of sites), the set bits unpacked in order. The bitmap and its
 * word ranks stay for the map. */
static clsp_status bitmap_sites(rb_build *b) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  uint32_t bits = b->out_ks.total_bits, n_in = (uint32_t)rb->info.n_in, n_out = 0;
  cl_uint words = bits > 5 ? 1u << (bits - 5) : 1u;
  cl_int ndim = rb->info.ndim;
  cl_uint4 ob = u4(b->out_ks.bits);
  clsp_status st = clsp__rb_key_bitmap(b, b->cand, n_in, b->cand_stride, bits);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, b->bitmap_rank, CL_TRUE,
                                     (size_t)words * 4, 4, &n_out, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the number of outputs");
  }
  if (st == CLSP_SUCCESS) st = new_out_coords(b, n_out);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP_EMIT, clsp_items(words), b->ev, CLSP_A(b->bitmap),
                  CLSP_A(words), CLSP_A(b->bitmap_rank), CLSP_A(ndim), CLSP_A(ob),
                  CLSP_A(rb->out_coords));
  return st;
}

/* Output sites from a hash of the candidates (unique_candidates), sorted
 * and unpacked; for the scatter-style map also a hash of the output keys. */
static clsp_status hashed_sites(rb_build *b, uint32_t n_cand, uint32_t max_valid) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  uint32_t n_out = 0;
  cl_int ndim = rb->info.ndim;
  cl_uint4 ob = u4(b->out_ks.bits);
  cl_mem keys = NULL;
  clsp_status st = unique_candidates(b, b->cand, n_cand, max_valid, &keys, &n_out);
  if (st == CLSP_SUCCESS)
    st = clsp__radix_sort(ctx, &keys, NULL, n_out, b->out_ks.total_bits, b->ev);
  if (st == CLSP_SUCCESS) st = new_out_coords(b, n_out);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_UNPACK, clsp_items(n_out), b->ev, CLSP_A(keys),
                  CLSP_A(n_out), CLSP_A(ndim), CLSP_A(ob), CLSP_A(rb->out_coords));
  if (b->scatter_map) { /* output row of a key, for the scatter-style map */
    b->out_keys = keys;
    return st == CLSP_SUCCESS ? clsp__hash_build(ctx, keys, n_out, &b->out_hash, b->ev)
                              : st;
  }
  clsp__buffer_release(ctx, &keys);
  return st;
}

clsp_status clsp__rb_output_sites(rb_build *b) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  uint32_t n_in = (uint32_t)rb->info.n_in, n_cand = 0;
  clsp_status st0 =
    clsp__rb_sites_by_taps(ctx, "in", rb->info.n_in, rb->info.kernel_volume, &n_cand);
  if (st0 != CLSP_SUCCESS) return st0;
  geom_args g = geom_of(rb);
  cl_int4 os = i4(rb->info.out_shape);
  cl_uint4 ob = u4(b->out_ks.bits);
  uint32_t valid = valid_taps_bound(rb);
  b->cand_stride = clsp__rb_candidate_rows(ctx, &g) ? valid : g.kvol;
  n_cand = n_in * b->cand_stride;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_cand * 8, NULL,
                                       "candidate keys", &b->cand);
  if (st == CLSP_SUCCESS) st = candidates(b, &g, os, ob);
  if (st == CLSP_SUCCESS)
    st = bitmap_fits(b, n_cand) ? bitmap_sites(b)
                                : hashed_sites(b, n_cand, n_in * valid /* <= n_cand */);
  if (!b->scatter_map) { /* else kept for the map; released with the build */
    clsp__buffer_release(ctx, &b->cand);
    clsp__buffer_release(ctx, &b->cand_taps);
  }
  return st;
}
