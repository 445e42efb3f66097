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

/* One voxelization in flight: its buffers and its profiling events. */
typedef struct vox_run {
  clsp_context *ctx;
  cl_mem pts; /* the points (caller's or uploaded) */
  uint32_t n; /* points */
  cl_mem keys, slot_of, head, rank, tkeys, tfirst, slot_voxel;
  cl_mem counts, offsets, bucket, coords, feats;
  cl_mem sorted_points; /* sort path: the point of each sorted key */
  int wide;             /* 64-bit keys: the grid has 2^32 - 1 cells or more */
  uint32_t sort_bits;   /* sort path: key bits sorted (2^bits > cells) */
  uint32_t mask;        /* hash table slots - 1 */
  uint32_t m;           /* voxels */
  int32_t shape[3];     /* output shape, in coordinate order */
  uint32_t d1, d2;      /* key decode: extents of coordinate axes 1 and 2 */
  clsp_events events;   /* tagged by clsp_voxel_stage, when `timed` */
  int timed;
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
    o->max_points_per_voxel = 5; /* OpenPCDet's MAX_POINTS_PER_VOXEL (KITTI) */
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
    o->max_points_per_voxel = in->max_points_per_voxel;
  } else if (in->recipe == CLSP_VOXEL_RANGE || in->recipe == CLSP_VOXEL_ROUND) {
    *o = *in;
  } else {
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "options->recipe = %d: not a clsp_voxel_recipe", (int)in->recipe);
  }
  if (o->batch < 0 || o->batch == INT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "options->batch = %d: must be in [0, 2^31 - 1)", (int)o->batch);
  if (o->max_points_per_voxel < 0 || o->max_points_per_voxel > (1 << 30))
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "options->max_points_per_voxel = %d: must be in [0, 2^30] (0: "
                      "every point)",
                      (int)o->max_points_per_voxel);
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

/* Launches kernel k over `range`, recording its event under `stage`. */
static clsp_status launch(vox_run *r, clsp_kernel_id k, clsp_voxel_stage stage,
                          clsp_range range, const clsp_arg *args, int n) {
  clsp_events *ev = r->timed ? &r->events : NULL;
  if (ev) ev->tag = (int)stage;
  return CLSP_RUN_ARRAY(r->ctx, k, range, ev, args, n);
}
/* launch() with the arguments as a list: CLSP_A(x), ... */
#define VOX_LAUNCH(r, k, stage, range, ...)                                              \
  launch(r, k, stage, range, CLSP_ARGS_(__VA_ARGS__), CLSP_NARGS_(__VA_ARGS__))

static clsp_status buf(vox_run *r, size_t count, const char *what, cl_mem *out) {
  return clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, count * sizeof(uint32_t), NULL,
                             what, out);
}

static clsp_status buf64(vox_run *r, size_t count, const char *what, cl_mem *out) {
  return clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, count * sizeof(uint64_t), NULL,
                             what, out);
}

/* The block-scan group: the tuned size, halved to what the kernel allows. */
static clsp_status scan_wg(vox_run *r, size_t *wg) {
  size_t kmax = 1;
  clsp_status st =
    clsp__kernel_max_group(r->ctx, &clsp__kernels[CLSP_K_VOX_SCAN_BLOCK], &kmax);
  if (st != CLSP_SUCCESS) return st;
  size_t w = r->ctx->tuning.vox_scan_group;
  while (w > 1 && w > kmax) w /= 2;
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
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_SCAN_BLOCK, CLSP_VOXEL_STAGE_COMPACT,
                    clsp_items_in_groups(len, wg), CLSP_A(in), CLSP_A(out), CLSP_A(sums),
                    CLSP_A(len), CLSP_LOCAL_BYTES(wg * sizeof(uint32_t)));
  if (st == CLSP_SUCCESS && groups > 1) st = scan(r, sums, sums, groups);
  if (st == CLSP_SUCCESS && groups > 1)
    st =
      VOX_LAUNCH(r, CLSP_K_VOX_SCAN_ADD, CLSP_VOXEL_STAGE_COMPACT,
                 clsp_items_in_groups(len, wg), CLSP_A(out), CLSP_A(sums), CLSP_A(len));
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
    double cells =
      floor(((double)o->range[3 + a] - o->range[a]) / o->voxel_size[a] + 0.5);
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
  return VOX_LAUNCH(r, r->wide ? CLSP_K_VOX_KEYS_RANGE64 : CLSP_K_VOX_KEYS_RANGE,
                    CLSP_VOXEL_STAGE_KEYS, clsp_items_any(r->n), CLSP_A(r->pts),
                    CLSP_A(r->n), CLSP_A(o->voxel_size[0]), CLSP_A(o->voxel_size[1]),
                    CLSP_A(o->voxel_size[2]), CLSP_A(o->range[0]), CLSP_A(o->range[1]),
                    CLSP_A(o->range[2]), CLSP_A(g[0]), CLSP_A(g[1]), CLSP_A(g[2]),
                    CLSP_A(r->keys));
}

