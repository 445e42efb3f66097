/* SPDX-License-Identifier: Apache-2.0 */
/* clsp tune: measures the tuning record's candidates (fused tiles, the
 * dataflow per layer-shape class, the element-wise group size) on the
 * clsp bench workload, medians after a warm-up pass each, and stores the
 * winner as the device's tuning file (clspconv/tuning.h). Public API
 * only; the workload is clsp bench's (cmd_bench.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_report.h"
#include "clsp.h"

#define N_BUCKETS CLSP_TUNING_BUCKETS

static void usage(FILE *f) {
  fprintf(f,
          "usage: clsp tune [--device SPEC] [--net second|minkunet | --layer SPEC]\n"
          "                 [--input FILE] [--repeat R] [--dry-run] [--quiet]\n\n"
          "Measures, on the clsp bench workload (default: SECOND on the built-in\n"
          "scene; --input a KITTI .bin scan), each candidate of the device's\n"
          "tuning record, starting from the defaults of the device's capabilities:\n"
          "the fused tiles (vec x blocks, k2: split accumulators), then per\n"
          "layer-shape class (Cin, Cout buckets <=16, <=32, <=64, more) the\n"
          "dataflow, fused or gather -> GEMM -> scatter, then the work-group size\n"
          "of element-wise kernels. Each candidate: one warm-up pass, then the\n"
          "median of R passes (default 5). Prints the table and writes the\n"
          "winning record to the device's tuning file in the program cache folder\n"
          "(--dry-run: writes nothing), which later contexts on this device,\n"
          "driver and library version load. Delete the file to return to the\n"
          "defaults. Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

typedef struct tune_opts {
  int dry_run;
} tune_opts;

static int parse_args(int argc, char **argv, bench_opts *o, tune_opts *t) {
  memset(o, 0, sizeof *o);
  o->net = "second";
  o->repeat = 5;
  o->seed = 1;
  o->fields = 4;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return -1;
    }
    if (!strcmp(a, "--dry-run") || !strcmp(a, "--quiet")) {
      *(!strcmp(a, "--quiet") ? &o->quiet : &t->dry_run) = 1;
      continue;
    }
    if (!v || (strcmp(a, "--device") && strcmp(a, "--net") && strcmp(a, "--layer") &&
               strcmp(a, "--input") && strcmp(a, "--repeat"))) {
      fprintf(stderr, "clsp tune: %s: unknown option or missing value (see --help)\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--repeat")) {
      long r = strtol(v, &end, 10);
      if (end == v || *end || r < 1 || r > BENCH_MAX_RUNS) {
        fprintf(stderr, "clsp tune: --repeat '%s': expected an integer in 1..100\n", v);
        return 2;
      }
      o->repeat = (int)r;
    } else if (!strcmp(a, "--net") && strcmp(v, "second") && strcmp(v, "minkunet")) {
      fprintf(stderr, "clsp tune: --net '%s': expected second or minkunet\n", v);
      return 2;
    } else {
      const char **dst = !strcmp(a, "--device")  ? &o->device
                         : !strcmp(a, "--net")   ? &o->net
                         : !strcmp(a, "--layer") ? &o->layer
                                                 : &o->input;
      *dst = v;
    }
  }
  return 0;
}

/* Per-class device time of one configuration (medians over the runs). */
typedef struct class_ms {
  double ms[N_BUCKETS][N_BUCKETS];
  int layers[N_BUCKETS][N_BUCKETS];
} class_ms;

static int is_conv(net_kind k) {
  return k == NET_SUBM || k == NET_CONV || k == NET_TRANSPOSED || k == NET_INVERSE;
}

static void per_class(const bench_state *b, class_ms *c) {
  memset(c, 0, sizeof *c);
  double v[BENCH_MAX_RUNS];
  for (int l = 0; l < b->net.n_layers; l++) {
    const net_layer *L = &b->net.layers[l];
    if (!is_conv(L->kind)) continue;
    for (int r = 0; r < b->o.repeat; r++) v[r] = b->runs[r].layers[l].ms;
    int i = clsp_tuning_bucket((size_t)L->c_in), o = clsp_tuning_bucket((size_t)L->c_out);
    c->ms[i][o] += clsp_tool_median(v, b->o.repeat);
    c->layers[i][o]++;
  }
}

