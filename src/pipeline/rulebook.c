/* SPDX-License-Identifier: Apache-2.0 */
/* Rulebooks on the device: output sites and per-tap kernel maps.
 *
 * Regular / transposed output sites (rulebook_sites.c): every (input row,
 * tap) yields a candidate output key (cl/rulebook.cl), and the distinct
 * keys become the output sites in ascending packed-key order (batch
 * slowest, then the axes), the same on every run and device.
 *
 * Maps give a [tap][out row] matrix of input rows; compacting it in order
 * yields the pairs grouped by tap and sorted by output row without a
 * sort, and the tap offsets are positions in that compaction. Gather-style
 * (submanifold everywhere, all kinds on GPUs): for every (tap, output row)
 * the input coordinate that tap reads is looked up in the input hash; on
 * CPU devices one work-item per output row, submanifold taps up to the
 * centre only, mirrored. Scatter-style (regular / transposed on CPU
 * devices): every valid candidate finds its output row in a hash of the
 * output keys, one lookup per pair. Where the fused conv dataflow is the
 * device default, the fused conv's output-major pair list is built from
 * the matrix instead (conv_fused.c), and the tap-major pairs only when
 * something reads them (clsp__rulebook_pairs). docs/performance.md has
 * the measurements.
 *
 * The host only sizes buffers (small blocking reads: the number of output
 * sites, a guessed hash's overflow flag, and the kernel_volume + 1 tap
 * offsets or the number of pairs) and launches. */
#include <stdlib.h>
#include <string.h>
#include "conv_fused.h"
#include "rulebook_build.h"

/* Upper bound on kernel volume (taps) a rulebook takes. */
#define MAX_KERNEL_VOLUME 65536

static clsp_status check_geometry(clsp_context *ctx, clsp_conv_kind kind,
                                  const clsp_conv_geometry *g, int ndim, size_t *kvol) {
  *kvol = 1;
  for (int a = 0; a < ndim; a++) {
    int32_t k = g->kernel[a], s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    if (k < 1 || s < 1 || d < 1)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "geometry axis %d: kernel %d, stride %d, dilation %d must be >= "
                        "1",
                        a, (int)k, (int)s, (int)d);
    if (p < 0 || (int64_t)p >= (int64_t)d * (k - 1) + 1)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "geometry axis %d: padding %d must be in [0, "
                        "dilation*(kernel-1)+1 "
                        "= %lld)",
                        a, (int)p, (long long)d * (k - 1) + 1);
    if (kind == CLSP_CONV_SUBMANIFOLD && (k % 2 == 0 || s != 1))
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "geometry axis %d: submanifold needs an odd kernel and stride 1 "
                        "(kernel %d, stride %d)",
                        a, (int)k, (int)s);
    *kvol *= (size_t)k;
    if (*kvol > MAX_KERNEL_VOLUME)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "geometry: kernel volume beyond %d taps at axis %d",
                        MAX_KERNEL_VOLUME, a);
  }
  return CLSP_SUCCESS;
}

static clsp_status out_shape_of(clsp_context *ctx, clsp_conv_kind kind,
                                const clsp_conv_geometry *g, const clsp_tensor_desc *d,
                                int32_t *out) {
  for (int a = 0; a < d->ndim; a++) {
    int64_t n = d->shape[a], s = g->stride[a], p = g->padding[a];
    int64_t ext = (int64_t)g->dilation[a] * (g->kernel[a] - 1), o = n;
    if (kind == CLSP_CONV_REGULAR) {
      if (n + 2 * p - ext - 1 < 0)
        return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                          "geometry axis %d: dilated kernel extent %lld exceeds the "
                          "padded "
                          "input %lld",
                          a, (long long)ext + 1, (long long)(n + 2 * p));
      o = (n + 2 * p - ext - 1) / s + 1;
    } else if (kind == CLSP_CONV_TRANSPOSED) {
      o = (n - 1) * s - 2 * p + ext + 1;
    }
    if (o <= 0)
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "geometry axis %d: output extent %lld is not positive", a,
                        (long long)o);
    if (o > INT32_MAX)
      return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                        "geometry axis %d: output extent %lld exceeds int32", a,
                        (long long)o);
    out[a] = (int32_t)o;
  }
  for (int a = d->ndim; a < CLSP_MAX_DIMS; a++) out[a] = 1;
  return CLSP_SUCCESS;
}

