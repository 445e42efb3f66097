/* SPDX-License-Identifier: Apache-2.0 */
/* Fused output-stationary convolution: one work-item per output row and
 * slice of output channels accumulates over the row's (tap, input row)
 * list in vector registers and writes its outputs once (cl/conv_fused.cl).
 * No workspace, no atomics on features, deterministic by construction.
 * Why and when it runs: docs/performance.md. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "conv_fused.h"

static clsp__dataflow forced_dataflow;

void clsp__conv_debug_dataflow(clsp__dataflow d) { forced_dataflow = d; }

int clsp__fused_chosen(const clsp_context *ctx, uint32_t flags, size_t c_in,
                       size_t c_out) {
  if (forced_dataflow != CLSP_DATAFLOW_AUTO)
    return forced_dataflow == CLSP_DATAFLOW_FUSED;
  if (flags & CLSP_CONV_FUSED) return 1;
  if (flags & (CLSP_CONV_GATHER_GEMM | CLSP_CONV_ATOMIC)) return 0;
  const char *env = getenv("CLSP_CONV_DATAFLOW");
  if (env && strcmp(env, "fused") == 0) return 1;
  if (env && strcmp(env, "gemm") == 0) return 0;
  return clsp__tuning_fused_for(&ctx->tuning, c_in, c_out);
}

/* ---- the output-major pair list ---- */

typedef struct pair_list {
  cl_mem offsets; /* n_out + 1: row r owns entries [offsets[r], offsets[r+1]) */
  cl_mem entries; /* n_pairs uint2 (tap, input row), by tap within a row */
} pair_list;

static void list_release(clsp_context *ctx, pair_list *pl) {
  clsp__buffer_release(ctx, &pl->offsets);
  clsp__buffer_release(ctx, &pl->entries);
}

/* Row counts, then their exclusive scan (the extra last entry becomes the
 * total). */
static clsp_status list_offsets(clsp_context *ctx, const clsp_rulebook *rb,
                                uint32_t n_out, uint32_t n_pairs, pair_list *pl,
                                clsp_events *l) {
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)n_out + 1) * sizeof(cl_uint),
                        NULL, "fused conv row offsets", &pl->offsets);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, pl->offsets, 0, 0, n_out + 1, l);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_COUNT, clsp_items(n_pairs), l, CLSP_A(rb->pair_out),
                  CLSP_A(n_pairs), CLSP_A(pl->offsets));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, pl->offsets, n_out + 1, l);
  return st;
}

/* Entries in any order (atomic cursors), then each row sorted by tap. */
static clsp_status list_entries(clsp_context *ctx, const clsp_rulebook *rb,
                                uint32_t n_out, uint32_t n_pairs, pair_list *pl,
                                clsp_events *l) {
  cl_uint kvol = (cl_uint)rb->info.kernel_volume;
  cl_mem start = NULL, cursor = NULL;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                                       (n_pairs ? n_pairs : 1) * 2 * sizeof(cl_uint),
                                       NULL, "fused conv pair list", &pl->entries);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             ((size_t)kvol + 1) * sizeof(cl_uint), rb->start,
                             "fused conv tap starts", &start);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_out * sizeof(cl_uint),
                             NULL, "fused conv row cursors", &cursor);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(ctx, cursor, 0, 0, n_out, l);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_FILL, clsp_items(n_pairs), l, CLSP_A(rb->pair_in),
                  CLSP_A(rb->pair_out), CLSP_A(n_pairs), CLSP_A(start), CLSP_A(kvol),
                  CLSP_A(pl->offsets), CLSP_A(cursor), CLSP_A(pl->entries));
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_SORT_ROWS, clsp_items(n_out), l, CLSP_A(pl->offsets),
                  CLSP_A(n_out), CLSP_A(pl->entries));
  /* Pending commands keep their buffers alive: releasing is safe. */
  clsp__buffer_release(ctx, &start);
  clsp__buffer_release(ctx, &cursor);
  return st;
}

