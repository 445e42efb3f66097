/* SPDX-License-Identifier: Apache-2.0 */
/* Point-to-voxel on the device (see voxelize.h and cl/voxelize.cl). Host
 * side: argument checks, grid checks and the key width (32 or 64 bits),
 * the first-point step (hash, or sort without 64-bit atomics), buffer
 * lifetimes, the kernel sequence and its timings. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"
#include "clspconv/voxelize.h"

#define VOX_SOURCES "common.clh,voxelize.cl"
#define VOX_MAX_EVENTS 64
#define VOX_SCAN_WG 256

/* One voxelization in flight: its buffers and its profiling events. */
typedef struct vox_run {
  clsp_context *ctx;
  const char *options; /* program build options */
  cl_mem pts;          /* the points (caller's or uploaded) */
  uint32_t n;          /* points */
  cl_mem keys, slot_of, head, rank, tkeys, tfirst, slot_voxel;
  cl_mem counts, offsets, bucket, coords, feats;
  cl_mem sorted_points; /* sort path: the point of each sorted key */
  int wide;            /* 64-bit keys: the grid has 2^32 - 1 cells or more */
  uint32_t sort_bits;  /* sort path: key bits sorted (2^bits > cells) */
  double sort_ms;      /* sort path: device time of the radix sort */
  uint32_t mask;       /* hash table slots - 1 */
  uint32_t m;          /* voxels */
  int32_t shape[3];    /* output shape, in coordinate order */
  uint32_t d1, d2;     /* key decode: extents of coordinate axes 1 and 2 */
  cl_event ev[VOX_MAX_EVENTS];
  int ev_stage[VOX_MAX_EVENTS];
  int n_ev;
} vox_run;

clsp_status clsp_voxelize_defaults(clsp_voxel_recipe recipe, clsp_voxelize_options *o) {
  if (!o) return CLSP_ERROR_INVALID_ARGUMENT;
  memset(o, 0, sizeof *o);
  o->recipe = recipe;
  if (recipe == CLSP_VOXEL_SECOND) {
    const float size[3] = {0.05f, 0.05f, 0.1f};
    const float range[6] = {0.0f, -40.0f, -3.0f, 70.4f, 40.0f, 1.0f};
    memcpy(o->voxel_size, size, sizeof size);
    memcpy(o->range, range, sizeof range);
  } else if (recipe == CLSP_VOXEL_MINKUNET) {
    o->voxel_size[0] = o->voxel_size[1] = o->voxel_size[2] = 0.05f;
  } else if (recipe != CLSP_VOXEL_RANGE && recipe != CLSP_VOXEL_ROUND) {
    return CLSP_ERROR_INVALID_ARGUMENT;
  }
  return CLSP_SUCCESS;
}

static int range_mode(const clsp_voxelize_options *o) {
  return o->recipe == CLSP_VOXEL_SECOND || o->recipe == CLSP_VOXEL_RANGE;
}

static clsp_status check_options(clsp_context *ctx, const clsp_voxelize_options *in,
                                 clsp_voxelize_options *o) {
  if (in->recipe == CLSP_VOXEL_SECOND || in->recipe == CLSP_VOXEL_MINKUNET) {
    clsp_voxelize_defaults(in->recipe, o);
    o->batch = in->batch;
  } else if (in->recipe == CLSP_VOXEL_RANGE || in->recipe == CLSP_VOXEL_ROUND) {
    *o = *in;
  } else {
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "options->recipe = %d: not a clsp_voxel_recipe", (int)in->recipe);
  }
  if (o->batch < 0 || o->batch == INT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "options->batch = %d: must be in [0, 2^31 - 1)", (int)o->batch);
  for (int a = 0; a < 3; a++) {
    if (!(o->voxel_size[a] > 0.0f) || !isfinite(o->voxel_size[a]))
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "options->voxel_size[%d] = %g: must be positive and finite", a,
                        (double)o->voxel_size[a]);
    if (range_mode(o) && !(o->range[a] < o->range[3 + a]))
      return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "options->range: axis %d min %g is not below max %g", a,
                        (double)o->range[a], (double)o->range[3 + a]);
  }
  return CLSP_SUCCESS;
}

/* Launches kernel `name` over `global` items with the given arguments and
 * records its event under `stage`. */