static clsp_status round_bounds(vox_run *r, const clsp_voxelize_options *o,
                                int32_t b[7]) {
  const int32_t init[7] = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MIN,
                           INT32_MIN, INT32_MIN, 0};
  cl_mem bounds = NULL;
  clsp_status st =
    clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof init,
                        (void *)init, "voxelize bounds", &bounds);
  if (st != CLSP_SUCCESS) return st;
  uint32_t chunk = r->ctx->tuning.vox_bounds_chunk; /* CLSP_VOX_BOUNDS_CHUNK */
  st = VOX_LAUNCH(r, CLSP_K_VOX_ROUND_BOUNDS, CLSP_VOXEL_STAGE_KEYS,
                  clsp_items_any((r->n + chunk - 1) / chunk), CLSP_A(r->pts),
                  CLSP_A(r->n), CLSP_A(o->voxel_size[0]), CLSP_A(o->voxel_size[1]),
                  CLSP_A(o->voxel_size[2]), CLSP_A(bounds));
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
  static const clsp_kernel_id kernel[2][2] = {{CLSP_K_VOX_KEYS_ROUND,
                                               CLSP_K_VOX_KEYS_ROUND_FAR},
                                              {CLSP_K_VOX_KEYS_ROUND64,
                                               CLSP_K_VOX_KEYS_ROUND64_FAR}};
  return VOX_LAUNCH(r, kernel[r->wide][far], CLSP_VOXEL_STAGE_KEYS, clsp_items_any(r->n),
                    CLSP_A(r->pts), CLSP_A(r->n), CLSP_A(o->voxel_size[0]),
                    CLSP_A(o->voxel_size[1]), CLSP_A(o->voxel_size[2]), CLSP_A(lo[0]),
                    CLSP_A(lo[1]), CLSP_A(lo[2]), CLSP_A(r->d1), CLSP_A(r->d2),
                    CLSP_A(r->keys));
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
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(r->ctx, r->tkeys, CLSP_NONE_U32, 0,
                        (uint32_t)(cap * key_bytes / 4), NULL);
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(r->ctx, r->tfirst, CLSP_NONE_U32, 0, cap, NULL);
  if (st != CLSP_SUCCESS) return st;
  return VOX_LAUNCH(r, r->wide ? CLSP_K_VOX_HASH_INSERT64 : CLSP_K_VOX_HASH_INSERT,
                    CLSP_VOXEL_STAGE_HASH, clsp_items_any(r->n), CLSP_A(r->keys),
                    CLSP_A(r->n), CLSP_A(r->tkeys), CLSP_A(r->tfirst), CLSP_A(r->mask),
                    CLSP_A(r->slot_of));
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
  st =
    VOX_LAUNCH(r, CLSP_K_VOX_SORT_INIT, CLSP_VOXEL_STAGE_HASH, clsp_items_any(r->n),
               CLSP_A(r->keys), CLSP_A(r->n), CLSP_A(r->tkeys), CLSP_A(r->sorted_points));
  if (st == CLSP_SUCCESS) {
    /* The sort's launches are recorded under the hash stage too. */
    clsp_events *ev = r->timed ? &r->events : NULL;
    if (ev) ev->tag = CLSP_VOXEL_STAGE_HASH;
    st = clsp__radix_sort(r->ctx, &r->tkeys, &r->sorted_points, r->n, r->sort_bits, ev);
  }
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_RUN_HEADS, CLSP_VOXEL_STAGE_HASH, clsp_items_any(r->n),
                    CLSP_A(r->tkeys), CLSP_A(r->n), CLSP_A(r->head));
  if (st == CLSP_SUCCESS) st = scan(r, r->head, r->rank, r->n);
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_RUN_SLOTS, CLSP_VOXEL_STAGE_HASH, clsp_items_any(r->n),
                    CLSP_A(r->tkeys), CLSP_A(r->sorted_points), CLSP_A(r->head),
                    CLSP_A(r->rank), CLSP_A(r->n), CLSP_A(r->slot_of), CLSP_A(r->tfirst));
  return st;
}

/* Slot of every point and first point of every slot (hash, or sort for
 * 64-bit keys without 64-bit atomics), then head flags; rank = exclusive
 * scan of the heads, whose last entry (index n) is the number of voxels. */