clsp_status clsp_conv_output_shape(clsp_conv_kind kind, int ndim,
                                   const clsp_conv_geometry *geometry,
                                   const int32_t *in_shape, int32_t *out_shape) {
  if (!geometry || !in_shape || !out_shape || ndim < 1 || ndim > CLSP_MAX_DIMS ||
      (kind != CLSP_CONV_SUBMANIFOLD && kind != CLSP_CONV_REGULAR &&
       kind != CLSP_CONV_TRANSPOSED))
    return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_tensor_desc d = {0};
  d.ndim = ndim;
  for (int a = 0; a < ndim; a++) {
    if (in_shape[a] <= 0) return CLSP_ERROR_INVALID_ARGUMENT;
    d.shape[a] = in_shape[a];
  }
  size_t kvol;
  clsp_status st = check_geometry(NULL, kind, geometry, ndim, &kvol);
  return st == CLSP_SUCCESS ? out_shape_of(NULL, kind, geometry, &d, out_shape) : st;
}

/* Pairs from the [tap][out row] matrix `sel`, and the tap offsets. */
static clsp_status compact_pairs(clsp_context *ctx, clsp_rulebook *rb, cl_mem sel,
                                 uint32_t n_mat, clsp_events *ev) {
  uint32_t n_out = (uint32_t)rb->info.n_out, kvol = (uint32_t)rb->info.kernel_volume;
  uint32_t n_q = kvol + 1;
  clsp_compaction c = {0};
  cl_mem starts = NULL;
  clsp_status st = clsp__compact_count(ctx, sel, n_mat, &c, ev);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * 4, NULL, "pair_in",
                             &rb->pair_in);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)c.total * 4, NULL,
                             "pair_out", &rb->pair_out);
  if (st == CLSP_SUCCESS) {
    rb->info.n_pairs = c.total;
    st = clsp__compact_emit(ctx, sel, &c, rb->pair_in, rb->pair_out, n_out, ev);
  }
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_q * 4, NULL, "tap offsets",
                             &starts);
  if (st == CLSP_SUCCESS)
    st = clsp__compact_positions(ctx, sel, &c, n_out, n_q, starts, ev);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, starts, CL_TRUE, 0, (size_t)n_q * 4,
                                     rb->start, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the tap offsets");
  }
  if (st != CLSP_SUCCESS) { /* as before: no pairs */
    clsp__buffer_release(ctx, &rb->pair_in);
    clsp__buffer_release(ctx, &rb->pair_out);
  }
  clsp__compact_release(ctx, &c);
  clsp__buffer_release(ctx, &starts);
  return st;
}

/* The gather-style map for every kind, from out_coords and the input
 * hash, into the [tap][out row] matrix sel. */
