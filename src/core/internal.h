/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces shared by the library's host code. Not installed. */
#ifndef CLSP_CORE_INTERNAL_H
#define CLSP_CORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"

#define CLSP_MESSAGE_MAX 8192
#define CLSP_MAX_PROGRAMS 32
#define CLSP_MAX_KERNELS_PER_PROGRAM 24

typedef struct clsp_kernel_slot {
  const char *name; /* static string */
  cl_kernel kernel;
} clsp_kernel_slot;

/* A built program, keyed by its source list and options. */
typedef struct clsp_program_slot {
  char *key;        /* "sources|options", owned */
  cl_program program;
  clsp_kernel_slot kernels[CLSP_MAX_KERNELS_PER_PROGRAM];
  int n_kernels;
} clsp_program_slot;

struct clsp_context {
  cl_platform_id platform;
  cl_device_id device;
  cl_context cl;
  cl_command_queue queue;
  int profiling;               /* queue has profiling enabled */
  clsp_device_caps caps;
  uint32_t flags;
  size_t workspace_bytes;
  char cache_dir[1024];        /* "" when the cache is disabled */
  clsp_cache_stats cache_stats;
  clsp_log_fn log;
  void *log_user;
  uint64_t mem_current, mem_peak;
  clsp_program_slot programs[CLSP_MAX_PROGRAMS];
  int n_programs;
  int registered;              /* counted in clsp__gemm_context_opened */
  char message[CLSP_MESSAGE_MAX];
};

/* ---- errors (src/core/status.c, context.c) ---- */

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
#define CLSP_CL_CHECK(ctx, call, what)                                  \
  do {                                                                  \
    cl_int clsp_err_ = (call);                                          \
    if (clsp_err_ != CL_SUCCESS) return clsp__cl_fail((ctx), clsp_err_, (what)); \
  } while (0)

/* ---- devices (src/core/device.c) ---- */
clsp_status clsp__probe_caps(cl_platform_id p, cl_device_id d,
                             clsp_device_caps *caps);
/* Resolves spec to OpenCL handles. */
clsp_status clsp__select(clsp_context *ctx, const char *spec,
                         cl_platform_id *platform, cl_device_id *device);

/* ---- device memory (src/core/memory.c) ---- */
/* clCreateBuffer with accounting; size 0 allocates 1 byte so that a handle
 * always exists. Allocation failure gives CLSP_ERROR_OUT_OF_DEVICE_MEMORY
 * naming `what` and the size. */
clsp_status clsp__buffer_create(clsp_context *ctx, cl_mem_flags flags,
                                size_t bytes, void *host, const char *what,
                                cl_mem *out);
/* Releases and un-accounts a buffer made by clsp__buffer_create. NULL ok. */
void clsp__buffer_release(clsp_context *ctx, cl_mem *mem);
/* Fills `bytes` at `offset` with a repeated 32-bit pattern (async). */
clsp_status clsp__buffer_fill32(clsp_context *ctx, cl_mem mem, uint32_t pattern,
                                size_t offset, size_t bytes, cl_event *ev);

/* ---- kernels and programs (src/core/program.c, cache.c) ---- */
/* The program made of the comma-separated kernel source files `sources`
 * (e.g. "common.clh,hash.cl"), built with the context's capability
 * defines plus `options`; built once per context, then memoised. */
clsp_status clsp__program(clsp_context *ctx, const char *sources,
                          const char *options, clsp_program_slot **out);
/* A kernel of that program, created once and memoised. `name` must be a
 * string literal (kept by pointer). */
clsp_status clsp__kernel(clsp_context *ctx, const char *sources,
                         const char *options, const char *name,
                         cl_kernel *out);
/* Sets kernel arguments from a list of (size, pointer) pairs. */
clsp_status clsp__set_args(clsp_context *ctx, cl_kernel k, const char *kname,
                           int n, const size_t *sizes,
                           const void *const *values);
/* Launches a 1D range of `global` items (rounded up to a multiple of
 * `local`, 0 = let the driver choose); the kernel must bound-check. */
clsp_status clsp__launch_1d(clsp_context *ctx, cl_kernel k, const char *kname,
                            size_t global, size_t local, cl_event *ev);
void clsp__programs_release(clsp_context *ctx);

/* The build options every program gets for this context's device. */
void clsp__base_options(const clsp_context *ctx, char *buf, size_t cap);

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
int clsp__cache_load(clsp_context *ctx, const char *key_material,
                     size_t key_len, cl_program *out);
void clsp__cache_store(clsp_context *ctx, const char *key_material,
                       size_t key_len, cl_program program);

/* ---- profiling helpers (src/core/context.c) ---- */
/* Device milliseconds between an event's start and end; 0 without a
 * profiling queue or on error. */
double clsp__event_ms(const clsp_context *ctx, cl_event ev);
/* An event's start and end in device nanoseconds; 0 when unavailable. */
int clsp__event_times(cl_event ev, cl_ulong *start, cl_ulong *end);
/* Milliseconds from the start of `first` to the end of `last`. */
double clsp__event_span_ms(const clsp_context *ctx, cl_event first,
                           cl_event last);

/* ---- GEMM (src/pipeline/gemm.c) ---- */
/* A context was created / is being destroyed (each context once, after
 * its creation succeeded). CLBlast's process-wide program cache is dropped
 * when the last live context goes, if CLBlast ran: cached programs retain
 * their cl_context (a leak per context otherwise), and releasing them in
 * CLBlast's static destructors at exit, after the OpenCL runtime's own
 * teardown, corrupts the heap under oclgrind. It is not cleared while any
 * other context lives, since that context may be inside a CLBlast call on
 * another thread; programs of destroyed contexts stay cached (and keep
 * their cl_context) until then. */
void clsp__gemm_context_opened(void);
void clsp__gemm_context_closed(void);

/* ---- small utilities (src/core/util.c) ---- */
uint64_t clsp__fnv1a64(const void *data, size_t len, uint64_t seed);
/* Overflow-checked a*b; returns 0 on overflow. */
int clsp__mul_size(size_t a, size_t b, size_t *out);
double clsp__now_ms(void);

#endif