static clsp_status hash_and_rank(vox_run *r) {
  clsp_status st = (r->wide && !r->ctx->tuning.hash64) ? sort_runs(r) : hash_insert(r);
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_HEADS, CLSP_VOXEL_STAGE_HASH, clsp_items_any(r->n),
                    CLSP_A(r->slot_of), CLSP_A(r->tfirst), CLSP_A(r->n), CLSP_A(r->head));
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
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(r->ctx, r->counts, 0, 0, r->m + 1, NULL);
  if (st != CLSP_SUCCESS) return st;
  st =
    VOX_LAUNCH(r, r->wide ? CLSP_K_VOX_EMIT64 : CLSP_K_VOX_EMIT, CLSP_VOXEL_STAGE_COMPACT,
               clsp_items_any(r->n), CLSP_A(r->keys), CLSP_A(r->slot_of), CLSP_A(r->head),
               CLSP_A(r->rank), CLSP_A(r->n), CLSP_A(r->d1), CLSP_A(r->d2), CLSP_A(batch),
               CLSP_A(r->slot_voxel), CLSP_A(r->coords));
  /* head is no longer needed: it now holds each point's voxel row. */
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_COUNT, CLSP_VOXEL_STAGE_COMPACT, clsp_items_any(r->n),
                    CLSP_A(r->slot_of), CLSP_A(r->slot_voxel), CLSP_A(r->n),
                    CLSP_A(r->head), CLSP_A(r->counts));
  if (st == CLSP_SUCCESS) st = scan(r, r->counts, r->offsets, r->m + 1);
  if (st == CLSP_SUCCESS) st = clsp__fill_u32(r->ctx, r->counts, 0, 0, r->m + 1, NULL);
  if (st == CLSP_SUCCESS)
    st = VOX_LAUNCH(r, CLSP_K_VOX_BUCKET, CLSP_VOXEL_STAGE_COMPACT, clsp_items_any(r->n),
                    CLSP_A(r->head), CLSP_A(r->n), CLSP_A(r->offsets), CLSP_A(r->counts),
                    CLSP_A(r->bucket));
  return st;
}

/* Means of each voxel's points, or of its first max_points (> 0) by
 * point index: the kernel selects them in its own bucket. */
static clsp_status means(vox_run *r, uint32_t max_points) {
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, r->m * 16ull, NULL,
                                       "voxel feats", &r->feats);
  if (st != CLSP_SUCCESS) return st;
  int32_t sorted = (r->ctx->flags & CLSP_CONTEXT_DETERMINISTIC) ? 1 : 0;
  return VOX_LAUNCH(r, CLSP_K_VOX_MEAN, CLSP_VOXEL_STAGE_MEAN, clsp_items_any(r->m),
                    CLSP_A(r->bucket), CLSP_A(r->offsets), CLSP_A(r->pts), CLSP_A(r->m),
                    CLSP_A(sorted), CLSP_A(max_points), CLSP_A(r->feats));
}

static void run_release(vox_run *r, int owns_pts) {
  cl_mem *all[] = {&r->keys,   &r->slot_of,    &r->head,         &r->rank,    &r->tkeys,
                   &r->tfirst, &r->slot_voxel, &r->counts,       &r->offsets, &r->bucket,
                   &r->coords, &r->feats,      &r->sorted_points};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    clsp__buffer_release(r->ctx, all[i]);
  if (owns_pts) clsp__buffer_release(r->ctx, &r->pts);
  clsp__events_release(&r->events);
}

static clsp_status kept_and_times(vox_run *r, clsp_voxelize_stats *s) {
  /* Every kept point lies in one voxel: the bucket offsets end at their
   * number. */
  uint32_t kept = 0;
  clsp_status st = read_u32(r, r->offsets, r->m, &kept);
  if (st != CLSP_SUCCESS) return st;
  s->n_kept = kept;
  return clsp__events_finish(r->ctx, &r->events, s->stage_ms, CLSP_VOXEL_STAGE_COUNT,
                             &s->device_ms, NULL);
}

static clsp_status voxelize_run(vox_run *r, const clsp_voxelize_options *o,
                                clsp_tensor **out, clsp_voxelize_stats *stats) {
  clsp_status st = buf(r, r->n, "voxelize point slots", &r->slot_of);
  if (st == CLSP_SUCCESS) st = buf(r, r->n + 1ull, "voxelize heads", &r->head);
  if (st == CLSP_SUCCESS) st = buf(r, r->n + 1ull, "voxelize ranks", &r->rank);
  if (st == CLSP_SUCCESS) st = range_mode(o) ? keys_range(r, o) : keys_round(r, o);
  if (st == CLSP_SUCCESS) st = hash_and_rank(r);
  if (st == CLSP_SUCCESS) st = emit_and_bucket(r, o->batch);
  if (st == CLSP_SUCCESS) st = means(r, (uint32_t)o->max_points_per_voxel);
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

static clsp_status voxelize_common(clsp_context *ctx,
                                   const clsp_voxelize_options *options, cl_mem pts,
                                   int owns_pts, size_t n, clsp_tensor **out,
                                   clsp_voxelize_stats *stats) {
  double t0 = clsp__now_ms();
  clsp_voxelize_options o;
  clsp_status st = check_options(ctx, options, &o);
  vox_run r = {0};
  r.ctx = ctx;
  r.timed = stats != NULL;
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
  st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | (n ? CL_MEM_COPY_HOST_PTR : 0), n * 16,
                           (void *)points, "voxelize points", &pts);
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
      clGetMemObjectInfo(points, CL_MEM_CONTEXT, sizeof owner, &owner, NULL) !=
        CL_SUCCESS)
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
