/* SPDX-License-Identifier: Apache-2.0 */
/* The per-context tuning record (internal.h: clsp_tuning): where every
 * device-specific choice is made, once, from the device's capabilities,
 * then overridden by the stored tuning file of `clsp tune`
 * (tuning_file.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Work-items per group for element-wise kernels (capped per kernel). */
#define PREFERRED_LOCAL 64u
/* Elements per work-item in scans and compactions; keys per radix block. */
#define SCAN_CHUNK 256u
#define RADIX_BLOCK 256u
/* Voxelize block scan: items per group (capped by kernel and device). */
#define VOX_SCAN_GROUP 256u
/* Points per work-item of the voxelize bounds pass: keeps the contended
 * atomics on the six bounds at N / 64. */
#define VOX_BOUNDS_CHUNK 64u

static int exact_divide(cl_device_id dev) {
  cl_device_fp_config fp = 0;
  if (clGetDeviceInfo(dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) !=
      CL_SUCCESS)
    return 0;
  return (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
}

/* CLSP_FUSED_TILE=VxB[k2][rR] (e.g. 16x4k2, 8x1, 16x4r32) overrides the
 * fused tile (the tuning file's too), for experiments: vec V (16, 8, 4,
 * 1), B blocks (vec 16 only), R output rows per work-item (1..128; without
 * it, 1); CLSP_FUSED_TILE=groups selects the work-group tiles. Anything
 * else is ignored. */
static void fused_tile_from_env(clsp_tuning *t) {
  const char *env = getenv("CLSP_FUSED_TILE");
  unsigned v = 0, b = 0, r = 1;
  int used = 0;
  if (env && strcmp(env, "groups") == 0) {
    t->fused_groups = 1;
    return;
  }
  if (!env || sscanf(env, "%ux%u%n", &v, &b, &used) < 2) return;
  const char *rest = env + used;
  unsigned ks = strncmp(rest, "k2", 2) == 0 ? 2 : 1;
  if (ks == 2) rest += 2;
  if (*rest == 'r' && sscanf(rest, "r%u%n", &r, &used) == 1) rest += used;
  if ((v != 16 && v != 8 && v != 4 && v != 1) || b < 1 || b > 4 || (v != 16 && b != 1) ||
      r < 1 || r > CLSP_FUSED_ROWS_MAX || *rest != 0)
    return;
  t->fused_vec = v;
  t->fused_blocks = b;
  t->fused_ksplit = ks;
  t->fused_rows = r;
  t->fused_groups = 0;
}

/* Where the row tiles are the default: CPU devices whose native float
 * vector is 16 wide (AVX-512 on PoCL). A 16x4 row tile's four rows of
 * accumulators need AVX-512's 32 registers (16 float16 = 32 of AVX2's 16
 * ymm: it would spill, as the 8x16 tiles of ../shared/docs/cpu-kernels.md
 * did), so AVX2 keeps one row until `clsp tune` measures otherwise. GPUs
 * run the work-group tiles instead: a row tile's work-item walks its
 * tile's pairs alone, one row of weights per step, a CPU shape. */
static int wide_cpu(const clsp_device_caps *c) {
  return (c->type & CL_DEVICE_TYPE_CPU) && c->native_float_width >= 16;
}

/* Work-items per group of the fused work-item tile launches where row
 * tiles are the default: a row tile's work-item does hundreds of
 * thousands of multiply-adds, and PoCL runs a group's work-items one
 * after another on one thread, so groups of 64 left a thread idle for
 * the last group's time (MinkUNet's 256-channel layers: 2,387 rows in
 * 128-row tiles x 4 column blocks are 76 work-items, 2 groups of 64).
 * docs/performance.md has the numbers. Elsewhere (one-row kernels, GPUs)
 * the element-wise default, unmeasured against smaller groups. */
#define FUSED_LOCAL_ROW_TILES 4u

unsigned clsp__fused_local_default(const clsp_device_caps *c) {
  unsigned l = wide_cpu(c) ? FUSED_LOCAL_ROW_TILES : PREFERRED_LOCAL;
  return (unsigned)clsp__group_within(l, c->max_work_group_size);
}

/* Measured on PoCL (docs/performance.md): 1x64 tiles in four float16
 * accumulators fit 16 ymm as well as 32 zmm; wider tiles spill on AVX2;
 * 16x4 and 16x4k2 measured alike on PoCL pthread, AVX-512, so the single
 * set, which also fits 16 ymm, stays. GPUs keep gather -> GEMM -> scatter
 * until the GPU shape (fused_groups) is measured there. */
static void fused_defaults(const clsp_device_caps *c, clsp_tuning *t) {
  t->fused = (c->type & CL_DEVICE_TYPE_CPU) != 0;
  t->fused_vec = 16;
  t->fused_blocks = 4;
  t->fused_ksplit = 1;
  /* Row tiles of 128 (docs/performance.md) where wide_cpu: the one-row
   * kernels stream each tap's weights once per row, which bounds them
   * there. 128 rather than 32: a tile reads every tap's weights slice
   * once, so larger tiles read the weights fewer times per multiply-add,
   * which decides layers whose weights do not fit the L2 cache (27 x 256
   * x 256 floats are 7 MB). */
  t->fused_rows = wide_cpu(c) ? 128 : 1;
  /* Per output row, a work-item of a row tile needs enough multiply-adds
   * (cin x its columns x the row's pairs) to pay for its bookkeeping. On
   * PoCL (docs/performance.md), Intel Xeon VM, KITTI, when the tiles
   * still selected their rows tap by tap: 64->64 SubM at 5.7 pairs per
   * row (23k) 1.5x faster in row tiles, 32->64 SubM (11.7k) and SECOND's
   * 32->32 SubM at 13.4 pairs per row (13.7k) 6% and 23% faster,
   * full-resolution 32->32 SubM (5.8k) and a 32->64 k3 s2 conv at 2.8
   * pairs per row (5.8k) 0-15% slower, 16->16 and 16->32 layers (1.5k,
   * 1.7k) 2x slower. With the tap-sorted lists, thresholds from 0 to 8192
   * ran SECOND alike. */
  t->fused_rows_min_macs = 8192;
  /* GPUs: work-group tiles in local memory (a work-item's registers are
   * few there, and neighbouring work-items read neighbouring addresses);
   * whether fused beats gather -> GEMM -> scatter there is not measured
   * yet, so `fused` above stays 0 on them until `clsp tune` says. */
  t->fused_groups = !(c->type & CL_DEVICE_TYPE_CPU);
  t->fused_local = clsp__fused_local_default(c);
  memset(t->dataflow, CLSP_TUNED_DEFAULT, sizeof t->dataflow);
}

void clsp__tuning_resolve(clsp_context *ctx) {
  const clsp_device_caps *c = &ctx->caps;
  clsp_tuning *t = &ctx->tuning;
  t->int64_atomics = c->int64_atomics;
  t->hash64 = c->int64_atomics && !(ctx->flags & CLSP_CONTEXT_FORCE_HASH32);
  t->float_atomic_add =
    c->float_atomic_add && !(ctx->flags & CLSP_CONTEXT_NO_FLOAT_ATOMICS);
  t->exact_divide = exact_divide(ctx->device);
  /* On CPU devices PoCL turns a row kernel's channel loop into vector
   * copies (~8x faster there); GPUs coalesce the element shape. */
  t->row_kernels = (c->type & CL_DEVICE_TYPE_CPU) != 0;
  t->local_size = PREFERRED_LOCAL;
  t->fixed_groups = (c->type & CL_DEVICE_TYPE_CPU) != 0;
  /* PoCL's devices specialise each kernel build for grids narrower than
   * USHRT_MAX items per dimension (grid_width_specialization_limit). */
  t->small_grid_limit =
    strstr(c->platform_name, "Portable Computing Language") ? 65535 : 0;
  t->scan_chunk = SCAN_CHUNK;
  t->radix_block = RADIX_BLOCK;
  t->vox_scan_group = VOX_SCAN_GROUP;
  t->vox_scan_group = clsp__group_within(t->vox_scan_group, c->max_work_group_size);
  t->vox_bounds_chunk = VOX_BOUNDS_CHUNK;
  fused_defaults(c, t);
  clsp__tuning_load(ctx);
  fused_tile_from_env(t);
}

int clsp__tuning_fused_for(const clsp_tuning *t, size_t c_in, size_t c_out) {
  unsigned d = t->dataflow[clsp_tuning_bucket(c_in)][clsp_tuning_bucket(c_out)];
  return d == CLSP_TUNED_DEFAULT ? t->fused : d == CLSP_TUNED_FUSED;
}

int clsp__tuning_any_fused(const clsp_tuning *t) {
  for (int i = 0; i < CLSP_TUNING_BUCKETS; i++)
    for (int o = 0; o < CLSP_TUNING_BUCKETS; o++)
      if (clsp__tuning_fused_for(t, i == 0 ? 1 : 16u << i, o == 0 ? 1 : 16u << o))
        return 1;
  return 0;
}

void clsp__tuning_defines(const clsp_tuning *t, char *buf, size_t cap) {
  snprintf(buf, cap,
           "-DCLSP_INT64_ATOMICS=%d -DCLSP_FLOAT_ATOMIC_ADD=%d -DCLSP_HASH64=%d "
           "-DCLSP_VOX_BOUNDS_CHUNK=%u",
           t->int64_atomics, t->float_atomic_add, t->hash64, t->vox_bounds_chunk);
}
