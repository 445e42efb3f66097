/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_CONTEXT_H
#define CLSPCONV_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Devices ----------------------------------------------------------- */

/* What a device can do, probed once (per context, or per enumeration). */
typedef struct clsp_device_caps {
  char platform_name[128];
  char platform_version[128];
  char device_name[128];
  char device_version[128]; /* CL_DEVICE_VERSION, e.g. "OpenCL 1.2 pocl" */
  char driver_version[128];
  cl_device_type type;                /* CL_DEVICE_TYPE_GPU, _CPU, _ACCELERATOR */
  int opencl_major, opencl_minor;     /* device OpenCL version */
  int opencl_c_major, opencl_c_minor; /* highest OpenCL C version */
  int int64_atomics;                  /* cl_khr_int64_base_atomics */
  int fp16;                           /* cl_khr_fp16 */
  int fp64;                           /* cl_khr_fp64 or a double FP config */
  int float_atomic_add;               /* cl_ext_float_atomics: global fp32 add */
  int subgroups;                      /* cl_khr_subgroups */
  uint64_t local_mem_bytes;
  int local_mem_dedicated; /* CL_LOCAL (1) or CL_GLOBAL emulation (0) */
  size_t max_work_group_size;
  uint32_t compute_units;
  uint64_t global_mem_bytes;
  uint64_t max_alloc_bytes;
  uint32_t native_float_width; /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT: floats
                                  per native vector register (PoCL: 16 with
                                  AVX-512, 8 with AVX2) */
} clsp_device_caps;

/* One device as the OpenCL platforms list it. */
typedef struct clsp_device_info {
  unsigned platform_index; /* position in clGetPlatformIDs */
  unsigned device_index;   /* position in clGetDeviceIDs(ALL) */
  clsp_device_caps caps;
} clsp_device_info;

/*
 * Lists every OpenCL device of every platform. Platforms that report no
 * devices (Mesa's rusticl without RUSTICL_ENABLE, Clover) are skipped.
 * Writes at most `capacity` entries to `out` (which may be NULL when
 * capacity is 0) and the total number of devices to `*count`.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (count NULL, out NULL with
 * capacity > 0), OpenCL codes from the platform queries.
 */
CLSP_API clsp_status clsp_devices_list(clsp_device_info *out, size_t capacity,
                                       size_t *count);

/*
 * Resolves a device specification against the current device list:
 * NULL or "" means the default (first GPU, else first accelerator, else
 * first CPU, else any), "P:D" a platform and device index, anything else a
 * case-insensitive substring of the platform or device name (first match).
 * Writes the chosen entry to `*out`.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (out NULL), CLSP_ERROR_NO_DEVICE
 * (nothing matches, or no device at all).
 */
CLSP_API clsp_status clsp_device_select(const char *spec, clsp_device_info *out);

/* ---- Contexts ---------------------------------------------------------- */

typedef struct clsp_context clsp_context;

typedef enum clsp_log_level {
  CLSP_LOG_ERROR = 0,
  CLSP_LOG_WARNING = 1,
  CLSP_LOG_INFO = 2,
  CLSP_LOG_DEBUG = 3,
} clsp_log_level;

/* Receives every error message the library records, and notes about
 * fallbacks (cache misses, optional features not used). Called on the
 * thread that made the call; `message` is valid during the call only. */
typedef void (*clsp_log_fn)(void *user, clsp_log_level level, const char *message);

enum clsp_context_flag {
  /* Create the queue with CL_QUEUE_PROFILING_ENABLE (own queues only; a
   * wrapped queue is used as it is) so that stage timings are available. */
  CLSP_CONTEXT_PROFILING = 1u << 0,
  /* Bit-identical results run to run: no floating-point atomics. */
  CLSP_CONTEXT_DETERMINISTIC = 1u << 1,
  /* Use the paths of devices without 64-bit atomics even where they exist:
   * the 32-bit hash insert, and the voxelizer's key sort for grids beyond
   * 32-bit keys (for testing both paths on one device). */
  CLSP_CONTEXT_FORCE_HASH32 = 1u << 2,
  /* Do not use native float atomic add even where the device has it. */
  CLSP_CONTEXT_NO_FLOAT_ATOMICS = 1u << 3,
  /* Neither read nor write the on-disk program binary cache. */
  CLSP_CONTEXT_NO_BINARY_CACHE = 1u << 4,
  /* Ignore the stored tuning file (clspconv/tuning.h): the defaults from
   * the device's capabilities are in effect (clsp tune measures from
   * them). */
  CLSP_CONTEXT_NO_TUNING_FILE = 1u << 5,
};

/*
 * Context options. A zero-initialised struct asks for every default.
 */