/* Sets p, runs a warm-up and R passes; *median: wall ms per pass. */
static int measure(bench_state *b, const clsp_tuning_params *p, double *median,
                   class_ms *classes) {
  clsp_status st = clsp_context_set_tuning(b->ctx, p);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp tune: %s\n", clsp_context_last_error(b->ctx));
    return 1;
  }
  double v[BENCH_MAX_RUNS];
  for (int r = -1; r < b->o.repeat; r++) {
    int slot = r < 0 ? BENCH_MAX_RUNS : r;
    if (bench_one_pass(b, slot) != CLSP_SUCCESS) return 1;
    if (r >= 0) v[r] = b->runs[r].end_ms - b->runs[r].start_ms;
  }
  *median = clsp_tool_median(v, b->o.repeat);
  if (classes) per_class(b, classes);
  return 0;
}

static void describe(const clsp_tuning_params *p, char *buf, size_t cap) {
  int gemm = 0, fused = 0;
  for (int i = 0; i < N_BUCKETS; i++)
    for (int o = 0; o < N_BUCKETS; o++) {
      int d = p->dataflow[i][o];
      int f = d == CLSP_TUNED_DEFAULT ? p->fused_default : d == CLSP_TUNED_FUSED;
      gemm += !f;
      fused += f;
    }
  snprintf(buf, cap, "%2ux%u%s %-6s local %u", p->fused_vec, p->fused_blocks,
           p->fused_ksplit == 2 && p->fused_blocks > 2 ? "k2" : "  ",
           !gemm    ? "fused"
           : !fused ? "gemm"
                    : "mixed",
           p->local_size);
}

typedef struct tuner {
  bench_state *b;
  clsp_tuning_params def, best;
  double def_ms, best_ms;
} tuner;

static int row(tuner *t, const char *what, const clsp_tuning_params *p, double *ms,
               class_ms *classes) {
  char d[64];
  if (measure(t->b, p, ms, classes)) return 1;
  describe(p, d, sizeof d);
  printf("%-10s %-28s %10.1f %9.2f\n", what, d, *ms, *ms / t->def_ms);
  fflush(stdout);
  return 0;
}

/* Measures p as one row; keeps it as t->best when it is the fastest. */
static int candidate(tuner *t, const char *stage, const clsp_tuning_params *p) {
  double ms;
  if (row(t, stage, p, &ms, NULL)) return 1;
  if (ms < t->best_ms) {
    t->best_ms = ms;
    t->best = *p;
  }
  return 0;
}

static void all_dataflows(clsp_tuning_params *p, int fused) {
  p->fused_default = fused;
  memset(p->dataflow, CLSP_TUNED_DEFAULT, sizeof p->dataflow);
}

/* The tiles, fused everywhere: best stays the fastest. */
static int tune_tiles(tuner *t) {
  static const uint32_t tiles[][3] = {{16, 4, 1}, {16, 4, 2}, {16, 3, 1},
                                      {16, 3, 2}, {16, 2, 1}, {16, 1, 1},
                                      {8, 1, 1},  {4, 1, 1},  {1, 1, 1}};
  t->best_ms = 1e300;
  for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
    clsp_tuning_params p = t->def;
    all_dataflows(&p, 1);
    p.fused_vec = tiles[i][0];
    p.fused_blocks = tiles[i][1];
    p.fused_ksplit = tiles[i][2];
    if (candidate(t, "tile", &p)) return 1;
  }
  return 0;
}

static const char *bucket_label(int i) {
  static const char *const names[N_BUCKETS] = {"<=16", "<=32", "<=64", ">64"};
  return names[i];
}

/* Fused (best tile) against gather -> GEMM -> scatter for every class. */
static int tune_dataflow(tuner *t) {
  class_ms fused, gemm;
  clsp_tuning_params p = t->best;
  double ms;
  if (row(t, "dataflow", &p, &ms, &fused)) return 1;
  all_dataflows(&p, 0);
  if (row(t, "dataflow", &p, &ms, &gemm)) return 1;
  printf("\n%-6s %-6s %6s %12s %12s  %s\n", "Cin", "Cout", "layers", "fused ms",
         "gemm ms", "choice");
  int n_fused = 0, n_gemm = 0;
  for (int i = 0; i < N_BUCKETS; i++)
    for (int o = 0; o < N_BUCKETS; o++) {
      if (!fused.layers[i][o]) continue;
      int f = fused.ms[i][o] <= gemm.ms[i][o];
      t->best.dataflow[i][o] = f ? CLSP_TUNED_FUSED : CLSP_TUNED_GEMM;
      n_fused += f;
      n_gemm += !f;
      printf("%-6s %-6s %6d %12.1f %12.1f  %s\n", bucket_label(i), bucket_label(o),
             fused.layers[i][o], fused.ms[i][o], gemm.ms[i][o], f ? "fused" : "gemm");
    }
  /* Classes the workload lacks follow the majority of those it has. */
  t->best.fused_default = n_fused >= n_gemm;
  printf("\n");
  return 0;
}