static clsp_status map_gather(rb_build *b, cl_mem sel, uint32_t n_mat) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  uint32_t n_out = (uint32_t)rb->info.n_out, mask;
  geom_args g = geom_of(rb);
  cl_int4 is = i4(b->in_ks.shape);
  cl_uint4 ib = u4(b->in_ks.bits);
  /* CPU devices: one work-item per output row (cl/rulebook.cl says why),
   * submanifold maps looked up up to the centre tap and mirrored. */
  int rows = clsp__row_kernels(ctx);
  for (int a = 0; a < g.ndim; a++) rows = rows && g.k.s[a] <= CLSP_AXIS_MAX;
  cl_uint mirror = rows && rb->info.kind == CLSP_CONV_SUBMANIFOLD;
  clsp_arg a[17] = {CLSP_A(rb->out_coords),
                    CLSP_A(n_out),
                    CLSP_A(g.ndim),
                    CLSP_A(g.kind),
                    CLSP_A(g.kvol),
                    CLSP_A(g.k),
                    CLSP_A(g.s),
                    CLSP_A(g.p),
                    CLSP_A(g.d),
                    CLSP_A(is),
                    CLSP_A(ib)};
  clsp__hash_args(&b->in_hash, a + 11, &mask);
  a[15] = (clsp_arg)CLSP_A(sel);
  a[16] = (clsp_arg)CLSP_A(mirror);
  uint32_t past_centre = (g.kvol / 2 + 1) * n_out; /* first index mirrored into */
  clsp_status st = CLSP_SUCCESS;
  if (mirror)
    st = clsp__fill_u32(ctx, sel, CLSP_NONE_U32, past_centre, n_mat - past_centre, b->ev);

  int subm3 = mirror && g.ndim == 3 && g.k.s[0] == 3 && g.k.s[1] == 3 && g.k.s[2] == 3;
  if (st == CLSP_SUCCESS && subm3) {
    clsp_arg a3[10] = {CLSP_A(rb->out_coords), CLSP_A(n_out), CLSP_A(g.d), CLSP_A(is),
                       CLSP_A(ib)};
    clsp__hash_args(&b->in_hash, a3 + 5, &mask);
    a3[9] = (clsp_arg)CLSP_A(sel);
    return CLSP_RUN_ARRAY(ctx, CLSP_K_RB_MAP_SUBM3, clsp_items(n_out), b->ev, a3, 10);
  }
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, rows ? CLSP_K_RB_MAP_ROWS : CLSP_K_RB_MAP,
                        clsp_items(rows ? n_out : n_mat), b->ev, a, rows ? 17 : 16);
  return st;
}

/* The scatter-style map (regular / transposed on CPU devices): from the
 * candidates and the output hash kept by output_sites. */
static clsp_status map_scatter(rb_build *b, cl_mem sel, uint32_t n_mat) {
  clsp_context *ctx = b->ctx;
  cl_uint n_in = (cl_uint)b->rb->info.n_in, kvol = (cl_uint)b->rb->info.kernel_volume;
  cl_uint n_out = (cl_uint)b->rb->info.n_out, mask;
  cl_mem taps = b->cand_taps ? b->cand_taps : b->cand; /* unread when unpacked */
  clsp_arg a[11] = {CLSP_A(b->cand), CLSP_A(taps), CLSP_A(b->cand_stride),
                    CLSP_A(n_in),    CLSP_A(kvol), CLSP_A(n_out)};
  clsp_status st = clsp__fill_u32(ctx, sel, CLSP_NONE_U32, 0, n_mat, b->ev);
  if (st == CLSP_SUCCESS && b->bitmap)
    return CLSP_RUN(ctx, CLSP_K_RB_MAP_BITMAP, clsp_items(n_in), b->ev, CLSP_A(b->cand),
                    CLSP_A(taps), CLSP_A(b->cand_stride), CLSP_A(n_in), CLSP_A(kvol),
                    CLSP_A(n_out), CLSP_A(b->bitmap), CLSP_A(b->bitmap_rank),
                    CLSP_A(sel));
  clsp__hash_args(&b->out_hash, a + 6, &mask);
  a[10] = (clsp_arg)CLSP_A(sel);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN_ARRAY(ctx, CLSP_K_RB_MAP_SCATTER, clsp_items(n_in), b->ev, a, 11);
  return st;
}

/* The identity map of a submanifold conv with kernel volume 1. */
static clsp_status map_identity(rb_build *b, cl_mem sel) {
  cl_uint n = (cl_uint)b->rb->info.n_out, zero = 0;
  return CLSP_RUN(b->ctx, CLSP_K_IOTA_U32, clsp_items(n), b->ev, CLSP_A(sel),
                  CLSP_A(zero), CLSP_A(n));
}

