/* SPDX-License-Identifier: Apache-2.0 */
/* Internal layout of tensors and rulebooks, shared by the pipeline stages
 * (hash -> rulebook -> gather -> gemm -> scatter). Not installed. */
#ifndef CLSP_PIPELINE_H
#define CLSP_PIPELINE_H

#include "programs.h"

struct clsp_tensor {
  clsp_context *ctx;
  clsp_tensor_desc desc;
  cl_mem coords; /* n_sites x (1 + ndim) int32 */
  cl_mem feats;  /* n_sites x channels float (float16 when `half`) */
  int wrapped;   /* buffers are the caller's (retained, not accounted) */
  /* Identity of the site set: tensors with equal ids have the same sites
   * in the same order (a conv output carries its rulebook's out id). */
  uint64_t sites_id;
  /* Features stored as float16 (a model's CLSP_MODEL_FLOAT16_STORAGE;
   * made by clsp__tensor_storage only, never handed to callers): the ops
   * use the half-storage kernels, and convolutions need half weights. */
  int half;
};

/* Bytes per feature value of t. */
static inline size_t clsp__feat_size(const clsp_tensor *t) { return t->half ? 2 : 4; }

struct clsp_rulebook {
  clsp_context *ctx;
  clsp_rulebook_info info;
  uint64_t in_sites_id;  /* sites_id of the tensor it was built for */
  uint64_t out_sites_id; /* submanifold: = in; inverse: regular's in */
  cl_mem out_coords;     /* n_out x (1 + ndim) int32 (retained when shared) */
  /* Pairs grouped by tap: tap t owns [start[t], start[t+1]). Within a tap
   * each output row appears at most once (and each input row too). */
  cl_mem pair_in, pair_out; /* uint32 x n_pairs (retained when shared) */
  uint32_t *start;          /* host copy, kernel_volume + 1 entries */
  /* 1 while pair_in, pair_out and start are not made yet: where convs run
   * fused by default the builder makes only the fused list (below), and
   * whatever reads the tap-major pairs calls clsp__rulebook_pairs first. */
  int pairs_pending;
  /* Ownership: buffers made for this rulebook are released with
   * clsp__buffer_release; shared ones (a submanifold's out_coords = its
   * input's coords, an inverse's lists) are retained and released plainly. */
  int owns_out_coords, owns_pairs;
  /* REGULAR: the input tensor's coords, retained, so that an inverse can
   * use them as its output sites after the tensor is gone. */
  cl_mem in_coords;
  /* The fused dataflow's output-major pair list (conv_fused.c), built by
   * the first fused conv on this rulebook and kept for the next ones:
   * row offsets (n_out + 1 uint) and (tap, input row) entries (uint2).
   * Owned (clsp__buffer_release); NULL until then; not shared with an
   * inverse. */
  cl_mem fused_offsets, fused_entries;
  /* The same list for the rulebook read backwards (by input rows), built
   * by the first fused dX of clsp_conv_backward and kept for the next
   * training steps; owned, NULL until then, not shared with an inverse. */
  cl_mem bw_fused_offsets, bw_fused_entries;
  /* The row tiles' copy of fused_entries, each tile's entries sorted by
   * tap (conv_fused.c), for tile_rows rows per tile: built by the first
   * conv that runs in row tiles and kept for the next ones (made again
   * when the tuning's rows per tile change). Owned; NULL until then; not
   * shared with an inverse. bw_tile_*: the same for bw_fused_entries,
   * made by the backward view (conv_backward.c). */
  cl_mem tile_entries, bw_tile_entries;
  uint32_t tile_rows, bw_tile_rows;
};

/* Makes sure rb's tap-major pairs (pair_in, pair_out, start) exist: made
 * from its fused pair list when the build left them pending (the same
 * pairs a build without the list makes). The rulebook is const to callers
 * but used by one thread at a time; this cache does not change what it
 * describes. Errors: device memory, OpenCL codes (still pending then). */