static clsp_status launch(vox_run *r, const char *name, int stage, size_t global,
                          size_t local, int nargs, const size_t *sizes,
                          const void *const *values) {
  cl_kernel k;
  clsp_status st = clsp__kernel(r->ctx, VOX_SOURCES, r->options, name, &k);
  if (st == CLSP_SUCCESS) st = clsp__set_args(r->ctx, k, name, nargs, sizes, values);
  if (st != CLSP_SUCCESS || global == 0) return st;
  cl_event *ev = r->n_ev < VOX_MAX_EVENTS ? &r->ev[r->n_ev] : NULL;
  st = clsp__launch_1d(r->ctx, k, name, global, local, ev);
  if (st == CLSP_SUCCESS && ev) r->ev_stage[r->n_ev++] = stage;
  return st;
}

static clsp_status buf(vox_run *r, size_t count, const char *what, cl_mem *out) {
  return clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, count * sizeof(uint32_t), NULL,
                             what, out);
}

static clsp_status buf64(vox_run *r, size_t count, const char *what, cl_mem *out) {
  return clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, count * sizeof(uint64_t), NULL,
                             what, out);
}

static clsp_status scan_wg(vox_run *r, size_t *wg) {
  cl_kernel k;
  clsp_status st = clsp__kernel(r->ctx, VOX_SOURCES, r->options, "clsp_vox_scan_block", &k);
  if (st != CLSP_SUCCESS) return st;
  size_t kmax = 1;
  CLSP_CL_CHECK(r->ctx,
                clGetKernelWorkGroupInfo(k, r->ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                         sizeof kmax, &kmax, NULL),
                "clGetKernelWorkGroupInfo(clsp_vox_scan_block)");
  size_t w = VOX_SCAN_WG;
  while (w > 1 && (w > kmax || w > r->ctx->caps.max_work_group_size)) w /= 2;
  *wg = w;
  return CLSP_SUCCESS;
}

/* Exclusive prefix sum of `len` uint32 from `in` into `out` (may alias). */
static clsp_status scan(vox_run *r, cl_mem in, cl_mem out, uint32_t len) {
  size_t wg = 1;
  clsp_status st = scan_wg(r, &wg);
  if (st != CLSP_SUCCESS || len == 0) return st;
  uint32_t groups = (uint32_t)((len + wg - 1) / wg);
  cl_mem sums = NULL;
  st = buf(r, groups, "voxelize scan sums", &sums);
  if (st == CLSP_SUCCESS) {
    const size_t sz[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), 4,
                         wg * sizeof(uint32_t)};
    const void *v[] = {&in, &out, &sums, &len, NULL};
    st = launch(r, "clsp_vox_scan_block", CLSP_VOXEL_STAGE_COMPACT, len, wg, 5, sz, v);
  }
  if (st == CLSP_SUCCESS && groups > 1) st = scan(r, sums, sums, groups);
  if (st == CLSP_SUCCESS && groups > 1) {
    const size_t sz[] = {sizeof(cl_mem), sizeof(cl_mem), 4};
    const void *v[] = {&out, &sums, &len};
    st = launch(r, "clsp_vox_scan_add", CLSP_VOXEL_STAGE_COMPACT, len, wg, 3, sz, v);
  }
  clsp__buffer_release(r->ctx, &sums);
  return st;
}

static clsp_status read_u32(vox_run *r, cl_mem m, size_t index, uint32_t *out) {
  CLSP_CL_CHECK(r->ctx,
                clEnqueueReadBuffer(r->ctx->queue, m, CL_TRUE, index * 4, 4, out, 0, NULL,
                                    NULL),
                "reading a voxelize count");
  return CLSP_SUCCESS;
}

/* Settles the key of a grid of d[0] x d[1] x d[2] cells (d[0] slowest)
 * whose tensor has shape r->shape: the tensor's coordinates must fit the
 * rulebook's packed key (else TOO_LARGE naming `what` and the shape);
 * keys stay 32-bit while every key and the sentinel fit (the path of
 * before, bit for bit), else they are 64-bit. Creates the key buffer. */