/* The [tap][out row] map, then from it either the fused conv's pair list,
 * where convs run fused by default (the tap-major pairs follow only when
 * something asks for them: clsp__rulebook_pairs), or the pairs. */
static clsp_status kernel_map(rb_build *b) {
  clsp_context *ctx = b->ctx;
  clsp_rulebook *rb = b->rb;
  uint32_t n_mat = 0;
  clsp_status st0 = clsp__rb_sites_by_taps(ctx, "rulebook output", rb->info.n_out,
                                           rb->info.kernel_volume, &n_mat);
  if (st0 != CLSP_SUCCESS) return st0;
  if (b->subm_bitmap) { /* the fused list without the matrix */
    st0 = clsp__rb_subm_bitmap_list(b);
    rb->pairs_pending = st0 == CLSP_SUCCESS;
    return st0;
  }
  cl_mem sel = NULL;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_mat * 4, NULL,
                                       "map matrix", &sel);
  if (st == CLSP_SUCCESS && b->identity_map)
    st = map_identity(b, sel);
  else if (st == CLSP_SUCCESS && b->scatter_map)
    st = map_scatter(b, sel, n_mat);
  else if (st == CLSP_SUCCESS)
    st = map_gather(b, sel, n_mat);
  int fused_only = clsp__tuning_any_fused(&ctx->tuning) && rb->info.n_out > 0;
  if (st == CLSP_SUCCESS && fused_only) {
    st = clsp__fused_list_from_map(ctx, rb, sel, b->ev);
    rb->pairs_pending = st == CLSP_SUCCESS;
  } else if (st == CLSP_SUCCESS) {
    st = compact_pairs(ctx, rb, sel, n_mat, b->ev);
  }
  clsp__buffer_release(ctx, &sel);
  return st;
}

clsp_status clsp__rulebook_pairs(clsp_context *ctx, const clsp_rulebook *rb) {
  if (!rb->pairs_pending) return CLSP_SUCCESS;
  clsp_rulebook *keep = (clsp_rulebook *)rb; /* a cache: see pipeline.h */
  uint32_t n_mat = 0;
  clsp_status st = clsp__rb_sites_by_taps(ctx, "rulebook output", rb->info.n_out,
                                          rb->info.kernel_volume, &n_mat);
  cl_mem sel = NULL;
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_mat * 4, NULL,
                             "map matrix", &sel);
  if (st == CLSP_SUCCESS) st = clsp__fused_list_to_map(ctx, rb, sel, n_mat);
  if (st == CLSP_SUCCESS) st = compact_pairs(ctx, keep, sel, n_mat, NULL);
  if (st == CLSP_SUCCESS) keep->pairs_pending = 0;
  clsp__buffer_release(ctx, &sel);
  return st;
}

static clsp_status input_hash(rb_build *b) {
  uint32_t n = (uint32_t)b->in->desc.n_sites, bad;
  clsp_status st =
    clsp__keys_from_coords(b->ctx, &b->in_ks, b->in->coords, n, &b->in_keys, &bad, b->ev);
  if (st == CLSP_SUCCESS && bad != CLSP_NONE_U32)
    return clsp__fail(b->ctx, CLSP_ERROR_OUT_OF_RANGE,
                      "in: coords row %u lies outside the tensor's shape or batch", bad);
  /* The scatter-style map looks up output keys, not input ones; the
   * identity map nothing; the bitmap map its own bitmap. */
  if (st == CLSP_SUCCESS && !b->scatter_map && !b->identity_map && !b->subm_bitmap)
    st = clsp__hash_build(b->ctx, b->in_keys, n, &b->in_hash, b->ev);
  return st;
}