clsp_status clsp__fused_list(clsp_context *ctx, const clsp_rulebook *rb, clsp_events *l) {
  /* First: a rulebook whose pairs are pending has its list, not start[]. */
  if (rb->fused_entries) return CLSP_SUCCESS;
  cl_uint n_out = (cl_uint)rb->info.n_out, n_pairs = rb->start[rb->info.kernel_volume];
  if (n_out == 0) return CLSP_SUCCESS;
  pair_list pl = {0};
  clsp_status st = list_offsets(ctx, rb, n_out, n_pairs, &pl, l);
  if (st == CLSP_SUCCESS) st = list_entries(ctx, rb, n_out, n_pairs, &pl, l);
  if (st != CLSP_SUCCESS) {
    list_release(ctx, &pl);
    return st;
  }
  clsp_rulebook *keep = (clsp_rulebook *)rb; /* see conv_fused.h */
  keep->fused_offsets = pl.offsets;
  keep->fused_entries = pl.entries;
  return CLSP_SUCCESS;
}

clsp_status clsp__fused_list_from_map(clsp_context *ctx, clsp_rulebook *rb, cl_mem sel,
                                      clsp_events *l) {
  cl_uint n_out = (cl_uint)rb->info.n_out, kvol = (cl_uint)rb->info.kernel_volume;
  if (n_out == 0) return CLSP_SUCCESS;
  pair_list pl = {0};
  cl_uint n_pairs = 0;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, ((size_t)n_out + 1) * sizeof(cl_uint),
                        NULL, "fused conv row offsets", &pl.offsets);
  /* The kernel zeroes the extra last entry: after the scan, the total. */
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_COUNT_MAP, clsp_items(n_out), l, CLSP_A(sel),
                  CLSP_A(n_out), CLSP_A(kvol), CLSP_A(pl.offsets));
  if (st == CLSP_SUCCESS) st = clsp__scan_exclusive(ctx, pl.offsets, n_out + 1, l);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, pl.offsets, CL_TRUE,
                                     (size_t)n_out * sizeof(cl_uint), sizeof n_pairs,
                                     &n_pairs, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the number of pairs");
  }
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             (n_pairs ? n_pairs : 1) * 2 * sizeof(cl_uint), NULL,
                             "fused conv pair list", &pl.entries);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_FILL_MAP, clsp_items(n_out), l, CLSP_A(sel),
                  CLSP_A(n_out), CLSP_A(kvol), CLSP_A(pl.offsets), CLSP_A(pl.entries));
  if (st != CLSP_SUCCESS) {
    list_release(ctx, &pl);
    return st;
  }
  rb->info.n_pairs = n_pairs;
  rb->fused_offsets = pl.offsets;
  rb->fused_entries = pl.entries;
  return CLSP_SUCCESS;
}

clsp_status clsp__fused_list_to_map(clsp_context *ctx, const clsp_rulebook *rb,
                                    cl_mem sel, uint32_t n_mat) {
  cl_uint n_out = (cl_uint)rb->info.n_out;
  clsp_status st = clsp__fill_u32(ctx, sel, CLSP_NONE_U32, 0, n_mat, NULL);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_LIST_TO_MAP, clsp_items(n_out), NULL,
                  CLSP_A(rb->fused_offsets), CLSP_A(rb->fused_entries), CLSP_A(n_out),
                  CLSP_A(sel));
  return st;
}

/* ---- column slices ---- */

/* One launch: n_blocks blocks of vec*blocks columns from col0, per row. */
typedef struct col_segment {
  unsigned vec, blocks, ksplit;
  cl_uint col0, n_blocks;
} col_segment;

static int add_segment(col_segment *s, int n, unsigned vec, unsigned blocks, cl_uint *col,
                       cl_uint n_blocks) {
  if (n_blocks == 0) return n;
  s[n] = (col_segment){vec, blocks, 1, *col, n_blocks};
  *col += n_blocks * vec * blocks;
  return n + 1;
}

/* Splits c_out into the widest slices the tile allows: full tiles, one
 * narrower float16 tile, then float8, float4 and scalar remainders (for
 * c_out = 65: 64 columns in four float16 accumulators, one scalar). At
 * most 6 segments. */
static int plan_segments(const clsp_tuning *t, cl_uint cout, col_segment *s) {
  cl_uint col = 0;
  int n = 0;
  unsigned widths[4] = {16, 8, 4, 1};
  for (int i = 0; i < 4; i++) {
    unsigned v = widths[i];
    if (v > t->fused_vec) continue;
    unsigned nb = v == 16 ? t->fused_blocks : 1;
    n = add_segment(s, n, v, nb, &col, (cout - col) / (v * nb));
    unsigned rest = v == 16 && nb > 1 ? (cout - col) / 16 : 0;
    if (rest) n = add_segment(s, n, 16, rest, &col, 1);
  }
  for (int i = 0; i < n; i++) s[i].ksplit = s[i].blocks > 2 ? t->fused_ksplit : 2;
  return n;
}