static clsp_status key_grid(vox_run *r, const uint32_t d[3], int32_t batch,
                            const char *what) {
  clsp_keyspec ks;
  clsp_status st = clsp__keyspec(r->ctx, 3, r->shape, batch + 1, what, &ks);
  if (st != CLSP_SUCCESS) return st;
  /* d <= shape and at most 63 key bits: the product is below 2^63. */
  uint64_t cells = (uint64_t)d[0] * d[1] * d[2];
  r->wide = cells >= UINT32_MAX;
  r->d1 = d[1];
  r->d2 = d[2];
  /* 2^bits > cells: the sentinel's sorted bits exceed every key's. */
  r->sort_bits = 0;
  while (r->sort_bits < 64 && (cells >> r->sort_bits) != 0) r->sort_bits++;
  return r->wide ? buf64(r, r->n, "voxelize keys", &r->keys)
                 : buf(r, r->n, "voxelize keys", &r->keys);
}

/* Range mode keys; grid from the range in double as OpenPCDet does. */
static clsp_status keys_range(vox_run *r, const clsp_voxelize_options *o) {
  int32_t g[3];
  for (int a = 0; a < 3; a++) {
    double cells = floor(((double)o->range[3 + a] - o->range[a]) / o->voxel_size[a] + 0.5);
    if (!(cells >= 1.0 && cells < (double)INT32_MAX - 1))
      return clsp__fail(r->ctx, CLSP_ERROR_TOO_LARGE,
                        "options: axis %d holds %g voxels, outside [1, 2^31 - 1)", a,
                        cells);
    g[a] = (int32_t)cells;
  }
  r->shape[0] = g[2] + 1; /* OpenPCDet's sparse_shape pads z by one */
  r->shape[1] = g[1];
  r->shape[2] = g[0];
  const uint32_t d[3] = {(uint32_t)g[2], (uint32_t)g[1], (uint32_t)g[0]};
  clsp_status st = key_grid(r, d, o->batch, "options: the voxel grid");
  if (st != CLSP_SUCCESS) return st;
  const size_t f = sizeof(float), i = sizeof(int32_t), m = sizeof(cl_mem);
  const size_t sz[] = {m, 4, f, f, f, f, f, f, i, i, i, m};
  const void *v[] = {&r->pts, &r->n, &o->voxel_size[0], &o->voxel_size[1],
                     &o->voxel_size[2], &o->range[0], &o->range[1], &o->range[2],
                     &g[0], &g[1], &g[2], &r->keys};
  return launch(r, r->wide ? "clsp_vox_keys_range64" : "clsp_vox_keys_range",
                CLSP_VOXEL_STAGE_KEYS, r->n, 0, 12, sz, v);
}

static clsp_status round_bounds(vox_run *r, const clsp_voxelize_options *o,
                                int32_t b[7]) {
  const int32_t init[7] = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MIN,
                           INT32_MIN, INT32_MIN, 0};
  cl_mem bounds = NULL;
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                       sizeof init, (void *)init, "voxelize bounds",
                                       &bounds);
  if (st != CLSP_SUCCESS) return st;
  const size_t f = sizeof(float), m = sizeof(cl_mem);
  const size_t sz[] = {m, 4, f, f, f, m};
  const void *v[] = {&r->pts, &r->n, &o->voxel_size[0], &o->voxel_size[1],
                     &o->voxel_size[2], &bounds};
  st = launch(r, "clsp_vox_round_bounds", CLSP_VOXEL_STAGE_KEYS, (r->n + 63) / 64, 0, 6,
              sz, v);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(r->ctx->queue, bounds, CL_TRUE, 0, sizeof init, b, 0,
                                     NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(r->ctx, err, "reading voxelize bounds");
  }
  clsp__buffer_release(r->ctx, &bounds);
  return st;
}

