/* SPDX-License-Identifier: Apache-2.0 */
/* Key bitmaps (CPU shape): where a packed key space is small next to the
 * sites that index it, one bit per key stands in for a hash. A word's
 * rank (the set bits of the words before it, an exclusive scan of their
 * popcounts) plus the popcount of the bits below a key gives the key's
 * place among the set keys in ascending order. rulebook_sites.c takes a
 * regular or transposed conv's output sites from one; here a submanifold
 * 3 x 3 x 3 rulebook looks its neighbours up in one of the input keys. */
#include "rulebook_build.h"

static int bitmaps_on = 1;

void clsp__rulebook_debug_bitmaps(int on) { bitmaps_on = on; }

int clsp__rb_bitmaps_allowed(void) { return bitmaps_on; }

clsp_status clsp__rb_key_bitmap(rb_build *b, cl_mem keys, uint32_t n, uint32_t stride,
                                uint32_t bits) {
  clsp_context *ctx = b->ctx;
  cl_uint words = bits > 5 ? 1u << (bits - 5) : 1u;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)words * 4, NULL,
                                       "key bitmap", &b->bitmap);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)words + 1) * 4, NULL,
                             "key bitmap ranks", &b->bitmap_rank);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, b->bitmap, 0, 0, words, b->ev);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP_MARK, clsp_items(n), b->ev, CLSP_A(keys),
                  CLSP_A(n), CLSP_A(stride), CLSP_A(b->bitmap));
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP_COUNT, clsp_items(words), b->ev,
                  CLSP_A(b->bitmap), CLSP_A(words), CLSP_A(b->bitmap_rank));
  if (st == CLSP_SUCCESS)
    st = clsp__scan_exclusive(ctx, b->bitmap_rank, words + 1, b->ev);
  return st;
}

/* At most 32 words per site: zeroing, counting and scanning the bitmap
 * then costs about what the hash it replaces does (building it and 14
 * probes per site), while every lookup becomes a bit test. On KITTI this
 * takes SECOND's SubM layers after each downsampling (2^20, 2^17 and 2^14
 * words for 50k, 25k and 9k sites), not the first at full resolution
 * (2^23 words for 41k sites). */
int clsp__rb_subm_bitmap_fits(const rb_build *b) {
  const clsp_rulebook *rb = b->rb;
  const int32_t *k = rb->info.geometry.kernel;
  uint32_t bits = b->in_ks.total_bits;
  if (rb->info.kind != CLSP_CONV_SUBMANIFOLD || rb->info.ndim != 3 || k[0] != 3 ||
      k[1] != 3 || k[2] != 3 || !clsp__row_kernels(b->ctx) ||
      bits > CLSP_BITMAP_BITS_MAX || !bitmaps_on || rb->info.n_in == 0)
    return 0;
  /* It makes the fused list only: the tap-major pairs follow from it. */
  if (!clsp__tuning_any_fused(&b->ctx->tuning)) return 0;
  uint64_t words = bits > 5 ? (uint64_t)1 << (bits - 5) : 1;
  return words <= 32 * (uint64_t)rb->info.n_in + 4096;
}

/* The bitmap of the input keys, and site[]: the input row of each rank. */
static clsp_status input_bitmap(rb_build *b, cl_mem *site) {
  clsp_context *ctx = b->ctx;
  cl_uint n = (cl_uint)b->rb->info.n_in;
  clsp_status st = clsp__rb_key_bitmap(b, b->in_keys, n, 1, b->in_ks.total_bits);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL,
                             "input row of each key", site);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP_SITES, clsp_items(n), b->ev, CLSP_A(b->in_keys),
                  CLSP_A(n), CLSP_A(b->bitmap), CLSP_A(b->bitmap_rank), CLSP_A(*site));
  return st;
}

clsp_status clsp__rb_subm_bitmap_list(rb_build *b) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  cl_uint n = (cl_uint)rb->info.n_in, n_pairs = 0;
  geom_args g = geom_of(rb);
  cl_int4 is = i4(b->in_ks.shape);
  cl_uint4 ib = u4(b->in_ks.bits);
  cl_mem site = NULL, offsets = NULL, entries = NULL;
  clsp_status st = input_bitmap(b, &site);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)n + 1) * 4, NULL,
                             "fused conv row offsets", &offsets);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_SUBM3_BITMAP_COUNT, clsp_items(n), b->ev,
                  CLSP_A(rb->out_coords), CLSP_A(n), CLSP_A(g.d), CLSP_A(is), CLSP_A(ib),
                  CLSP_A(b->bitmap), CLSP_A(offsets));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, offsets, n + 1, b->ev);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, offsets, CL_TRUE, (size_t)n * 4,
                                     sizeof n_pairs, &n_pairs, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the number of pairs");
  }
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (n_pairs ? n_pairs : 1) * 8, NULL,
                             "fused conv pair list", &entries);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_SUBM3_BITMAP_FILL, clsp_items(n), b->ev,
                  CLSP_A(rb->out_coords), CLSP_A(n), CLSP_A(g.d), CLSP_A(is), CLSP_A(ib),
                  CLSP_A(b->bitmap), CLSP_A(b->bitmap_rank), CLSP_A(site),
                  CLSP_A(offsets), CLSP_A(entries));
  clsp__buffer_release(ctx, &site);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &offsets);
    clsp__buffer_release(ctx, &entries);
    return st;
  }
  rb->info.n_pairs = n_pairs;
  rb->fused_offsets = offsets;
  rb->fused_entries = entries;
  return CLSP_SUCCESS;
}
