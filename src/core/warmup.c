/* SPDX-License-Identifier: Apache-2.0 */
/* clsp_context_warmup: builds every program the pipeline can use. */
#include "internal.h"

typedef struct program_spec {
  const char *sources;
  const char *options;
} program_spec;

/* Every (sources, options) pair the library builds; keep in step with the
 * pipeline modules. */
static const program_spec all_programs[] = {
  {"common.clh,util.cl", ""},
  {"common.clh,hash.cl,rulebook.cl", ""},
  {"common.clh,scan.cl", ""},
  {"common.clh,sort.cl", ""},
  {"common.clh,gather.cl", ""},
  {"common.clh,elementwise.cl", ""},
};

/* scatter.cl's options depend on the device (float atomics: OpenCL C 2.0+). */
const char *clsp__scatter_options(const clsp_context *ctx);
/* voxelize.cl's options ask for exact division where the device offers it. */
const char *clsp__voxelize_options(const clsp_context *ctx);

clsp_status clsp_context_warmup(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  for (size_t i = 0; i < sizeof all_programs / sizeof all_programs[0]; i++) {
    clsp_program_slot *slot = NULL;
    clsp_status st = clsp__program(ctx, all_programs[i].sources,
                                   all_programs[i].options, &slot);
    if (st != CLSP_SUCCESS) return st;
  }
  clsp_program_slot *slot = NULL;
  clsp_status st = clsp__program(ctx, "common.clh,voxelize.cl",
                                 clsp__voxelize_options(ctx), &slot);
  if (st != CLSP_SUCCESS) return st;
  return clsp__program(ctx, "common.clh,scatter.cl", clsp__scatter_options(ctx), &slot);
}