static clsp_status rb_new(clsp_context *ctx, clsp_conv_kind kind,
                          const clsp_conv_geometry *g, const clsp_tensor *in, size_t kvol,
                          clsp_rulebook **out) {
  clsp_rulebook *rb = calloc(1, sizeof *rb);
  uint32_t *start = calloc(kvol + 1, sizeof *start);
  if (!rb || !start) {
    free(rb);
    free(start);
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "rulebook");
  }
  rb->ctx = ctx;
  rb->start = start;
  rb->owns_out_coords = rb->owns_pairs = 1;
  clsp_rulebook_info *i = &rb->info;
  i->kind = kind;
  i->ndim = in->desc.ndim;
  i->geometry = *g;
  memcpy(i->in_shape, in->desc.shape, sizeof i->in_shape);
  i->batch_size = in->desc.batch_size;
  i->n_in = in->desc.n_sites;
  i->kernel_volume = kvol;
  rb->in_sites_id = in->sites_id;
  *out = rb;
  return CLSP_SUCCESS;
}

/* Output sites (kind-specific) then the map. */
static clsp_status build_all(rb_build *b) {
  clsp_rulebook *rb = b->rb;
  clsp_status st = CLSP_SUCCESS;
  if (rb->info.kind == CLSP_CONV_SUBMANIFOLD) {
    clRetainMemObject(b->in->coords);
    rb->out_coords = b->in->coords;
    rb->owns_out_coords = 0;
    rb->info.n_out = rb->info.n_in;
    rb->out_sites_id = b->in->sites_id;
  } else {
    rb->out_sites_id = clsp__new_sites_id();
    if (rb->info.kind == CLSP_CONV_REGULAR) {
      clRetainMemObject(b->in->coords);
      rb->in_coords = b->in->coords;
    }
  }
  if (rb->info.n_in == 0) {
    size_t nothing = 0;
    if (!rb->out_coords)
      st = clsp__buffer_create(b->ctx, CL_MEM_READ_WRITE, nothing, NULL, "output coords",
                               &rb->out_coords);
    if (st == CLSP_SUCCESS)
      st = clsp__buffer_create(b->ctx, CL_MEM_READ_WRITE, nothing, NULL, "pair_in",
                               &rb->pair_in);
    if (st == CLSP_SUCCESS)
      st = clsp__buffer_create(b->ctx, CL_MEM_READ_WRITE, nothing, NULL, "pair_out",
                               &rb->pair_out);
    return st;
  }
  /* CPU devices: regular / transposed maps scatter-style (map_scatter),
   * from the row-shaped candidates. */
  geom_args g = geom_of(rb);
  b->scatter_map =
    clsp__rb_candidate_rows(b->ctx, &g) && rb->info.kind != CLSP_CONV_SUBMANIFOLD;
  b->identity_map = rb->info.kind == CLSP_CONV_SUBMANIFOLD && rb->info.kernel_volume == 1;
  b->subm_bitmap = clsp__rb_subm_bitmap_fits(b);
  st = input_hash(b);
  if (st == CLSP_SUCCESS && rb->info.kind != CLSP_CONV_SUBMANIFOLD)
    st = clsp__rb_output_sites(b);
  if (st == CLSP_SUCCESS) st = kernel_map(b);
  return st;
}

