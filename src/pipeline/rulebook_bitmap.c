/* SPDX-License-Identifier: Apache-2.0 */
/* Key bitmaps (CPU shape): where a packed key space is small next to the
 * sites that index it, one bit per key stands in for a hash. A word's
 * rank (the set bits of the words before it, an exclusive scan of their
 * popcounts) plus the popcount of the bits below a key gives the key's
 * place among the set keys in ascending order. rulebook_sites.c takes a
 * regular or transposed conv's output sites from one; here a submanifold
 * 3 x 3 x 3 rulebook looks its neighbours up in a two-level one of the
 * input keys (its nonempty words packed under a bitmap of words), which
 * stays small for key spaces as large as a LiDAR scan's full grid. */
#include "rulebook_build.h"

static int bitmaps_on = 1;

void clsp__rulebook_debug_bitmaps(int on) { bitmaps_on = on; }

int clsp__rb_bitmaps_allowed(void) { return bitmaps_on; }

/* A submanifold rulebook's two-level bitmap (cl/rulebook.cl says how it
 * is laid out): l1, a bit per 32-key word of the flat bitmap, then the
 * nonempty words packed (at most one per site, plus a spare zero word). */
typedef struct key_bitmap2 {
  cl_mem l1, l1_rank, w0, w0_rank, site;
} key_bitmap2;

static void bitmap2_release(clsp_context *ctx, key_bitmap2 *k) {
  clsp__buffer_release(ctx, &k->l1);
  clsp__buffer_release(ctx, &k->l1_rank);
  clsp__buffer_release(ctx, &k->w0);
  clsp__buffer_release(ctx, &k->w0_rank);
  clsp__buffer_release(ctx, &k->site);
}

static uint32_t l1_words(uint32_t bits) { return bits > 10 ? 1u << (bits - 10) : 1u; }

/* At most 32 l1 words per site (2^27 keys for 4k sites; KITTI at SECOND's
 * full resolution: 2^18 for 41k sites), so that zeroing, counting and
 * scanning l1 stays below what the hash it replaces costs. */
int clsp__rb_subm_bitmap_fits(const rb_build *b) {
  const clsp_rulebook *rb = b->rb;
  const int32_t *k = rb->info.geometry.kernel;
  uint32_t bits = b->in_ks.total_bits;
  if (rb->info.kind != CLSP_CONV_SUBMANIFOLD || rb->info.ndim != 3 || k[0] != 3 ||
      k[1] != 3 || k[2] != 3 || !clsp__row_kernels(b->ctx) || !bitmaps_on ||
      bits > CLSP_BITMAP_BITS_MAX + 10 || rb->info.n_in == 0)
    return 0;
  /* It makes the fused list only: the tap-major pairs follow from it. */
  if (!clsp__tuning_any_fused(&b->ctx->tuning)) return 0;
  return l1_words(bits) <= 32 * (uint64_t)rb->info.n_in + 4096;
}

/* A bitmap of `words` words, zeroed, then marked by kernel `mark` over
 * `items` work-items with arguments `args` (n_args of them, the last one
 * left for the bitmap), and its rank array: each word's popcount,
 * exclusively scanned, with the total after the last word. */
static clsp_status marked_words(rb_build *b, cl_uint words, clsp_kernel_id mark,
                                cl_uint items, clsp_arg *args, int n_args, cl_mem *bitmap,
                                cl_mem *rank) {
  clsp_context *ctx = b->ctx;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)words * 4, NULL,
                                       "key bitmap", bitmap);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)words + 1) * 4, NULL,
                             "key bitmap ranks", rank);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, *bitmap, 0, 0, words, b->ev);
  args[n_args - 1] = (clsp_arg)CLSP_A(*bitmap);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, mark, clsp_items(items), b->ev, args, n_args);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP_COUNT, clsp_items(words), b->ev, CLSP_A(*bitmap),
                  CLSP_A(words), CLSP_A(*rank));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, *rank, words + 1, b->ev);
  return st;
}

clsp_status clsp__rb_key_bitmap(rb_build *b, cl_mem keys, uint32_t n, uint32_t stride,
                                uint32_t bits) {
  cl_uint words = bits > 5 ? 1u << (bits - 5) : 1u;
  clsp_arg a[4] = {CLSP_A(keys), CLSP_A(n), CLSP_A(stride)};
  return marked_words(b, words, CLSP_K_RB_BITMAP_MARK, n, a, 4, &b->bitmap,
                      &b->bitmap_rank);
}