typedef struct clsp_context_options {
  uint32_t flags;         /* clsp_context_flag bits */
  const char *device;     /* device spec (see clsp_device_select); NULL:
                               $CLSP_DEVICE, else the default device */
  size_t workspace_bytes; /* device scratch budget for gather/GEMM;
                               0: 256 MiB (clamped to a quarter of
                               global memory) */
  const char *cache_dir;  /* program binary cache folder; NULL:
                               $CLSP_CACHE_DIR, else
                               $XDG_CACHE_HOME/clspconv, else
                               ~/.cache/clspconv */
  clsp_log_fn log;        /* optional */
  void *log_user;
} clsp_context_options;

/*
 * Creates platform context, device context and an in-order command queue on
 * the device chosen by options->device (see above). `options` may be NULL.
 * On success `*out` owns all of them; release with clsp_context_destroy.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (out NULL), CLSP_ERROR_NO_DEVICE,
 * CLSP_ERROR_OUT_OF_HOST_MEMORY, OpenCL codes. `*out` is NULL on error.
 */
CLSP_API clsp_status clsp_context_create(const clsp_context_options *options,
                                         clsp_context **out);

/*
 * Wraps a caller's context, device and queue. The library retains each and
 * releases its own reference in clsp_context_destroy; the caller keeps its
 * references and may go on using the objects. options->device is ignored.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (a NULL handle), CLSP_ERROR_MISMATCH
 * (queue not on that context/device), OpenCL codes.
 */
CLSP_API clsp_status clsp_context_wrap(cl_context context, cl_device_id device,
                                       cl_command_queue queue,
                                       const clsp_context_options *options,
                                       clsp_context **out);

/* Waits for queued work, releases everything the context owns. NULL is a
 * no-op. Handles created from the context must be destroyed before. */
CLSP_API void clsp_context_destroy(clsp_context *ctx);

/* The capabilities probed for the context's device. Infallible for a
 * valid ctx; NULL for NULL. The pointer lives as long as the context. */
CLSP_API const clsp_device_caps *clsp_context_caps(const clsp_context *ctx);

/* The OpenCL objects the context uses (not retained for the caller). */
CLSP_API clsp_status clsp_context_cl(const clsp_context *ctx, cl_context *context,
                                     cl_device_id *device, cl_command_queue *queue);

/* The detail of the last error recorded on this context ("" if none).
 * Valid until the next call on the context. NULL ctx gives "". */
CLSP_API const char *clsp_context_last_error(const clsp_context *ctx);

/* Waits until the context's queue is idle. */
CLSP_API clsp_status clsp_context_finish(clsp_context *ctx);

/* Device memory the library holds for this context now and at most since
 * creation (or the last reset), in bytes. */
CLSP_API clsp_status clsp_context_memory(const clsp_context *ctx, uint64_t *current,
                                         uint64_t *peak);
CLSP_API clsp_status clsp_context_reset_peak(clsp_context *ctx);

/*
 * Compiles (or loads from the binary cache) every kernel program the
 * context may need, so that later calls do not pay for building them. A
 * compile from source is announced once per context through the log
 * callback (CLSP_LOG_INFO) before it starts.
 * Errors: CLSP_ERROR_BUILD_FAILED (message holds the compiler log),
 * CLSP_ERROR_KERNEL_SOURCE, OpenCL codes.
 */
CLSP_API clsp_status clsp_context_warmup(clsp_context *ctx);

/*
 * clsp_context_warmup, then launches everything once: CLBlast's GEMM
 * routines on both of its paths (direct and indirect kernels; CLBlast
 * compiles them inside the first call of the process) and a workload
 * (512 points: voxelization, the four conv kinds in every scatter mode,
 * backward passes, pooling, tensors from host coordinates, scatter-dense,
 * element-wise ops), so that drivers which compile at the first launch
 * have done so. PoCL specialises every kernel for its work-group size and
 * for grids under or over 65535 items per dimension; on PoCL the workload
 * runs again on 98,304 points to reach the wide builds. Drivers such as
 * PoCL cache those binaries on disk, so the first frame of a later process
 * is fast too. Takes about a second (warm caches, PoCL on 2 cores) to
 * minutes (first use on PoCL);
 * very slow on simulators. Errors: those of clsp_context_warmup and of the
 * operations it runs.
 */
CLSP_API clsp_status clsp_context_warmup_launches(clsp_context *ctx);

/* Where the program cache of this context lives ("" when disabled). */
CLSP_API const char *clsp_context_cache_dir(const clsp_context *ctx);

/* Counters of the program binary cache since context creation. */
typedef struct clsp_cache_stats {
  uint32_t hits;           /* programs loaded from a cached binary */
  uint32_t misses;         /* no entry: built from source */
  uint32_t rejected;       /* entry present but truncated/corrupt/mismatching */
  uint32_t writes;         /* entries written */
  uint32_t write_failures; /* entries that could not be written */
} clsp_cache_stats;
CLSP_API clsp_status clsp_context_cache_stats(const clsp_context *ctx,
                                              clsp_cache_stats *out);

#ifdef __cplusplus
}
#endif
#endif