/* Inverse of vox_ordered (cl/voxelize.cl): the float of an ordered image. */
static float from_ordered(int32_t k) {
  uint32_t bits = k >= 0 ? (uint32_t)k : (uint32_t)(k ^ 0x7FFFFFFF);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Round mode shape from the bounds pass: every axis within int32
 * coordinates, else TOO_LARGE naming the axis and its extent. lo = the
 * per-axis minimum of rint(p / size); *far: some |rint(p / size)| is
 * 2^31 or more (then the key kernel's offsets take the exact wide path). */
static clsp_status round_shape(vox_run *r, const clsp_voxelize_options *o,
                               const int32_t b[7], float lo[3], int *far) {
  if (b[6] > 0)
    return clsp__fail(r->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "points: %d points are not finite", (int)b[6]);
  for (int a = 0; a < 3; a++) {
    lo[a] = from_ordered(b[a]);
    double hi = from_ordered(b[3 + a]);
    /* Exact: integer-valued floats less than 2^31 apart differ by a
     * multiple of the smaller one's spacing, below 2^31 of them. */
    double extent = hi - lo[a] + 1.0;
    if (!(extent <= (double)INT32_MAX))
      return clsp__fail(r->ctx, CLSP_ERROR_TOO_LARGE,
                        "points: along axis %d they span %.0f voxels of %g (rint(p / "
                        "size) from %.0f to %.0f), beyond the 2^31 - 1 of int32 "
                        "coordinates",
                        a, extent, (double)o->voxel_size[a], (double)lo[a], hi);
    r->shape[a] = (int32_t)extent;
    *far |= !(fabs(lo[a]) < 2147483648.0 && fabs(hi) < 2147483648.0);
  }
  return CLSP_SUCCESS;
}

/* Round mode keys: bounds pass, shape and key-width check, key pass. */
static clsp_status keys_round(vox_run *r, const clsp_voxelize_options *o) {
  int32_t b[7];
  float lo[3];
  int far = 0;
  clsp_status st = CLSP_SUCCESS;
  if (r->n == 0) { /* no points: an empty tensor of shape 1 x 1 x 1 */
    r->shape[0] = r->shape[1] = r->shape[2] = 1;
  } else {
    st = round_bounds(r, o, b);
    if (st == CLSP_SUCCESS) st = round_shape(r, o, b, lo, &far);
  }
  const uint32_t d[3] = {(uint32_t)r->shape[0], (uint32_t)r->shape[1],
                         (uint32_t)r->shape[2]};
  if (st == CLSP_SUCCESS) st = key_grid(r, d, o->batch, "points: their voxel grid");
  if (st != CLSP_SUCCESS || r->n == 0) return st;
  static const char *const kernel[2][2] = {
      {"clsp_vox_keys_round", "clsp_vox_keys_round_far"},
      {"clsp_vox_keys_round64", "clsp_vox_keys_round64_far"}};
  const size_t f = sizeof(float), m = sizeof(cl_mem);
  const size_t sz[] = {m, 4, f, f, f, f, f, f, 4, 4, m};
  const void *v[] = {&r->pts, &r->n, &o->voxel_size[0], &o->voxel_size[1],
                     &o->voxel_size[2], &lo[0], &lo[1], &lo[2], &r->d1, &r->d2, &r->keys};
  return launch(r, kernel[r->wide][far], CLSP_VOXEL_STAGE_KEYS, r->n, 0, 11, sz, v);
}

/* The condition under which clsp__base_options compiles the CLSP_HASH64
 * kernels (clsp_vox_hash_insert64). */
static int hash64(const clsp_context *ctx) {
  return ctx->caps.int64_atomics && !(ctx->flags & CLSP_CONTEXT_FORCE_HASH32);
}

/* Hash insert of 32-bit keys, or of 64-bit keys with 64-bit atomics: the
 * slot of every point and the first (smallest) point of every slot. */
static clsp_status hash_insert(vox_run *r) {
  uint32_t cap = 64;
  while (cap < 2u * r->n) cap *= 2; /* n <= 2^30: checked by the caller */
  r->mask = cap - 1;
  size_t key_bytes = r->wide ? 8 : 4;
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, cap * key_bytes, NULL,
                                       "voxelize hash keys", &r->tkeys);
  if (st == CLSP_SUCCESS) st = buf(r, cap, "voxelize hash first", &r->tfirst);
  if (st == CLSP_SUCCESS) st = buf(r, cap, "voxelize slot voxel", &r->slot_voxel);
  if (st == CLSP_SUCCESS) st = clsp__buffer_fill32(r->ctx, r->tkeys, 0xFFFFFFFFu, 0, cap * key_bytes, NULL);
  if (st == CLSP_SUCCESS) st = clsp__buffer_fill32(r->ctx, r->tfirst, 0xFFFFFFFFu, 0, cap * 4ull, NULL);
  if (st != CLSP_SUCCESS) return st;
  const size_t m = sizeof(cl_mem);
  const size_t s1[] = {m, 4, m, m, 4, m};
  const void *v1[] = {&r->keys, &r->n, &r->tkeys, &r->tfirst, &r->mask, &r->slot_of};
  return launch(r, r->wide ? "clsp_vox_hash_insert64" : "clsp_vox_hash_insert",
                CLSP_VOXEL_STAGE_HASH, r->n, 0, 6, s1, v1);
}

/* 64-bit keys without 64-bit atomics: a stable sort of the (key, point)
 * pairs; each run of equal keys is a voxel whose first point is the
 * smallest (stability), and the run's number is its slot. head and rank
 * serve as run heads and run starts here (the head pass rewrites them). */
static clsp_status sort_runs(vox_run *r) {
  clsp_status st = buf64(r, r->n, "voxelize sorted keys", &r->tkeys);
  if (st == CLSP_SUCCESS) st = buf(r, r->n, "voxelize sorted points", &r->sorted_points);
  if (st == CLSP_SUCCESS) st = buf(r, r->n, "voxelize run first", &r->tfirst);
  if (st == CLSP_SUCCESS) st = buf(r, r->n, "voxelize slot voxel", &r->slot_voxel);
  if (st != CLSP_SUCCESS) return st;
  const size_t m = sizeof(cl_mem);
  const size_t s1[] = {m, 4, m, m};
  const void *v1[] = {&r->keys, &r->n, &r->tkeys, &r->sorted_points};
  st = launch(r, "clsp_vox_sort_init", CLSP_VOXEL_STAGE_HASH, r->n, 0, 4, s1, v1);
  if (st == CLSP_SUCCESS) {
    clsp_evlist l = {.n = 0};
    st = clsp__radix_sort(r->ctx, &r->tkeys, &r->sorted_points, r->n, r->sort_bits, &l);
    r->sort_ms += clsp__ev_done(r->ctx, &l);
  }
  const size_t s2[] = {m, 4, m};
  const void *v2[] = {&r->tkeys, &r->n, &r->head};
  if (st == CLSP_SUCCESS)
    st = launch(r, "clsp_vox_run_heads", CLSP_VOXEL_STAGE_HASH, r->n, 0, 3, s2, v2);
  if (st == CLSP_SUCCESS) st = scan(r, r->head, r->rank, r->n);
  const size_t s3[] = {m, m, m, m, 4, m, m};
  const void *v3[] = {&r->tkeys, &r->sorted_points, &r->head, &r->rank,
                      &r->n, &r->slot_of, &r->tfirst};
  if (st == CLSP_SUCCESS)
    st = launch(r, "clsp_vox_run_slots", CLSP_VOXEL_STAGE_HASH, r->n, 0, 7, s3, v3);
  return st;
}

/* Slot of every point and first point of every slot (hash, or sort for
 * 64-bit keys without 64-bit atomics), then head flags; rank = exclusive
 * scan of the heads, whose last entry (index n) is the number of voxels. */
static clsp_status hash_and_rank(vox_run *r) {
  clsp_status st = (r->wide && !hash64(r->ctx)) ? sort_runs(r) : hash_insert(r);
  const size_t m = sizeof(cl_mem);
  const size_t s2[] = {m, m, 4, m};
  const void *v2[] = {&r->slot_of, &r->tfirst, &r->n, &r->head};
  if (st == CLSP_SUCCESS)
    st = launch(r, "clsp_vox_heads", CLSP_VOXEL_STAGE_HASH, r->n, 0, 4, s2, v2);
  if (st == CLSP_SUCCESS) st = scan(r, r->head, r->rank, r->n + 1);
  if (st == CLSP_SUCCESS) st = read_u32(r, r->rank, r->n, &r->m);
  return st;
}

/* Site coordinates, then per-voxel buckets of point indices. */
static clsp_status emit_and_bucket(vox_run *r, int32_t batch) {
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, r->m * 16ull, NULL,
                                       "voxel coords", &r->coords);
  if (st == CLSP_SUCCESS) st = buf(r, r->m + 1ull, "voxelize counts", &r->counts);
  if (st == CLSP_SUCCESS) st = buf(r, r->m + 1ull, "voxelize offsets", &r->offsets);
  if (st == CLSP_SUCCESS) st = buf(r, r->n, "voxelize buckets", &r->bucket);
  if (st == CLSP_SUCCESS) st = clsp__buffer_fill32(r->ctx, r->counts, 0, 0, (r->m + 1ull) * 4, NULL);
  if (st != CLSP_SUCCESS) return st;
  const size_t m = sizeof(cl_mem);
  const size_t s1[] = {m, m, m, m, 4, 4, 4, 4, m, m};
  const void *v1[] = {&r->keys, &r->slot_of, &r->head, &r->rank, &r->n, &r->d1, &r->d2,
                      &batch, &r->slot_voxel, &r->coords};
  st = launch(r, r->wide ? "clsp_vox_emit64" : "clsp_vox_emit", CLSP_VOXEL_STAGE_COMPACT,
              r->n, 0, 10, s1, v1);
  /* head is no longer needed: it now holds each point's voxel row. */
  const size_t s2[] = {m, m, 4, m, m};
  const void *v2[] = {&r->slot_of, &r->slot_voxel, &r->n, &r->head, &r->counts};
  if (st == CLSP_SUCCESS)
    st = launch(r, "clsp_vox_count", CLSP_VOXEL_STAGE_COMPACT, r->n, 0, 5, s2, v2);
  if (st == CLSP_SUCCESS) st = scan(r, r->counts, r->offsets, r->m + 1);
  if (st == CLSP_SUCCESS) st = clsp__buffer_fill32(r->ctx, r->counts, 0, 0, (r->m + 1ull) * 4, NULL);
  const size_t s3[] = {m, 4, m, m, m};
  const void *v3[] = {&r->head, &r->n, &r->offsets, &r->counts, &r->bucket};
  if (st == CLSP_SUCCESS)
    st = launch(r, "clsp_vox_bucket", CLSP_VOXEL_STAGE_COMPACT, r->n, 0, 5, s3, v3);
  return st;
}

