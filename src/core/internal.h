/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces shared by the library's host code. Not installed. */
#ifndef CLSP_CORE_INTERNAL_H
#define CLSP_CORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"
#include "shared_defs.h" /* cl/: constants shared with the kernels */

#define CLSP_MESSAGE_MAX 8192
/* Capacity of the per-context program and kernel caches, indexed by the
 * ids of the pipeline's tables (src/pipeline/programs.c asserts its
 * counts fit). */
#define CLSP_MAX_PROGRAMS 32
#define CLSP_MAX_KERNELS 160

/* A created kernel and its launch limits (src/core/launch.c). */
typedef struct clsp_kernel_slot {
  cl_kernel kernel;
  size_t max_group;   /* CL_KERNEL_WORK_GROUP_SIZE */
  size_t tuned_local; /* tuning.local_size capped by max_group */
} clsp_kernel_slot;

/* Per-context tuning record: every device-specific choice, resolved once
 * from the device's capabilities and the context flags when the context
 * is made (src/core/tuning.c). Kernels see the fields they need as -D
 * defines (clsp__tuning_defines); host code reads the rest here. */
typedef struct clsp_tuning {
  /* capabilities in use (CLSP_INT64_ATOMICS, CLSP_HASH64,
   * CLSP_FLOAT_ATOMIC_ADD) */
  int int64_atomics, hash64, float_atomic_add;
  int exact_divide;          /* -cl-fp32-correctly-rounded-divide-sqrt available */
  int row_kernels;           /* gather/scatter: one work-item per row (CPU
                                devices) instead of one per element */
  size_t local_size;         /* preferred group of 1D element kernels */
  int fixed_groups;          /* 1D launches of the driver's choice use
                                local_size instead: PoCL compiles a kernel
                                for each new group size at its first launch
                                and picks the size from the global size, so
                                each new frame size compiled again */
  size_t small_grid_limit;   /* >0 (PoCL): launches whose every grid
                                dimension is under this many items run a
                                separately compiled ("smallgrid") build of
                                the kernel, so warm-up launches on both
                                sides of it; 0: no such split */
  uint32_t scan_chunk;       /* elements per work-item in scans/compactions */
  uint32_t radix_block;      /* keys per radix-sort block */
  size_t vox_scan_group;     /* voxelize block-scan group (capped per kernel) */
  uint32_t vox_bounds_chunk; /* points per work-item of the voxelize bounds
                                pass (CLSP_VOX_BOUNDS_CHUNK) */
  /* The fused conv dataflow (src/pipeline/conv_fused.c,
   * docs/performance.md). */
  int fused; /* 1: fused is the default dataflow (CPU devices);
                             0: gather -> GEMM -> scatter */
  uint8_t dataflow[CLSP_TUNING_BUCKETS][CLSP_TUNING_BUCKETS]; /* per layer
                             class [Cin bucket][Cout bucket]: a
                             clsp_tuned_dataflow (DEFAULT: `fused`) */
  unsigned fused_vec;           /* widest accumulator vector: 16, 8, 4 or 1 */
  unsigned fused_blocks;        /* vector accumulators per work-item (1..4, vec 16
                             only): one output row x vec*blocks columns */
  unsigned fused_ksplit;        /* 3- and 4-block tiles: 2 = a second accumulator
                             set for odd input channels, 1 = one set;
                             narrower tiles always split */
  unsigned fused_rows;          /* output rows per work-item: 1 = the one-row
                             kernels, 2..CLSP_FUSED_ROWS_MAX = row tiles
                             (float storage; cl/conv_fused.cl) */
  unsigned fused_rows_min_macs; /* row tiles only for slices where
                             cin x columns x pairs per output row >= this
                             (src/pipeline/conv_fused.c); not in the
                             tuning file */
  int fused_groups;             /* 1: work-group tiles in local memory (the
                             GPU shape, cl/conv_fused.cl); fused_vec ..
                             fused_rows_min_macs then do not apply */
  unsigned fused_local;         /* work-group size of the work-item tile
                             launches (capped per kernel) */
} clsp_tuning;

struct clsp_context {
  cl_platform_id platform;
  cl_device_id device;
  cl_context cl;
  cl_command_queue queue;
  int profiling; /* queue has profiling enabled */
  clsp_device_caps caps;
  uint32_t flags;
  size_t workspace_bytes;
  char cache_dir[1024];   /* "" when the cache is disabled */
  char tuning_path[1100]; /* the device's tuning file ("": cache disabled) */
  char tuning_note[1400]; /* why the tuning file was ignored ("" if not) */
  int tuning_loaded;      /* the tuning file was read at creation */
  clsp_cache_stats cache_stats;
  clsp_log_fn log;
  void *log_user;
  uint64_t mem_current, mem_peak;
  clsp_tuning tuning;
  cl_program programs[CLSP_MAX_PROGRAMS];     /* by program id; NULL: not built */
  clsp_kernel_slot kernels[CLSP_MAX_KERNELS]; /* by kernel id */
  int registered;                             /* counted in clsp__blas_context_opened */
  int compile_noted;                          /* the first-compile notice was logged */
  char message[CLSP_MESSAGE_MAX];
};

/* ---- errors (src/core/status.c) ---- */

