/* SPDX-License-Identifier: Apache-2.0 */
/* clsp bench: state shared by the runner (cmd_bench.c), the reports
 * (bench_report.c: table, JSON, Chrome trace) and clsp tune (cmd_tune.c),
 * which measures on the same workload. */
#ifndef CLSP_TOOL_BENCH_REPORT_H
#define CLSP_TOOL_BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"
#include "bench_nets.h"

#define BENCH_MAX_RUNS 100

typedef struct bench_opts {
  const char *net, *layer, *input, *json, *trace, *device;
  int repeat;
  int fields; /* float32 values per point of a .bin scan */
  int quiet;  /* no progress on stderr */
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
  const char *tool; /* "clsp bench": starts the messages on stderr */
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

/* SECOND on the built-in scene (seed 1, 4 fields), 5 runs. */
void bench_opts_defaults(bench_opts *o);
/* The points of --input (o->fields floats per point of a .bin scan),
 * else the built-in scene for --seed; label names them. Returns 0, or 1
 * after printing why, starting with `tool`. */
int bench_load_points(const char *tool, const bench_opts *o, float **pts, size_t *n,
                      char *label, size_t cap);
/* What a robot does once at start-up: build every kernel program (from
 * the binary cache after `clsp warmup`) and launch everything once, so
 * that drivers compiling at the first launch do it now, not in the first
 * frame. Seconds on a machine whose caches `clsp warmup` filled. Returns
 * 0, or 1 after printing why. */
int bench_start_up(bench_state *b);
/* The network of o.net / o.layer with seeded weights; 0, or 1. */
int bench_build_net(bench_state *b);
/* bench_load_points, a context (profiling, plus context_flags) on
 * o.device with the tool's log, bench_start_up and bench_build_net: what
 * both commands do before measuring. Returns 0, or 1 after printing why
 * (then bench_free). */
int bench_setup(bench_state *b, uint32_t context_flags);
/* Frees the network, the context, the points and b itself. */
void bench_free(bench_state *b);
/* One forward pass: voxelize, (widen), network; fills b->runs[r]. */
clsp_status bench_one_pass(bench_state *b, int r);

/* Prints the table and writes --json / --trace. Returns 0 or 1. */
int bench_report(const bench_state *b);

#endif
