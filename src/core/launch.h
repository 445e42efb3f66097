/* SPDX-License-Identifier: Apache-2.0 */
/* The one way to launch a kernel, pass its arguments and time it (see
 * docs/architecture.md). Only src/core/launch.c calls clSetKernelArg and
 * clEnqueueNDRangeKernel. Not installed.
 *
 * Kernels are described by rows of a table that the layer above owns
 * (src/pipeline/programs.c): a program row (its cl/ sources and build
 * options) and a kernel row (its program and function name), each with a
 * small integer id. The context caches the built cl_program and cl_kernel
 * by those ids, so a launch after the first is an array index, with no
 * string formatting or comparison. */
#ifndef CLSP_CORE_LAUNCH_H
#define CLSP_CORE_LAUNCH_H

#include "internal.h"

/* Extra build options of one program for a context (after the tuning
 * defines of clsp__tuning_defines), written into buf as a C string. */
typedef void (*clsp_options_fn)(const clsp_context *ctx, char *buf, size_t cap);

/* One kernel program. */
typedef struct clsp_program_def {
  int id;                  /* cache slot, 0 <= id < CLSP_MAX_PROGRAMS */
  const char *sources;     /* comma-separated cl/ files, after the prelude
                              CLSP_PROGRAM_PRELUDE that every program gets */
  clsp_options_fn options; /* extra build options, or NULL */
} clsp_program_def;

/* One kernel function of a program. */
typedef struct clsp_kernel_def {
  int id; /* cache slot, 0 <= id < CLSP_MAX_KERNELS */
  const clsp_program_def *program;
  const char *name; /* the kernel function's name */
} clsp_kernel_def;

/* The cl/ files every program starts with. */
#define CLSP_PROGRAM_PRELUDE "shared_defs.h,common.clh"

/* ---- launch shapes ---- */

/* local of a 1D range: the context's tuned group size capped by what the
 * kernel allows (tuning.local_size). */
#define CLSP_LOCAL_TUNED ((size_t)-1)

/* Work-items of one launch. Kernels bound-check: 1D ranges are rounded up
 * to a multiple of the group size. A range with a zero extent launches
 * nothing (and sets no arguments). */
typedef struct clsp_range {
  cl_uint dims;     /* 1 or 2 */
  size_t global[2]; /* items per dimension (dims 1: global[1] unused) */
  size_t local;     /* 1D group size: CLSP_LOCAL_TUNED, 0 = the driver's
                        choice, or an exact size; 2D: always the driver's */
} clsp_range;

/* n items, tuned groups: the usual shape of element-wise kernels. */
static inline clsp_range clsp_items(size_t n) {
  return (clsp_range){1, {n, 1}, CLSP_LOCAL_TUNED};
}
/* n items in groups the driver chooses. */
static inline clsp_range clsp_items_any(size_t n) { return (clsp_range){1, {n, 1}, 0}; }
/* n items in groups of exactly `local` (kernels that use local memory). */
static inline clsp_range clsp_items_in_groups(size_t n, size_t local) {
  return (clsp_range){1, {n, 1}, local};
}
/* x by y items (dimension 0 fastest), groups the driver chooses. */
static inline clsp_range clsp_grid(size_t x, size_t y) {
  return (clsp_range){2, {x, y}, 0};
}

/* ---- arguments ---- */

/* One kernel argument: its size and a pointer to its value (NULL with a
 * size: that many bytes of local memory). */
typedef struct clsp_arg {
  size_t size;
  const void *value;
} clsp_arg;
#define CLSP_A(x)                                                                        \
  { sizeof(x), &(x) }
#define CLSP_LOCAL_BYTES(n)                                                              \
  { (n), NULL }

/* ---- profiling events ---- */

/* The one profiling-event recorder: a growable list of events, each with
 * a stage tag (an index into the caller's per-stage array, e.g. a
 * clsp_stage or a clsp_voxel_stage). Launches record under `tag`; other
 * commands (copies, CLBlast) take a slot with clsp__event_slot. Zero-
 * initialise; a NULL recorder means "not timed" everywhere. */
typedef struct clsp_events {
  cl_event *ev;
  uint8_t *stage;
  uint8_t *since_prev; /* the command's time runs from the previous end
                          (CLBlast returns only its last kernel's event) */
  size_t n, cap;
  int tag; /* stage of the next launches */
} clsp_events;

/* The event slot of the next command, tagged `stage`; NULL when e is NULL
 * or cannot grow (the command is then untimed). */
cl_event *clsp__event_slot(clsp_events *e, int stage, int since_prev);

/* Waits for the queue, then sums device time per stage into
 * stage_ms[0 .. n_stages) (added to; may be NULL), the sum of all stages
 * into *sum_ms and the span from the first start to the last end into
 * *span_ms (either may be NULL). All zero without a profiling queue.
 * e may be NULL. Errors: the clFinish error. */
clsp_status clsp__events_finish(clsp_context *ctx, const clsp_events *e, double *stage_ms,
                                int n_stages, double *sum_ms, double *span_ms);
/* Releases the events and the lists; e stays usable (empty). NULL ok. */
void clsp__events_release(clsp_events *e);

/* ---- launching ---- */

/* Sets the n arguments of kernel k and launches it over range r on the
 * context's queue, recording its event in `events` (may be NULL) under
 * events->tag. Builds the program and creates the kernel on first use.
 * Errors: build failures, CL errors naming the kernel (and argument). */
clsp_status clsp__launch(clsp_context *ctx, const clsp_kernel_def *k, clsp_range r,
                         clsp_events *events, const clsp_arg *args, int n);
#define CLSP_ARGS_(...)                                                                  \
  (const clsp_arg[]) { __VA_ARGS__ }
#define CLSP_NARGS_(...) (int)(sizeof(CLSP_ARGS_(__VA_ARGS__)) / sizeof(clsp_arg))
/* clsp__launch with the arguments as a list: CLSP_A(x), ... */
#define CLSP_LAUNCH(ctx, kdef, range, events, ...)                                       \
  clsp__launch(ctx, kdef, range, events, CLSP_ARGS_(__VA_ARGS__),                        \
               CLSP_NARGS_(__VA_ARGS__))

/* The kernel's largest work-group size on this device (cached). */
clsp_status clsp__kernel_max_group(clsp_context *ctx, const clsp_kernel_def *k,
                                   size_t *out);

/* The built program (cached per context): the prelude and sources, built
 * with -cl-std=CL1.2 (unless the options name another), the tuning
 * defines and the program's options; through the binary cache. */
clsp_status clsp__program_get(clsp_context *ctx, const clsp_program_def *p,
                              cl_program *out);

/* After the tuning record changed (clsp_context_set_tuning): each created
 * kernel's tuned group size follows the new local_size. */
void clsp__kernels_retune(clsp_context *ctx);

/* Releases every cached kernel and program of the context. */
void clsp__programs_release(clsp_context *ctx);

#endif
