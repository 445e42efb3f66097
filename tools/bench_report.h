/* SPDX-License-Identifier: Apache-2.0 */
/* clsp bench: state shared by the runner (cmd_bench.c) and the reports
 * (bench_report.c: table, JSON, Chrome trace). */
#ifndef CLSP_TOOL_BENCH_REPORT_H
#define CLSP_TOOL_BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"
#include "net.h"

#define BENCH_MAX_RUNS 100

typedef struct bench_opts {
  const char *net, *layer, *input, *json, *trace, *device;
  int repeat;
  int fields, has_fields; /* float32 values per point of a .bin scan */
  int quiet;              /* no progress on stderr */
  uint64_t seed;
  float voxel_size[3], range[6];
  int has_size, has_range;
} bench_opts;

/* One forward pass: wall clock marks and device measurements. */
typedef struct bench_run {
  double start_ms, vox_end_ms, end_ms;
  clsp_voxelize_stats vox;
  net_layer_stats layers[NET_MAX_LAYERS];
} bench_run;

typedef struct bench_state {
  bench_opts o;
  char input_label[512];
  char net_name[64];
  float *points;
  size_t n_points;
  clsp_context *ctx;
  net net;
  int c_in;
  bench_run runs[BENCH_MAX_RUNS + 1]; /* the last one: warm-up */
} bench_state;

/* Prints the table and writes --json / --trace. Returns 0 or 1. */
int bench_report(const bench_state *b);

#endif