static int tune_local(tuner *t, uint32_t max_group) {
  static const uint32_t sizes[] = {16, 32, 64, 128, 256};
  t->best_ms = 1e300;
  clsp_tuning_params base = t->best;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i] > max_group) continue;
    clsp_tuning_params p = base;
    p.local_size = sizes[i];
    if (candidate(t, "local", &p)) return 1;
  }
  return 0;
}

/* One pass under p; *ms its wall time. */
static int pass_with(bench_state *b, const clsp_tuning_params *p, int slot, double *ms) {
  if (clsp_context_set_tuning(b->ctx, p) != CLSP_SUCCESS ||
      bench_one_pass(b, slot) != CLSP_SUCCESS) {
    fprintf(stderr, "clsp tune: %s\n", clsp_context_last_error(b->ctx));
    return 1;
  }
  *ms = b->runs[slot].end_ms - b->runs[slot].start_ms;
  return 0;
}

/* The default and the winner, pass by pass in turn (so that both see the
 * same load): the winner is kept only if its median is lower. */
static int confirm(tuner *t) {
  double vd[BENCH_MAX_RUNS], vb[BENCH_MAX_RUNS], skip;
  bench_state *b = t->b;
  if (pass_with(b, &t->def, BENCH_MAX_RUNS, &skip) ||
      pass_with(b, &t->best, BENCH_MAX_RUNS, &skip))
    return 1;
  for (int r = 0; r < b->o.repeat; r++)
    if (pass_with(b, &t->def, r, &vd[r]) || pass_with(b, &t->best, r, &vb[r])) return 1;
  double md = clsp_tool_median(vd, b->o.repeat), mb = clsp_tool_median(vb, b->o.repeat);
  char d[64];
  describe(&t->best, d, sizeof d);
  printf(
    "\nconfirm (interleaved): default %.1f ms, %s %.1f ms: %.2fx the default's "
    "time\n",
    md, d, mb, mb / md);
  if (mb >= md) {
    printf("the default stays: the winner was not faster interleaved\n");
    t->best = t->def;
  }
  return 0;
}

static int tune_all(bench_state *b, int dry_run) {
  tuner t = {.b = b};
  const clsp_device_caps *caps = clsp_context_caps(b->ctx);
  clsp_context_tuning(b->ctx, &t.def);
  t.def_ms = 1;
  printf("clsp tune: %s (%s); %s, %s; median of %d passes after 1 warm-up\n\n",
         caps->device_name, caps->platform_name, b->net_name, b->input_label,
         b->o.repeat);
  printf("%-10s %-28s %10s %9s\n", "stage", "candidate", "median ms", "x default");
  if (measure(b, &t.def, &t.def_ms, NULL)) return 1;
  char d[64];
  describe(&t.def, d, sizeof d);
  printf("%-10s %-28s %10.1f %9.2f\n", "default", d, t.def_ms, 1.0);
  size_t max_group = caps->max_work_group_size;
  if (tune_tiles(&t) || tune_dataflow(&t) ||
      tune_local(&t, max_group > 256 ? 256u : (uint32_t)max_group))
    return 1;
  if (confirm(&t)) return 1;
  describe(&t.best, d, sizeof d);
  printf("chosen: %s\n", d);
  if (dry_run) {
    printf("dry run: nothing written (%s)\n", clsp_context_tuning_path(b->ctx));
    return 0;
  }
  clsp_status st = clsp_context_set_tuning(b->ctx, &t.best);
  if (st == CLSP_SUCCESS) st = clsp_tuning_save(b->ctx);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp tune: %s\n", clsp_context_last_error(b->ctx));
    return 1;
  }
  printf("written: %s\n", clsp_context_tuning_path(b->ctx));
  return 0;
}

int clsp_cmd_tune(int argc, char **argv) {
  bench_state *b = calloc(1, sizeof *b);
  tune_opts t = {0};
  if (!b) return 1;
  b->tool = "clsp tune";
  int rc = parse_args(argc, argv, &b->o, &t);
  if (rc < 0) {
    free(b);
    return 0; /* --help */
  }
  /* Measured from the capability defaults, whatever a stored file says. */
  if (!rc) rc = bench_setup(b, CLSP_CONTEXT_NO_TUNING_FILE);
  if (!rc) rc = tune_all(b, t.dry_run);
  bench_free(b);
  return rc;
}
