/* SPDX-License-Identifier: Apache-2.0 */
/* The rulebook builder's shared state (rulebook.c: the maps, pairs and
 * public calls; rulebook_sites.c: the output sites of regular and
 * transposed convs; rulebook_bitmap.c: key bitmaps). Not installed. */
#ifndef CLSP_RULEBOOK_BUILD_H
#define CLSP_RULEBOOK_BUILD_H

#include "conv_stages.h"

typedef struct rb_build {
  clsp_context *ctx;
  const clsp_tensor *in;
  clsp_rulebook *rb;
  clsp_keyspec in_ks, out_ks;
  cl_mem in_keys;
  clsp_hash in_hash;
  clsp_events *ev;
  /* Scatter-style map (CPU shape, regular/transposed): the candidates and
   * the sorted output keys with their hash, kept from output_sites. */
  int scatter_map;
  /* Submanifold 1x..x1 kernel: output row o reads input row o (the sites
   * are the same and unique), no hash needed. */
  int identity_map;
  /* Submanifold 3 x 3 x 3 where a two-level bitmap of the input keys is
   * small (rulebook_bitmap.c): the fused list straight from it, no input
   * hash, no map matrix. */
  int subm_bitmap;
  cl_mem cand, cand_taps, out_keys;
  uint32_t cand_stride; /* candidate slots per input row (kvol, or packed) */
  clsp_hash out_hash;
  /* Or, where the output key space is small (rulebook_sites.c), a bitmap
   * of it (bit = key) and the first output row of each of its words. */
  cl_mem bitmap, bitmap_rank;
} rb_build;

/* Kernel arguments shared by the candidate and map kernels. */
typedef struct geom_args {
  cl_int ndim, kind;
  cl_uint kvol;
  cl_int4 k, s, p, d;
} geom_args;

static inline geom_args geom_of(const clsp_rulebook *rb) {
  geom_args g;
  g.ndim = rb->info.ndim;
  g.kind = (cl_int)rb->info.kind;
  g.kvol = (cl_uint)rb->info.kernel_volume;
  for (int a = 0; a < 4; a++) {
    int on = a < g.ndim;
    g.k.s[a] = on ? rb->info.geometry.kernel[a] : 1;
    g.s.s[a] = on ? rb->info.geometry.stride[a] : 1;
    g.p.s[a] = on ? rb->info.geometry.padding[a] : 0;
    g.d.s[a] = on ? rb->info.geometry.dilation[a] : 1;
  }
  return g;
}

static inline cl_int4 i4(const int32_t *v) {
  cl_int4 r;
  for (int a = 0; a < 4; a++) r.s[a] = v[a];
  return r;
}

static inline cl_uint4 u4(const uint32_t *v) {
  cl_uint4 r;
  for (int a = 0; a < 4; a++) r.s[a] = v[a];
  return r;
}

/* sites x taps as a 32-bit index count (kernels index such matrices with
 * uint and their scans need headroom), or CLSP_ERROR_TOO_LARGE naming
 * `what`. */
clsp_status clsp__rb_sites_by_taps(clsp_context *ctx, const char *what, size_t sites,
                                   size_t taps, uint32_t *out);

/* Whether the row-shaped (CPU) candidate kernel and scatter-style map
 * run: CPU devices, every extent within CLSP_AXIS_MAX. */
int clsp__rb_candidate_rows(clsp_context *ctx, const geom_args *g);

/* Regular / transposed: rb->out_coords and info.n_out, output sites in
 * ascending key order; for the scatter-style map (b->scatter_map) also
 * what it reads (the candidates, and the output keys' hash or bitmap).
 * Errors: device memory, CLSP_ERROR_TOO_LARGE, OpenCL codes. */
clsp_status clsp__rb_output_sites(rb_build *b);

/* Key bitmaps are at most 2^27 bits (16 MiB). */
#define CLSP_BITMAP_BITS_MAX 27u

/* Whether key bitmaps may be used (clsp__rulebook_debug_bitmaps). */
int clsp__rb_bitmaps_allowed(void);

/* b->bitmap: 2^(bits - 5) words (at least one), the bits of the n x stride
 * keys of `keys` set (CLSP_KEY_EMPTY slots skipped); b->bitmap_rank: the
 * set bits of the words before each word, and after the last the total.
 * Errors: device memory, OpenCL codes. */
clsp_status clsp__rb_key_bitmap(rb_build *b, cl_mem keys, uint32_t n, uint32_t stride,
                                uint32_t bits);

/* Whether a submanifold rulebook comes from a two-level bitmap of the
 * input keys (b->subm_bitmap): 3 x 3 x 3 in 3D, CPU devices whose convs
 * run fused, at most 32 words of its first level per site. */
int clsp__rb_subm_bitmap_fits(const rb_build *b);

/* A submanifold rulebook (b->subm_bitmap) as the fused conv's
 * output-major list (rb's fused_offsets, fused_entries and info.n_pairs;
 * no map matrix), from a two-level bitmap of b->in_keys (the sites are
 * unique: tensors guarantee it); the tap-major pairs wait until something
 * reads them. One blocking read (the number of pairs). Errors: device
 * memory, OpenCL codes. */
clsp_status clsp__rb_subm_bitmap_list(rb_build *b);

#endif
