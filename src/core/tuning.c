/* SPDX-License-Identifier: Apache-2.0 */
/* The per-context tuning record (internal.h: clsp_tuning): where every
 * device-specific choice is made, once, from the device's capabilities.
 * Later tile choices go here too. */
#include <stdio.h>
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
  t->scan_chunk = SCAN_CHUNK;
  t->radix_block = RADIX_BLOCK;
  t->vox_scan_group = VOX_SCAN_GROUP;
  while (t->vox_scan_group > 1 && t->vox_scan_group > c->max_work_group_size)
    t->vox_scan_group /= 2;
  t->vox_bounds_chunk = VOX_BOUNDS_CHUNK;
}

void clsp__tuning_defines(const clsp_tuning *t, char *buf, size_t cap) {
  snprintf(buf, cap,
           "-DCLSP_INT64_ATOMICS=%d -DCLSP_FLOAT_ATOMIC_ADD=%d -DCLSP_HASH64=%d "
           "-DCLSP_VOX_BOUNDS_CHUNK=%u",
           t->int64_atomics, t->float_atomic_add, t->hash64, t->vox_bounds_chunk);
}