/* Records a formatted message on ctx (may be NULL), logs it, returns st. */
clsp_status clsp__fail(clsp_context *ctx, clsp_status st, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;
/* For an OpenCL error `err` from call `what`: maps
 * CL_MEM_OBJECT_ALLOCATION_FAILURE to CLSP_ERROR_OUT_OF_DEVICE_MEMORY and
 * CL_OUT_OF_HOST_MEMORY to CLSP_ERROR_OUT_OF_HOST_MEMORY, keeps any other
 * code, and records "what: CL_NAME (code)". */
clsp_status clsp__cl_fail(clsp_context *ctx, cl_int err, const char *what);
void clsp__log(clsp_context *ctx, clsp_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* Shorthand: on a CL error, record it and return from the function. */
#define CLSP_CL_CHECK(ctx, call, what)                                                   \
  do {                                                                                   \
    cl_int clsp_err_ = (call);                                                           \
    if (clsp_err_ != CL_SUCCESS) return clsp__cl_fail((ctx), clsp_err_, (what));         \
  } while (0)

/* ---- devices (src/core/device.c) ---- */
clsp_status clsp__probe_caps(cl_platform_id p, cl_device_id d, clsp_device_caps *caps);
/* Resolves spec to OpenCL handles. */
clsp_status clsp__select(clsp_context *ctx, const char *spec, cl_platform_id *platform,
                         cl_device_id *device);

/* ---- device memory (src/core/memory.c) ---- */
/* clCreateBuffer with accounting; size 0 allocates 1 byte so that a handle
 * always exists. Allocation failure gives CLSP_ERROR_OUT_OF_DEVICE_MEMORY
 * naming `what` and the size. */
clsp_status clsp__buffer_create(clsp_context *ctx, cl_mem_flags flags, size_t bytes,
                                void *host, const char *what, cl_mem *out);
/* Releases and un-accounts a buffer made by clsp__buffer_create. NULL ok. */
void clsp__buffer_release(clsp_context *ctx, cl_mem *mem);

/* ---- tuning (src/core/tuning.c) ---- */
/* Fills ctx->tuning from ctx->caps, ctx->flags and the device, then the
 * fields of the stored tuning file (clsp__tuning_load; after
 * clsp__cache_init), then $CLSP_FUSED_TILE. */
void clsp__tuning_resolve(clsp_context *ctx);
/* A power-of-two work-group size `want` halved until it is at most
 * `limit`; at least 1. */
static inline size_t clsp__group_within(size_t want, size_t limit) {
  while (want > 1 && want > limit) want /= 2;
  return want ? want : 1;
}
/* The default work-group size of the fused work-item tile launches. */
unsigned clsp__fused_local_default(const clsp_device_caps *c);
/* Reads the device's tuning file into ctx->tuning unless
 * CLSP_CONTEXT_NO_TUNING_FILE; an unusable file is ignored, its reason
 * kept in ctx->tuning_note and logged (src/core/tuning_file.c). */
void clsp__tuning_load(clsp_context *ctx);
/* 1 when a conv of c_in -> c_out channels runs fused by the record. */
int clsp__tuning_fused_for(const clsp_tuning *t, size_t c_in, size_t c_out);
/* 1 when any layer class runs fused (rulebooks then build the fused pair
 * list with their map). */
int clsp__tuning_any_fused(const clsp_tuning *t);
/* The -D defines every program gets: "-DNAME=value ..." (kernels read
 * each of them; see cl/common.clh). */
void clsp__tuning_defines(const clsp_tuning *t, char *buf, size_t cap);

/* ---- kernels and programs: src/core/launch.h (program.c, launch.c) ---- */

/* Embedded kernel sources (generated at build time from cl/). */
typedef struct clsp_kernel_source {
  const char *name;
  const char *text;
  size_t length;
} clsp_kernel_source;
extern const clsp_kernel_source clsp_kernel_sources[];
extern const size_t clsp_kernel_source_count;

/* Binary cache (src/core/cache.c). */
void clsp__cache_init(clsp_context *ctx, const char *dir_option);
/* Tries to build `program` from a cached binary for `key_material`;
 * returns 1 and a built program on success, 0 otherwise (silently). */
int clsp__cache_load(clsp_context *ctx, const char *key_material, size_t key_len,
                     cl_program *out);
void clsp__cache_store(clsp_context *ctx, const char *key_material, size_t key_len,
                       cl_program program);

/* ---- BLAS (src/core/blas.c) ---- */
/* C[b] = A[b] * B[b] (+ beta C) for b < batch, row-major, A rows x cin,
 * B cin x cout, fixed strides between members; one CLBlast call
 * (CLBlastSgemm for batch 1, else CLBlastSgemmStridedBatched). */
clsp_status clsp__gemm(clsp_context *ctx, size_t rows, size_t cin, size_t cout,
                       size_t batch, cl_mem a, size_t a_off, cl_mem b, size_t b_off,
                       float beta, cl_mem c, size_t c_off, cl_event *ev);
/* Compiles CLBlast's kernels for every GEMM routine and path the library
 * uses (a few throw-away GEMMs), so that a later first frame does not. */
clsp_status clsp__blas_warmup(clsp_context *ctx);
/* A context was created / is being destroyed (each context once, after
 * its creation succeeded). CLBlast's process-wide program cache is dropped
 * when the last live context goes, if CLBlast ran: cached programs retain
 * their cl_context (a leak per context otherwise), and releasing them in
 * CLBlast's static destructors at exit, after the OpenCL runtime's own
 * teardown, corrupts the heap under oclgrind. It is not cleared while any
 * other context lives, since that context may be inside a CLBlast call on
 * another thread; programs of destroyed contexts stay cached (and keep
 * their cl_context) until then. */
void clsp__blas_context_opened(void);
void clsp__blas_context_closed(void);

/* ---- small utilities (src/core/util.c) ---- */
uint64_t clsp__fnv1a64(const void *data, size_t len, uint64_t seed);
/* Overflow-checked a*b; returns 0 on overflow. */
int clsp__mul_size(size_t a, size_t b, size_t *out);
double clsp__now_ms(void);

#endif