static clsp_status means(vox_run *r) {
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, r->m * 16ull, NULL,
                                       "voxel feats", &r->feats);
  if (st != CLSP_SUCCESS) return st;
  int32_t sorted = (r->ctx->flags & CLSP_CONTEXT_DETERMINISTIC) ? 1 : 0;
  const size_t m = sizeof(cl_mem);
  const size_t sz[] = {m, m, m, 4, 4, m};
  const void *v[] = {&r->bucket, &r->offsets, &r->pts, &r->m, &sorted, &r->feats};
  return launch(r, "clsp_vox_mean", CLSP_VOXEL_STAGE_MEAN, r->m, 0, 6, sz, v);
}

static void run_release(vox_run *r, int owns_pts) {
  cl_mem *all[] = {&r->keys, &r->slot_of, &r->head, &r->rank, &r->tkeys,
                   &r->tfirst, &r->slot_voxel, &r->counts, &r->offsets, &r->bucket,
                   &r->coords, &r->feats, &r->sorted_points};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    clsp__buffer_release(r->ctx, all[i]);
  if (owns_pts) clsp__buffer_release(r->ctx, &r->pts);
  for (int i = 0; i < r->n_ev; i++) clReleaseEvent(r->ev[i]);
  r->n_ev = 0;
}

static clsp_status kept_and_times(vox_run *r, clsp_voxelize_stats *s) {
  /* Every kept point lies in one voxel: the bucket offsets end at their
   * number. */
  uint32_t kept = 0;
  clsp_status st = read_u32(r, r->offsets, r->m, &kept);
  if (st != CLSP_SUCCESS) return st;
  s->n_kept = kept;
  st = clsp_context_finish(r->ctx);
  if (st != CLSP_SUCCESS) return st;
  for (int i = 0; i < r->n_ev; i++) {
    double ms = clsp__event_ms(r->ctx, r->ev[i]);
    s->stage_ms[r->ev_stage[i]] += ms;
    s->device_ms += ms;
  }
  s->stage_ms[CLSP_VOXEL_STAGE_HASH] += r->sort_ms;
  s->device_ms += r->sort_ms;
  return CLSP_SUCCESS;
}