clsp_status clsp_rulebook_build(clsp_context *ctx, clsp_conv_kind kind,
                                const clsp_conv_geometry *geometry, const clsp_tensor *in,
                                clsp_rulebook **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!geometry || !in)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL",
                      geometry ? "in" : "geometry");
  if (in->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "in: tensor of another context");
  if (kind != CLSP_CONV_SUBMANIFOLD && kind != CLSP_CONV_REGULAR &&
      kind != CLSP_CONV_TRANSPOSED)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "kind = %d: build takes SUBMANIFOLD, REGULAR or TRANSPOSED "
                      "(INVERSE: "
                      "use clsp_rulebook_inverse)",
                      (int)kind);
  size_t kvol;
  int32_t oshape[CLSP_MAX_DIMS];
  clsp_status st = check_geometry(ctx, kind, geometry, in->desc.ndim, &kvol);
  if (st == CLSP_SUCCESS) st = out_shape_of(ctx, kind, geometry, &in->desc, oshape);
  rb_build b = {0};
  b.ctx = ctx;
  b.in = in;
  if (st == CLSP_SUCCESS)
    st = clsp__keyspec(ctx, in->desc.ndim, in->desc.shape, in->desc.batch_size, "in",
                       &b.in_ks);
  if (st == CLSP_SUCCESS)
    st =
      clsp__keyspec(ctx, in->desc.ndim, oshape, in->desc.batch_size, "output", &b.out_ks);
  if (st == CLSP_SUCCESS) st = rb_new(ctx, kind, geometry, in, kvol, &b.rb);
  if (st != CLSP_SUCCESS) return st;
  memcpy(b.rb->info.out_shape, oshape, sizeof oshape);
  clsp_events ev = {0};
  b.ev = ctx->profiling ? &ev : NULL;
  double t0 = clsp__now_ms(), dev_ms = 0.0;
  st = build_all(&b);
  clsp_status done = clsp__events_finish(ctx, b.ev, NULL, 0, &dev_ms, NULL);
  if (st == CLSP_SUCCESS) st = done;
  b.rb->info.build_ms = b.ev ? dev_ms : clsp__now_ms() - t0;
  clsp__events_release(&ev);
  clsp__hash_release(ctx, &b.in_hash);
  clsp__buffer_release(ctx, &b.in_keys);
  clsp__hash_release(ctx, &b.out_hash);
  clsp__buffer_release(ctx, &b.out_keys);
  clsp__buffer_release(ctx, &b.cand);
  clsp__buffer_release(ctx, &b.cand_taps);
  clsp__buffer_release(ctx, &b.bitmap);
  clsp__buffer_release(ctx, &b.bitmap_rank);
  if (st != CLSP_SUCCESS) {
    clsp_rulebook_destroy(b.rb);
    return st;
  }
  *out = b.rb;
  return CLSP_SUCCESS;
}

clsp_status clsp_rulebook_inverse(clsp_context *ctx, const clsp_rulebook *regular,
                                  clsp_rulebook **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!regular) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "regular: NULL");
  if (regular->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "regular: rulebook of another context");
  if (regular->info.kind != CLSP_CONV_REGULAR || !regular->in_coords)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "regular: kind %d is not CLSP_CONV_REGULAR",
                      (int)regular->info.kind);
  /* The inverse shares the regular's tap-major pairs: they must exist. */
  clsp_status st = clsp__rulebook_pairs(ctx, regular);
  if (st != CLSP_SUCCESS) return st;
  size_t kvol = regular->info.kernel_volume;
  clsp_rulebook *rb = calloc(1, sizeof *rb);
  uint32_t *start = calloc(kvol + 1, sizeof *start);
  if (!rb || !start) {
    free(rb);
    free(start);
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "rulebook");
  }
  memcpy(start, regular->start, (kvol + 1) * sizeof *start);
  *rb = *regular;
  rb->start = start;
  rb->info.kind = CLSP_CONV_INVERSE;
  memcpy(rb->info.in_shape, regular->info.out_shape, sizeof rb->info.in_shape);
  memcpy(rb->info.out_shape, regular->info.in_shape, sizeof rb->info.out_shape);
  rb->info.n_in = regular->info.n_out;
  rb->info.n_out = regular->info.n_in;
  rb->info.build_ms = 0;
  rb->in_sites_id = regular->out_sites_id;
  rb->out_sites_id = regular->in_sites_id;
  /* The reverse view: the same lists with their roles swapped. */
  rb->pair_in = regular->pair_out;
  rb->pair_out = regular->pair_in;
  rb->out_coords = regular->in_coords;
  rb->in_coords = NULL;
  rb->owns_out_coords = rb->owns_pairs = 0;
  /* The fused pair list is output-major: the regular's does not fit. */
  rb->fused_offsets = rb->fused_entries = NULL;
  rb->bw_fused_offsets = rb->bw_fused_entries = NULL;
  rb->tile_entries = rb->bw_tile_entries = NULL;
  rb->tile_rows = rb->bw_tile_rows = 0;
  clRetainMemObject(rb->pair_in);
  clRetainMemObject(rb->pair_out);
  clRetainMemObject(rb->out_coords);
  *out = rb;
  return CLSP_SUCCESS;
}

