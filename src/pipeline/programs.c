/* SPDX-License-Identifier: Apache-2.0 */
/* The table of kernel programs and kernels (programs.h), their build
 * options, and clsp_context_warmup, which builds every program. A new
 * stage costs one program row (and its kernels one CLSP_KERNEL_LIST line
 * each). */
#include <stdio.h>
#include "programs.h"

_Static_assert(CLSP_PROGRAM_COUNT <= CLSP_MAX_PROGRAMS, "raise CLSP_MAX_PROGRAMS");
_Static_assert(CLSP_KERNEL_COUNT <= CLSP_MAX_KERNELS, "raise CLSP_MAX_KERNELS");
/* Kernels test the conv kind through shared_defs.h. */
_Static_assert(CLSP_KIND_SUBMANIFOLD == CLSP_CONV_SUBMANIFOLD &&
                 CLSP_KIND_REGULAR == CLSP_CONV_REGULAR &&
                 CLSP_KIND_TRANSPOSED == CLSP_CONV_TRANSPOSED &&
                 CLSP_KIND_INVERSE == CLSP_CONV_INVERSE,
               "shared_defs.h conv kinds differ from clsp_conv_kind");
/* The fused conv kernels' epilogue tests the activation the same way. */
_Static_assert(CLSP_ACT_NONE == CLSP_ACTIVATION_NONE &&
                 CLSP_ACT_RELU == CLSP_ACTIVATION_RELU &&
                 CLSP_ACT_SIGMOID == CLSP_ACTIVATION_SIGMOID &&
                 CLSP_ACT_LEAKY_RELU == CLSP_ACTIVATION_LEAKY_RELU,
               "shared_defs.h activations differ from clsp_activation");

/* scatter.cl: atomic_float and atomic_fetch_add_explicit are OpenCL C
 * 2.0+; without native float atomics the 1.2 compare-and-swap loop is
 * built. */
static void scatter_options(const clsp_context *ctx, char *buf, size_t cap) {
  const char *std = "";
  if (ctx->tuning.float_atomic_add)
    std = ctx->caps.opencl_c_major >= 3 ? "-cl-std=CL3.0" : "-cl-std=CL2.0";
  snprintf(buf, cap, "%s", std);
}

/* voxelize.cl: exact float division reproduces the float32 quantisation
 * of the references bit for bit. */
static void voxelize_options(const clsp_context *ctx, char *buf, size_t cap) {
  snprintf(buf, cap, "%s",
           ctx->tuning.exact_divide ? "-cl-fp32-correctly-rounded-divide-sqrt" : "");
}

/* The float16-storage builds (cl/vec.clh). */
static void half_storage_options(const clsp_context *ctx, char *buf, size_t cap) {
  (void)ctx;
  snprintf(buf, cap, "-DCLSP_HALF_STORAGE=1");
}

#define PROGRAM(id, sources, options) [CLSP_P_##id] = {CLSP_P_##id, sources, options}
const clsp_program_def clsp__programs[CLSP_PROGRAM_COUNT] = {
  PROGRAM(UTIL, "util.cl", NULL),
  PROGRAM(HASH, "hash.cl,rulebook.cl", NULL),
  PROGRAM(SCAN, "scan.cl", NULL),
  PROGRAM(SORT, "sort.cl", NULL),
  PROGRAM(GATHER, "gather.cl", NULL),
  PROGRAM(SCATTER, "scatter.cl", scatter_options),
  PROGRAM(ELEMENTWISE, "vec.clh,elementwise.cl", NULL),
  PROGRAM(VOXELIZE, "voxelize.cl", voxelize_options),
  PROGRAM(CONV_FUSED, "vec.clh,conv_fused.cl", NULL),
  PROGRAM(PEAK, "peak.cl", NULL),
  PROGRAM(DENSE, "vec.clh,dense.cl", NULL),
  PROGRAM(BACKWARD, "vec.clh,backward.cl", NULL),
  PROGRAM(POOL, "pool.cl", NULL),
  PROGRAM(CONV_FUSED_HALF, "vec.clh,conv_fused.cl", half_storage_options),
  PROGRAM(ELEMENTWISE_HALF, "vec.clh,elementwise.cl", half_storage_options),
  PROGRAM(DENSE_HALF, "vec.clh,dense.cl", half_storage_options),
};

#define KERNEL_ROW_(id, program, name)                                                   \
  [CLSP_K_##id] = {CLSP_K_##id, &clsp__programs[CLSP_P_##program], #name},
const clsp_kernel_def clsp__kernels[CLSP_KERNEL_COUNT] = {CLSP_KERNEL_LIST(KERNEL_ROW_)};

clsp_status clsp_context_warmup(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  for (int i = 0; i < CLSP_PROGRAM_COUNT; i++) {
    cl_program p;
    clsp_status st = clsp__program_get(ctx, &clsp__programs[i], &p);
    if (st != CLSP_SUCCESS) return st;
  }
  return CLSP_SUCCESS;
}