/* Exact float division is needed to reproduce the float32 quantisation of
 * the references bit for bit (also used by clsp_context_warmup). */
const char *clsp__voxelize_options(const clsp_context *ctx);
const char *clsp__voxelize_options(const clsp_context *ctx) {
  cl_device_fp_config fp = 0;
  clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
  return (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT)
             ? "-cl-fp32-correctly-rounded-divide-sqrt"
             : "";
}

static clsp_status voxelize_run(vox_run *r, const clsp_voxelize_options *o,
                                clsp_tensor **out, clsp_voxelize_stats *stats) {
  clsp_status st = buf(r, r->n, "voxelize point slots", &r->slot_of);
  if (st == CLSP_SUCCESS) st = buf(r, r->n + 1ull, "voxelize heads", &r->head);
  if (st == CLSP_SUCCESS) st = buf(r, r->n + 1ull, "voxelize ranks", &r->rank);
  if (st == CLSP_SUCCESS) st = range_mode(o) ? keys_range(r, o) : keys_round(r, o);
  if (st == CLSP_SUCCESS) st = hash_and_rank(r);
  if (st == CLSP_SUCCESS) st = emit_and_bucket(r, o->batch);
  if (st == CLSP_SUCCESS) st = means(r);
  if (st == CLSP_SUCCESS && stats) st = kept_and_times(r, stats);
  if (st != CLSP_SUCCESS) return st;
  clsp_tensor_desc d = {0};
  d.ndim = 3;
  memcpy(d.shape, r->shape, sizeof r->shape);
  d.batch_size = o->batch + 1;
  d.n_sites = r->m;
  d.channels = 4;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  if (stats) stats->n_voxels = r->m;
  cl_mem c = r->coords, f = r->feats;
  r->coords = r->feats = NULL; /* adopted (or released) by the tensor */
  return clsp__tensor_adopt(r->ctx, &d, c, f, clsp__new_sites_id(), out);
}