/* The half-storage kernels follow the float ones in the same order. */
_Static_assert(CLSP_K_H_CONV_FUSED_1X1 - CLSP_K_H_CONV_FUSED_16X4 ==
                   CLSP_K_CONV_FUSED_1X1 - CLSP_K_CONV_FUSED_16X4 &&
                 CLSP_K_H_CONV_FUSED_16X3K2 - CLSP_K_H_CONV_FUSED_16X4 ==
                   CLSP_K_CONV_FUSED_16X3K2 - CLSP_K_CONV_FUSED_16X4,
               "programs.h: H_CONV_FUSED_* rows out of order");

static clsp_kernel_id storage_kernel(clsp_kernel_id k, int half) {
  return half ? (clsp_kernel_id)(CLSP_K_H_CONV_FUSED_16X4 + (k - CLSP_K_CONV_FUSED_16X4))
              : k;
}

static clsp_kernel_id segment_kernel(const col_segment *s) {
  static const clsp_kernel_id wide[4] = {CLSP_K_CONV_FUSED_16X1, CLSP_K_CONV_FUSED_16X2,
                                         CLSP_K_CONV_FUSED_16X3, CLSP_K_CONV_FUSED_16X4};
  static const clsp_kernel_id wide_k2[4] = {CLSP_K_CONV_FUSED_16X1,
                                            CLSP_K_CONV_FUSED_16X2,
                                            CLSP_K_CONV_FUSED_16X3K2,
                                            CLSP_K_CONV_FUSED_16X4K2};
  switch (s->vec) {
    case 16: return (s->ksplit == 2 ? wide_k2 : wide)[s->blocks - 1];
    case 8: return CLSP_K_CONV_FUSED_8X1;
    case 4: return CLSP_K_CONV_FUSED_4X1;
    default: return CLSP_K_CONV_FUSED_1X1;
  }
}

/* The row-tile kernel of a slice (fused_rows > 1, float storage): the
 * same columns per work-item; ksplit does not apply (two or four rows at
 * a time already give as many independent chains per weight vector). */
static clsp_kernel_id row_tile_kernel(const col_segment *s) {
  static const clsp_kernel_id wide[4] = {CLSP_K_CONV_FUSED_ROWS16X1,
                                         CLSP_K_CONV_FUSED_ROWS16X2,
                                         CLSP_K_CONV_FUSED_ROWS16X3,
                                         CLSP_K_CONV_FUSED_ROWS16X4};
  switch (s->vec) {
    case 16: return wide[s->blocks - 1];
    case 8: return CLSP_K_CONV_FUSED_ROWS8X1;
    case 4: return CLSP_K_CONV_FUSED_ROWS4X1;
    default: return CLSP_K_CONV_FUSED_ROWS1X1;
  }
}

/* Whether a slice runs in row tiles: float storage (a half `y` cannot
 * hold the partial sums), rows per tile within what the tap-sorted list
 * packs (CLSP_FUSED_ROWS_MAX) and a kernel volume within the tile sort's
 * counters; and, since a tile's bookkeeping (zeroing its rows, walking
 * its list) does not grow with the channels, only where an output row
 * brings the work-item enough multiply-adds: cin x columns x pairs per
 * row of at least tuning.fused_rows_min_macs. */
static int row_tiles_pay(const clsp_tuning *t, const clsp_rulebook *rb,
                         const clsp_weights *w, const col_segment *s) {
  uint64_t macs = (uint64_t)w->c_in * s->vec * s->blocks * rb->info.n_pairs;
  return !w->half && t->fused_rows > 1 && t->fused_rows <= CLSP_FUSED_ROWS_MAX &&
         rb->info.kernel_volume <= CLSP_TILE_SORT_TAPS &&
         macs >= (uint64_t)t->fused_rows_min_macs * rb->info.n_out;
}

_Static_assert(CLSP_FUSED_ROWS_MAX == CLSP_TUNING_ROWS_MAX,
               "cl/shared_defs.h and tuning.h disagree on the row tile limit");
