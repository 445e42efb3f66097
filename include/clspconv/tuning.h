/* SPDX-License-Identifier: Apache-2.0 */
/* The per-device tuning record: the fused convolution's tile, the group
 * size of element-wise kernels and, per layer-shape class, which conv
 * dataflow runs. A context starts from defaults derived from its device's
 * capabilities, overridden by a record stored on disk by `clsp tune`
 * (clsp_tuning_save) for the same device, driver, platform and library
 * version. Nothing is ever measured inside a context: only `clsp tune`
 * measures. docs/performance.md ("Tuning a new device") explains it. */
#ifndef CLSPCONV_TUNING_H
#define CLSPCONV_TUNING_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layer-shape classes: a conv's input and output channel counts each fall
 * in one of four buckets, <= 16, <= 32, <= 64 and > 64 (bucket index 0..3,
 * clsp_tuning_bucket). */
#define CLSP_TUNING_BUCKETS 4

/* The most output rows per work-item of the fused row tiles
 * (clsp_tuning_params.fused_rows). */
#define CLSP_TUNING_ROWS_MAX 128

/* The dataflow of one layer-shape class. */
typedef enum clsp_tuned_dataflow {
  CLSP_TUNED_DEFAULT = 0, /* the record's fused_default */
  CLSP_TUNED_FUSED = 1,   /* fused output-stationary kernels */
  CLSP_TUNED_GEMM = 2,    /* gather -> GEMM (CLBlast) -> scatter */
} clsp_tuned_dataflow;

/* A complete tuning record. Get the context's with clsp_context_tuning,
 * change fields, apply with clsp_context_set_tuning. */
typedef struct clsp_tuning_params {
  int fused_default;     /* 1: convs run fused unless their class says
                            otherwise; 0: gather -> GEMM -> scatter */
  uint32_t fused_vec;    /* widest accumulator vector: 16, 8, 4 or 1 */
  uint32_t fused_blocks; /* vector accumulators per work-item, 1..4;
                            must be 1 unless fused_vec is 16 */
  uint32_t fused_ksplit; /* 3- and 4-block tiles: 2 = a second accumulator
                            set for odd input channels, 1 = one set */
  uint32_t local_size;   /* work-group size of 1D element-wise kernels: a
                            power of two, 1 .. the device's maximum
                            work-group size (capped per kernel) */
  /* [input bucket][output bucket]: a clsp_tuned_dataflow */
  uint8_t dataflow[CLSP_TUNING_BUCKETS][CLSP_TUNING_BUCKETS];
  /* Output rows per work-item, 1..CLSP_TUNING_ROWS_MAX: 1 runs the one-row
   * kernels; more runs row tiles that read each tap's weights once per
   * tile (float storage only; float16 storage runs one row). Last, so
   * that older initialisers keep their meaning. */
  uint32_t fused_rows;
  /* 1: the fused kernels' GPU shape, work-group tiles in local memory (a
   * group of 256 work-items owns 64 output rows x 16, 32 or 64 columns;
   * float and float16 storage; the vec, blocks, ksplit and rows fields
   * then do not apply); 0: the work-item tiles above, the CPU shape.
   * Default: 1 on GPUs and accelerators, 0 on CPU devices. Where a device
   * cannot run 256 work-items per group, the work-item tiles run. Last,
   * after fused_rows, for the same reason. */
  uint32_t fused_groups;
  /* Work-group size of the work-item tile launches (row tiles and one-row
   * kernels; not the work-group tiles, whose size is fixed): a power of
   * two, 1 .. the device's maximum work-group size (capped per kernel).
   * Each of those work-items does a lot of work, so small groups balance
   * a launch across compute units where large ones leave some idle at its
   * end. Default: 4 where row tiles are the default (CPU devices with a
   * native float vector of 16), 64 elsewhere; 0 stands for the device's
   * default (a record read back gives the value in effect). Last, after
   * fused_groups, for the same reason: an initialiser from before this
   * field leaves it 0. (The struct grows only at its end, and each new
   * field changes the library's soname: clsp_context_tuning writes the
   * whole struct, so build against the header of the library you load.) */
  uint32_t fused_local;
} clsp_tuning_params;

/* The layer-shape bucket (0..3) of a channel count. Infallible. */
CLSP_API int clsp_tuning_bucket(size_t channels);

/*
 * Copies the context's tuning record in effect to *out.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (ctx or out NULL).
 */
CLSP_API clsp_status clsp_context_tuning(const clsp_context *ctx,
                                         clsp_tuning_params *out);

/*
 * Replaces the context's tuning record with *params for every later call
 * (a per-call flag, CLSP_CONV_FUSED or CLSP_CONV_GATHER_GEMM, and
 * $CLSP_CONV_DATAFLOW still take precedence over the dataflow fields).
 * Kernels are not rebuilt: the tile selects among compiled kernels and
 * local_size applies to launches. Not to be called while another thread
 * uses the context.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (ctx or params NULL, or a field
 * outside its allowed values; the message names the field and the value,
 * e.g. "fused_vec: 3 (allowed: 16, 8, 4, 1)"). On error the record in
 * effect is unchanged.
 */
CLSP_API clsp_status clsp_context_set_tuning(clsp_context *ctx,
                                             const clsp_tuning_params *params);

/*
 * Writes the context's tuning record to its device's tuning file in the
 * context's program cache folder (clsp_context_tuning_path), atomically
 * (a temporary file renamed over it). Later contexts on the same device,
 * driver, platform and library version load it at creation.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (ctx NULL, or the cache is disabled:
 * no folder to write to), CLSP_ERROR_IO (the file cannot be written; the
 * message names it).
 */
CLSP_API clsp_status clsp_tuning_save(clsp_context *ctx);

/* The path of the context's tuning file ("" when the program cache is
 * disabled), whether or not it exists. Valid as long as the context. */
CLSP_API const char *clsp_context_tuning_path(const clsp_context *ctx);

/* Where the context's record came from: 1 when a stored tuning file was
 * loaded at creation, 0 when the capability defaults are in effect (no
 * file, or one that was ignored: the log callback got the reason at
 * CLSP_LOG_WARNING, and clsp_context_tuning_note returns it). */
CLSP_API int clsp_context_tuning_loaded(const clsp_context *ctx);

/* Why the stored tuning file was not used ("" when it was, or when there
 * is none). Valid as long as the context. NULL ctx gives "". */
CLSP_API const char *clsp_context_tuning_note(const clsp_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