static clsp_status voxelize_common(clsp_context *ctx, const clsp_voxelize_options *options,
                                   cl_mem pts, int owns_pts, size_t n, clsp_tensor **out,
                                   clsp_voxelize_stats *stats) {
  double t0 = clsp__now_ms();
  clsp_voxelize_options o;
  clsp_status st = check_options(ctx, options, &o);
  vox_run r = {0};
  r.ctx = ctx;
  r.options = clsp__voxelize_options(ctx);
  r.pts = pts;
  r.n = (uint32_t)n;
  if (stats) {
    memset(stats, 0, sizeof *stats);
    stats->n_points = n;
  }
  if (st == CLSP_SUCCESS) st = voxelize_run(&r, &o, out, stats);
  run_release(&r, owns_pts);
  if (stats) stats->wall_ms = clsp__now_ms() - t0;
  return st;
}

static clsp_status check_common(clsp_context *ctx, const clsp_voxelize_options *options,
                                size_t n, clsp_tensor **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!options) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "options: NULL");
  /* The hash table holds a power of two >= 2n slots in 32-bit indices. */
  if (n > ((size_t)1 << 30))
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "n = %zu points: at most 2^30 (32-bit hash slot indices)", n);
  return CLSP_SUCCESS;
}

clsp_status clsp_voxelize(clsp_context *ctx, const clsp_voxelize_options *options,
                          const float *points, size_t n, clsp_tensor **out,
                          clsp_voxelize_stats *stats) {
  clsp_status st = check_common(ctx, options, n, out);
  if (st != CLSP_SUCCESS) return st;
  if (!points && n > 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "points: NULL with n = %zu", n);
  cl_mem pts = NULL;
  st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | (n ? CL_MEM_COPY_HOST_PTR : 0),
                           n * 16, (void *)points, "voxelize points", &pts);
  if (st != CLSP_SUCCESS) return st;
  return voxelize_common(ctx, options, pts, 1, n, out, stats);
}

clsp_status clsp_voxelize_buffer(clsp_context *ctx, const clsp_voxelize_options *options,
                                 cl_mem points, size_t n, clsp_tensor **out,
                                 clsp_voxelize_stats *stats) {
  clsp_status st = check_common(ctx, options, n, out);
  if (st != CLSP_SUCCESS) return st;
  if (!points) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "points: NULL");
  size_t size = 0;
  cl_context owner = NULL;
  if (clGetMemObjectInfo(points, CL_MEM_SIZE, sizeof size, &size, NULL) != CL_SUCCESS ||
      clGetMemObjectInfo(points, CL_MEM_CONTEXT, sizeof owner, &owner, NULL) != CL_SUCCESS)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "points: not a valid cl_mem");
  if (owner != ctx->cl)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "points: buffer of another cl_context than the clsp context's");
  if (size < n * 16)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "points: buffer holds %zu bytes, n = %zu points need %zu", size, n,
                      n * 16);
  return voxelize_common(ctx, options, points, 0, n, out, stats);
}