_Static_assert(CLSP_FUSED_ROWS_MAX <= CLSP_TILE_ROW_MASK + 1,
               "a row tile's row index must fit CLSP_TILE_ROW_BITS");

/* The kernels' epilogue arguments (a residual buffer is always bound:
 * the weights stand in, never read, where there is none). */
typedef struct fused_epilogue {
  cl_mem res;
  cl_uint has_res, act;
  cl_float alpha;
} fused_epilogue;

static fused_epilogue epilogue_args(const clsp_weights *w, const clsp_conv_epilogue *ep) {
  fused_epilogue e = {w->weights, 0, CLSP_ACT_NONE, 0.0f};
  if (!ep) return e;
  if (ep->residual) {
    e.res = ep->residual->feats;
    e.has_res = 1;
  }
  e.act = (cl_uint)ep->activation;
  e.alpha = ep->alpha;
  return e;
}

/* The arguments of every fused conv kernel (CLSP_FUSED_PARAMS in
 * cl/conv_fused.cl) for columns from col0, n_blocks blocks per row, and
 * a last slot for the row tiles' row count: the values live here, the
 * buffers in the caller's objects. */
#define FUSED_ARGS 16
#define FUSED_ARG_ENTRIES 7 /* the pair list's slot, which row tiles replace */
typedef struct fused_launch {
  cl_uint cin, cout, has_bias, n_out, col0, n_blocks, rows;
  cl_mem bias;
  clsp_arg a[FUSED_ARGS + 1];
} fused_launch;

static void fused_args(fused_launch *f, const clsp_tensor *in, const clsp_weights *w,
                       const clsp_rulebook *rb, cl_uint col0, cl_uint n_blocks,
                       const fused_epilogue *e, const cl_mem *out) {
  f->cin = (cl_uint)w->c_in;
  f->cout = (cl_uint)w->c_out;
  f->has_bias = w->bias != NULL;
  f->bias = f->has_bias ? w->bias : w->weights; /* not read without bias */
  f->n_out = (cl_uint)rb->info.n_out;
  f->col0 = col0;
  f->n_blocks = n_blocks;
  const clsp_arg a[FUSED_ARGS] = {CLSP_A(in->feats),         CLSP_A(f->cin),
                                  CLSP_A(w->weights),        CLSP_A(f->cout),
                                  CLSP_A(f->bias),           CLSP_A(f->has_bias),
                                  CLSP_A(rb->fused_offsets), CLSP_A(rb->fused_entries),
                                  CLSP_A(f->n_out),          CLSP_A(f->col0),
                                  CLSP_A(f->n_blocks),       CLSP_A(e->res),
                                  CLSP_A(e->has_res),        CLSP_A(e->act),
                                  CLSP_A(e->alpha),          CLSP_A(*out)};
  memcpy(f->a, a, sizeof a);
}

/* n work-items of work-item tile kernel k in groups of
 * tuning.fused_local, halved down to what the kernel allows. */
static clsp_status item_range(clsp_context *ctx, clsp_kernel_id k, size_t n,
                              clsp_range *r) {
  size_t max_group = 1;
  clsp_status st = clsp__kernel_max_group(ctx, &clsp__kernels[k], &max_group);
  *r = clsp_items_in_groups(n, clsp__group_within(ctx->tuning.fused_local, max_group));
  return st;
}

static atomic_ulong tile_launches, tile_sorts;

unsigned long clsp__fused_tile_launches(void) { return atomic_load(&tile_launches); }
unsigned long clsp__fused_tile_sorts(void) { return atomic_load(&tile_sorts); }

/* rb's pair list for row tiles (rb->tile_entries; clsp_fused_tile_sort)
 * for the tuning's rows per tile: made by the first conv on rb that runs
 * in row tiles and kept with rb until it is destroyed or the rows per
 * tile change (8 bytes per pair; rb is const to callers but, as for the
 * fused list, this cache does not change what rb describes). */