clsp_status clsp_rulebook_describe(const clsp_rulebook *rb, clsp_rulebook_info *out) {
  if (!rb || !out) return CLSP_ERROR_INVALID_ARGUMENT;
  *out = rb->info;
  return CLSP_SUCCESS;
}

clsp_status clsp_rulebook_pair_counts(const clsp_rulebook *rb, uint32_t *counts) {
  if (!rb || !counts) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = clsp__rulebook_pairs(rb->ctx, rb);
  if (st != CLSP_SUCCESS) return st;
  for (size_t t = 0; t < rb->info.kernel_volume; t++)
    counts[t] = rb->start[t + 1] - rb->start[t];
  return CLSP_SUCCESS;
}

clsp_status clsp_rulebook_download(clsp_context *ctx, const clsp_rulebook *rb,
                                   uint32_t *start, uint32_t *in_rows,
                                   uint32_t *out_rows) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!rb) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "rb: NULL");
  if (rb->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "rb: rulebook of another context");
  clsp_status st = clsp__rulebook_pairs(ctx, rb);
  if (st != CLSP_SUCCESS) return st;
  size_t bytes = rb->info.n_pairs * sizeof(uint32_t);
  if (start) memcpy(start, rb->start, (rb->info.kernel_volume + 1) * sizeof *start);
  if (in_rows && bytes)
    CLSP_CL_CHECK(ctx,
                  clEnqueueReadBuffer(ctx->queue, rb->pair_in, CL_TRUE, 0, bytes, in_rows,
                                      0, NULL, NULL),
                  "reading pair_in");
  if (out_rows && bytes)
    CLSP_CL_CHECK(ctx,
                  clEnqueueReadBuffer(ctx->queue, rb->pair_out, CL_TRUE, 0, bytes,
                                      out_rows, 0, NULL, NULL),
                  "reading pair_out");
  return CLSP_SUCCESS;
}

clsp_status clsp_rulebook_download_out_coords(clsp_context *ctx, const clsp_rulebook *rb,
                                              int32_t *coords) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!rb || !coords)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL", rb ? "coords" : "rb");
  if (rb->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "rb: rulebook of another context");
  size_t bytes = rb->info.n_out * (size_t)(1 + rb->info.ndim) * sizeof(int32_t);
  if (bytes)
    CLSP_CL_CHECK(ctx,
                  clEnqueueReadBuffer(ctx->queue, rb->out_coords, CL_TRUE, 0, bytes,
                                      coords, 0, NULL, NULL),
                  "reading out coords");
  return CLSP_SUCCESS;
}

static void release_shared(clsp_context *ctx, cl_mem *m, int owned) {
  if (!*m) return;
  if (owned) {
    clsp__buffer_release(ctx, m);
  } else {
    clReleaseMemObject(*m);
    *m = NULL;
  }
}

void clsp_rulebook_destroy(clsp_rulebook *rb) {
  if (!rb) return;
  release_shared(rb->ctx, &rb->out_coords, rb->owns_out_coords);
  release_shared(rb->ctx, &rb->pair_in, rb->owns_pairs);
  release_shared(rb->ctx, &rb->pair_out, rb->owns_pairs);
  release_shared(rb->ctx, &rb->in_coords, 0);
  clsp__buffer_release(rb->ctx, &rb->fused_offsets);
  clsp__buffer_release(rb->ctx, &rb->fused_entries);
  clsp__buffer_release(rb->ctx, &rb->bw_fused_offsets);
  clsp__buffer_release(rb->ctx, &rb->bw_fused_entries);
  clsp__buffer_release(rb->ctx, &rb->tile_entries);
  clsp__buffer_release(rb->ctx, &rb->bw_tile_entries);
  free(rb->start);
  free(rb);
}