clsp_status clsp__rulebook_pairs(clsp_context *ctx, const clsp_rulebook *rb);

/* Test hook (process-wide): when off, rulebooks never take a key bitmap
 * (rulebook_bitmap.c) and use the hash paths, so that tests run both on
 * the same sites. On by default. */
void clsp__rulebook_debug_bitmaps(int on);

/* A fresh process-wide site-set identity. */
uint64_t clsp__new_sites_id(void);

/* Creates a tensor around device buffers the library just made (takes
 * ownership of both; releases them on failure). Used for conv outputs. */
clsp_status clsp__tensor_adopt(clsp_context *ctx, const clsp_tensor_desc *desc,
                               cl_mem coords, cl_mem feats, uint64_t sites_id,
                               clsp_tensor **out);

/* *out = t's sites (the same site set, coordinates copied) with its
 * features converted to float16 storage (half = 1: rounded to nearest,
 * ties to even) or to float (half = 0: exact); a plain copy when t
 * already has that storage. Errors: device memory, OpenCL codes. */
clsp_status clsp__tensor_storage(clsp_context *ctx, const clsp_tensor *t, int half,
                                 clsp_tensor **out);

/* *dst = a new buffer holding the first `bytes` of coordinate buffer src
 * (copied on the queue); released again on failure. */
clsp_status clsp__coords_copy(clsp_context *ctx, cl_mem src, size_t bytes, cl_mem *dst);

/* Validates a descriptor; names the offending field in the message. */
clsp_status clsp__tensor_desc_check(clsp_context *ctx, const clsp_tensor_desc *desc);

/* ---- prefix sums, compaction, sort (src/pipeline/scan.c) ---- */
/* m[first .. first + n) = value, 32-bit words, by a kernel. The one way
 * to fill device memory: oclgrind 21.10 reports memory filled by
 * clEnqueueFillBuffer as uninitialised when kernels read it
 * (docs/oclgrind-fillbuffer.md), a kernel's writes it tracks. */
clsp_status clsp__fill_u32(clsp_context *ctx, cl_mem m, uint32_t value, uint32_t first,
                           uint32_t n, clsp_events *l);
/* In-place exclusive prefix sum of n uint32 (totals must fit 32 bits). */
clsp_status clsp__scan_exclusive(clsp_context *ctx, cl_mem data, uint32_t n,
                                 clsp_events *l);
/* Compaction of a selection array (CLSP_NONE_U32 = not selected). */
typedef struct clsp_compaction {
  cl_mem offsets; /* n_chunks + 1: exclusive scan of chunk counts */
  uint32_t n, n_chunks;
  uint32_t total; /* selected elements (read back to the host) */
} clsp_compaction;
clsp_status clsp__compact_count(clsp_context *ctx, cl_mem sel, uint32_t n,
                                clsp_compaction *c, clsp_events *l);
/* out_val[j] = j-th selected value; out_idx[j] = its index % modulus
 * (modulus 0: out_idx unused, may be NULL). */
clsp_status clsp__compact_emit(clsp_context *ctx, cl_mem sel, const clsp_compaction *c,
                               cl_mem out_val, cl_mem out_idx, uint32_t modulus,
                               clsp_events *l);
/* positions[q] = selected elements before index q * stride, q < n_q. */
clsp_status clsp__compact_positions(clsp_context *ctx, cl_mem sel,
                                    const clsp_compaction *c, uint32_t stride,
                                    uint32_t n_q, cl_mem positions, clsp_events *l);
void clsp__compact_release(clsp_context *ctx, clsp_compaction *c);
/* Stable LSD radix sort of n ulong keys by their low `bits` bits, with
 * optional uint values (*vals may be NULL). The handles may be swapped for
 * the sorted buffers (the old ones are released). */
clsp_status clsp__radix_sort(clsp_context *ctx, cl_mem *keys, cl_mem *vals, uint32_t n,
                             uint32_t bits, clsp_events *l);