static clsp_status tile_list(clsp_context *ctx, const clsp_rulebook *rb, clsp_events *l) {
  clsp_rulebook *keep = (clsp_rulebook *)rb;
  cl_uint rows = (cl_uint)ctx->tuning.fused_rows;
  if (keep->tile_entries && keep->tile_rows == rows) return CLSP_SUCCESS;
  clsp__buffer_release(ctx, &keep->tile_entries);
  keep->tile_rows = 0;
  cl_uint n_out = (cl_uint)rb->info.n_out, kvol = (cl_uint)rb->info.kernel_volume;
  cl_uint n_tiles = (n_out + rows - 1) / rows;
  cl_mem sorted = NULL;
  clsp_range r;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, rb->info.n_pairs * sizeof(cl_uint2), NULL,
                        "row tile pair list", &sorted);
  if (st == CLSP_SUCCESS) st = item_range(ctx, CLSP_K_FUSED_TILE_SORT, n_tiles, &r);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_FUSED_TILE_SORT, r, l, CLSP_A(rb->fused_offsets),
                  CLSP_A(rb->fused_entries), CLSP_A(n_out), CLSP_A(rows), CLSP_A(kvol),
                  CLSP_A(sorted));
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &sorted);
    return st;
  }
  keep->tile_entries = sorted;
  keep->tile_rows = rows;
  atomic_fetch_add(&tile_sorts, 1);
  return CLSP_SUCCESS;
}

static clsp_status run_segment(clsp_context *ctx, const clsp_tensor *in,
                               const clsp_weights *w, const clsp_rulebook *rb,
                               const col_segment *s, const fused_epilogue *e, cl_mem out,
                               clsp_events *l) {
  fused_launch f;
  fused_args(&f, in, w, rb, s->col0, s->n_blocks, e, &out);
  clsp_range r;
  clsp_status st;
  if (row_tiles_pay(&ctx->tuning, rb, w, s)) { /* tile_list made rb's list */
    f.rows = rb->tile_rows;
    f.a[FUSED_ARGS] = (clsp_arg)CLSP_A(f.rows);
    f.a[FUSED_ARG_ENTRIES] = (clsp_arg)CLSP_A(rb->tile_entries);
    cl_uint n_tiles = (f.n_out + f.rows - 1) / f.rows;
    clsp_kernel_id k = row_tile_kernel(s);
    st = item_range(ctx, k, (size_t)n_tiles * s->n_blocks, &r);
    if (st == CLSP_SUCCESS) st = CLSP_RUN_ARRAY(ctx, k, r, l, f.a, FUSED_ARGS + 1);
    if (st == CLSP_SUCCESS) atomic_fetch_add(&tile_launches, 1);
    return st;
  }
  clsp_kernel_id k = storage_kernel(segment_kernel(s), w->half);
  st = item_range(ctx, k, (size_t)f.n_out * s->n_blocks, &r);
  return st == CLSP_SUCCESS ? CLSP_RUN_ARRAY(ctx, k, r, l, f.a, FUSED_ARGS) : st;
}

/* ---- the GPU shape: work-group tiles ---- */

#define GROUP_WIDE 64 /* columns of the widest group tile */

_Static_assert(CLSP_K_CONV_FUSED_GROUP32 == CLSP_K_CONV_FUSED_GROUP64 + 1 &&
                 CLSP_K_CONV_FUSED_GROUP16 == CLSP_K_CONV_FUSED_GROUP64 + 2 &&
                 CLSP_K_H_CONV_FUSED_GROUP32 == CLSP_K_H_CONV_FUSED_GROUP64 + 1 &&
                 CLSP_K_H_CONV_FUSED_GROUP16 == CLSP_K_H_CONV_FUSED_GROUP64 + 2,
               "programs.h: CONV_FUSED_GROUP* rows out of order (64, 32, 16)");

static atomic_ulong group_launches;

unsigned long clsp__fused_group_launches(void) { return atomic_load(&group_launches); }

/* The narrowest group tile (64, 32 or 16 columns) that covers `cols`
 * columns in one block, or 64 where none does. */
static clsp_kernel_id group_kernel(cl_uint cols, int half) {
  clsp_kernel_id k = cols <= 16   ? CLSP_K_CONV_FUSED_GROUP16
                     : cols <= 32 ? CLSP_K_CONV_FUSED_GROUP32
                                  : CLSP_K_CONV_FUSED_GROUP64;
  return half ? (clsp_kernel_id)(CLSP_K_H_CONV_FUSED_GROUP64 +
                                 (k - CLSP_K_CONV_FUSED_GROUP64))
              : k;
}