/* The two-level bitmap of the input keys, and site[]: the input row of
 * each rank. */
static clsp_status input_bitmap(rb_build *b, key_bitmap2 *k) {
  clsp_context *ctx = b->ctx;
  cl_uint n = (cl_uint)b->rb->info.n_in;
  clsp_arg a1[3] = {CLSP_A(b->in_keys), CLSP_A(n)};
  clsp_status st = marked_words(b, l1_words(b->in_ks.total_bits),
                                CLSP_K_RB_BITMAP2_MARK_L1, n, a1, 3, &k->l1, &k->l1_rank);
  clsp_arg a0[5] = {CLSP_A(b->in_keys), CLSP_A(n), CLSP_A(k->l1), CLSP_A(k->l1_rank)};
  if (st == CLSP_SUCCESS)
    st = marked_words(b, n + 1, CLSP_K_RB_BITMAP2_MARK_L0, n, a0, 5, &k->w0, &k->w0_rank);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL,
                             "input row of each key", &k->site);
  /* Every rank has a site when the sites are unique, as tensors guarantee;
   * zeroed first all the same, so that coordinates changed under a wrapped
   * tensor give wrong rows, never a read outside the features. */
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, k->site, 0, 0, n, b->ev);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_BITMAP2_SITES, clsp_items(n), b->ev, CLSP_A(b->in_keys),
                  CLSP_A(n), CLSP_A(k->l1), CLSP_A(k->l1_rank), CLSP_A(k->w0),
                  CLSP_A(k->w0_rank), CLSP_A(k->site));
  return st;
}

/* Offsets: every site's neighbour count, scanned; the total read back;
 * what the count found kept in `runs` for the fill (x dilation 1). */
static clsp_status list_offsets(rb_build *b, const key_bitmap2 *k, cl_mem offsets,
                                cl_mem runs, cl_uint *n_pairs) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  cl_uint n = (cl_uint)rb->info.n_in;
  geom_args g = geom_of(rb);
  cl_int4 is = i4(b->in_ks.shape);
  cl_uint4 ib = u4(b->in_ks.bits);
  clsp_status st = CLSP_RUN(ctx, CLSP_K_RB_SUBM3_BITMAP_COUNT, clsp_items(n), b->ev,
                            CLSP_A(rb->out_coords), CLSP_A(n), CLSP_A(g.d), CLSP_A(is),
                            CLSP_A(ib), CLSP_A(k->l1), CLSP_A(k->l1_rank), CLSP_A(k->w0),
                            CLSP_A(k->w0_rank), CLSP_A(offsets), CLSP_A(runs));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, offsets, n + 1, b->ev);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, offsets, CL_TRUE, (size_t)n * 4,
                                     sizeof *n_pairs, n_pairs, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the number of pairs");
  }
  return st;
}

clsp_status clsp__rb_subm_bitmap_list(rb_build *b) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  cl_uint n = (cl_uint)rb->info.n_in, n_pairs = 0;
  geom_args g = geom_of(rb);
  cl_int4 is = i4(b->in_ks.shape);
  cl_uint4 ib = u4(b->in_ks.bits);
  key_bitmap2 k = {0};
  cl_mem offsets = NULL, entries = NULL, runs = NULL;
  /* The kept runs only with x dilation 1 (the kernels read them then). */
  size_t run_words = g.d.s[2] == 1 ? (size_t)n * CLSP_SUBM3_RUN_WORDS : 1;
  clsp_status st = input_bitmap(b, &k);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)n + 1) * 4, NULL,
                             "fused conv row offsets", &offsets);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, run_words * 4, NULL,
                             "submanifold neighbour runs", &runs);
  if (st == CLSP_SUCCESS) st = list_offsets(b, &k, offsets, runs, &n_pairs);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (n_pairs ? n_pairs : 1) * 8, NULL,
                             "fused conv pair list", &entries);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_RB_SUBM3_BITMAP_FILL, clsp_items(n), b->ev,
                  CLSP_A(rb->out_coords), CLSP_A(n), CLSP_A(g.d), CLSP_A(is), CLSP_A(ib),
                  CLSP_A(k.l1), CLSP_A(k.l1_rank), CLSP_A(k.w0), CLSP_A(k.w0_rank),
                  CLSP_A(k.site), CLSP_A(runs), CLSP_A(offsets), CLSP_A(entries));
  bitmap2_release(ctx, &k); /* pending commands keep them alive */
  clsp__buffer_release(ctx, &runs);
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