/* ---- packed keys and the device hash (src/pipeline/hash.c) ---- */
/* Key layout: batch slowest, then the axes in order, each axis a in
 * bits[a] = ceil(log2(shape[a])) bits; total_bits <= 63. */
typedef struct clsp_keyspec {
  int ndim;
  int32_t shape[CLSP_MAX_DIMS];
  int32_t batch;
  uint32_t bits[CLSP_MAX_DIMS];
  uint32_t total_bits;
} clsp_keyspec;
#define CLSP_KEY_BITS_MAX 63
/* CLSP_ERROR_TOO_LARGE naming `what` when the key would not fit. */
clsp_status clsp__keyspec(clsp_context *ctx, int ndim, const int32_t *shape,
                          int32_t batch, const char *what, clsp_keyspec *ks);
/* keys (created, n ulong) of the coordinate rows; *bad_row = the first row
 * outside the shape or batch, or CLSP_NONE_U32 (a blocking read). */
clsp_status clsp__keys_from_coords(clsp_context *ctx, const clsp_keyspec *ks,
                                   cl_mem coords, uint32_t n, cl_mem *keys,
                                   uint32_t *bad_row, clsp_events *l);

typedef struct clsp_hash {
  cl_mem slot_keys; /* CLSP_HASH64: capacity ulong keys; else NULL */
  cl_mem slot_vals; /* capacity uint: smallest row with the key */
  cl_mem keys;      /* borrowed: the n row keys */
  uint32_t capacity, n;
  int hash64;
} clsp_hash;
/* Builds the hash of n row keys (CLSP_KEY_EMPTY rows are skipped). */
clsp_status clsp__hash_build(clsp_context *ctx, cl_mem keys, uint32_t n, clsp_hash *h,
                             clsp_events *l);
/* The same when at most max_keys of the n rows are not CLSP_KEY_EMPTY (the
 * capacity follows that bound: it must hold, or the table could fill). */
clsp_status clsp__hash_build_bounded(clsp_context *ctx, cl_mem keys, uint32_t n,
                                     uint32_t max_keys, clsp_hash *h, clsp_events *l);
/* The same sized for `guess` distinct keys (load <= 1/2 if the guess
 * holds), each insert probing at most CLSP_HASH_GUESS_PROBES slots; if
 * some key found no slot, the table is rebuilt for max_keys. A smaller
 * table where most keys repeat (a regular conv's candidates): less to
 * fill, to scan and to miss in the caches. One blocking read. */
#define CLSP_HASH_GUESS_PROBES 128u
clsp_status clsp__hash_build_guess(clsp_context *ctx, cl_mem keys, uint32_t n,
                                   uint32_t guess, uint32_t max_keys, clsp_hash *h,
                                   clsp_events *l);
/* The hash's kernel arguments, in kernel order (slot_keys, slot_vals, mask,
 * keys). */
void clsp__hash_args(const clsp_hash *h, clsp_arg *args, uint32_t *mask);
/* sel[i] = i for the first row of every key, else CLSP_NONE_U32; *dup_row
 * = the first row repeating an earlier row's key, or CLSP_NONE_U32. */
clsp_status clsp__hash_firsts(clsp_context *ctx, const clsp_hash *h, cl_mem sel,
                              uint32_t *dup_row, clsp_events *l);
/* The same sel[] as clsp__hash_firsts, without the duplicate report: one
 * ordered pass over the table instead of a lookup per row. */
clsp_status clsp__hash_firsts_by_slot(clsp_context *ctx, const clsp_hash *h, cl_mem sel,
                                      clsp_events *l);
/* Mean and max probe length of a successful lookup of every key. */
clsp_status clsp__hash_probe_stats(clsp_context *ctx, const clsp_hash *h, double *mean,
                                   uint32_t *max);
void clsp__hash_release(clsp_context *ctx, clsp_hash *h);

#endif