int clsp__fused_groups_fit(clsp_context *ctx, int half) {
  static const cl_uint widths[] = {16, 32, GROUP_WIDE};
  for (int i = 0; i < 3; i++) {
    size_t max = 0;
    if (clsp__kernel_max_group(ctx, &clsp__kernels[group_kernel(widths[i], half)],
                               &max) != CLSP_SUCCESS ||
        max < CLSP_GROUP_ITEMS)
      return 0;
  }
  return 1;
}

/* Whether the group tiles run: asked for by the tuning record, and the
 * device takes CLSP_GROUP_ITEMS work-items per group of every group kernel
 * (else the work-item tiles run, which need no particular group size). */
static int groups_run(clsp_context *ctx, int half) {
  return ctx->tuning.fused_groups && clsp__fused_groups_fit(ctx, half);
}

/* Columns [col0, col0 + blocks x width) of every row (clipped to c_out
 * in the kernel): one group per (64-row tile, column block). */
static clsp_status run_group_blocks(clsp_context *ctx, const clsp_tensor *in,
                                    const clsp_weights *w, const clsp_rulebook *rb,
                                    clsp_kernel_id k, cl_uint col0, cl_uint n_blocks,
                                    const fused_epilogue *e, cl_mem out, clsp_events *l) {
  fused_launch f;
  fused_args(&f, in, w, rb, col0, n_blocks, e, &out);
  size_t n_tiles = ((size_t)f.n_out + CLSP_GROUP_ROWS - 1) / CLSP_GROUP_ROWS;
  clsp_status st =
    CLSP_RUN_ARRAY(ctx, k,
                   clsp_items_in_groups(n_tiles * n_blocks * CLSP_GROUP_ITEMS,
                                        CLSP_GROUP_ITEMS),
                   l, f.a, FUSED_ARGS);
  if (st == CLSP_SUCCESS) atomic_fetch_add(&group_launches, 1);
  return st;
}

/* Full 64-column blocks, then the rest in the narrowest tile covering it
 * (c_out 130: two 64-column blocks, then one 16-column block). */
static clsp_status run_groups(clsp_context *ctx, const clsp_tensor *in,
                              const clsp_weights *w, const clsp_rulebook *rb,
                              const fused_epilogue *e, cl_mem out, clsp_events *l) {
  cl_uint cout = (cl_uint)w->c_out;
  cl_uint full = cout / GROUP_WIDE, rest = cout - full * GROUP_WIDE;
  clsp_status st = CLSP_SUCCESS;
  if (full)
    st = run_group_blocks(ctx, in, w, rb, group_kernel(GROUP_WIDE, w->half), 0, full, e,
                          out, l);
  if (st == CLSP_SUCCESS && rest) {
    clsp_kernel_id k = group_kernel(rest, w->half);
    st = run_group_blocks(ctx, in, w, rb, k, full * GROUP_WIDE, 1, e, out, l);
  }
  return st;
}

clsp_status clsp__fused_tile_list(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_weights *w, clsp_events *l) {
  if (rb->info.n_out == 0 || groups_run(ctx, w->half)) return CLSP_SUCCESS;
  col_segment seg[8];
  int n_seg = plan_segments(&ctx->tuning, (cl_uint)w->c_out, seg), tiles = 0;
  for (int i = 0; i < n_seg; i++) tiles |= row_tiles_pay(&ctx->tuning, rb, w, &seg[i]);
  return tiles ? tile_list(ctx, rb, l) : CLSP_SUCCESS;
}

clsp_status clsp__conv_fused(clsp_context *ctx, const clsp_rulebook *rb,
                             const clsp_tensor *in, const clsp_weights *w,
                             const clsp_conv_epilogue *ep, cl_mem out, clsp_events *l) {
  cl_uint n_out = (cl_uint)rb->info.n_out;
  if (n_out == 0) return CLSP_SUCCESS;
  fused_epilogue e = epilogue_args(w, ep);
  if (groups_run(ctx, w->half)) return run_groups(ctx, in, w, rb, &e, out, l);
  col_segment seg[8];
  int n_seg = plan_segments(&ctx->tuning, (cl_uint)w->c_out, seg);
  clsp_status st = clsp__fused_tile_list(ctx, rb, w, l); /* made already: nothing */
  for (int i = 0; st == CLSP_SUCCESS && i < n_seg; i++)
    st = run_segment(ctx, in, w, rb, &seg[i], &e, out, l);
  return st;
}
