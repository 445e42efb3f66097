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
#include "vox_fields.h"

#define N_BUCKETS CLSP_TUNING_BUCKETS

static void usage(FILE *f) {
  fprintf(f,
          "usage: clsp tune [--device SPEC] [--net second|minkunet | --layer SPEC]\n"
          "                 [--input FILE [--fields N]] [--repeat R] [--dry-run]\n"
          "                 [--quiet]\n\n"
          "Measures, on the clsp bench workload (default: SECOND on the built-in\n"
          "scene; --input a scan, --fields N float32 values per point of a .bin,\n"
          "as clsp bench), each candidate of the device's\n"
          "tuning record, starting from the defaults of the device's capabilities:\n"
          "the fused tiles (vec x blocks, k2: split accumulators), then per\n"
          "layer-shape class (Cin, Cout buckets <=16, <=32, <=64, more) the\n"
          "dataflow, fused or gather -> GEMM -> scatter, then the work-group size\n"
          "of element-wise kernels, then that of the fused work-item tiles'\n"
          "launches, then the default against the winner once more. The\n"
          "candidates of a stage (the default first) run pass by pass\n"
          "in turn, a warm-up pass each, then R rounds (default 5); each row is\n"
          "a median. Prints the table and writes the winner (the default if it\n"
          "was not faster) to the device's tuning file in the program cache folder\n"
          "(--dry-run: writes nothing), which later contexts on this device,\n"
          "driver and library version load. Delete the file to return to the\n"
          "defaults. Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

typedef struct tune_opts {
  int dry_run;
} tune_opts;

static int parse_args(int argc, char **argv, bench_opts *o, tune_opts *t) {
  bench_opts_defaults(o);
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
               strcmp(a, "--input") && strcmp(a, "--repeat") && strcmp(a, "--fields"))) {
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
    } else if (!strcmp(a, "--fields")) {
      if (vox_fields_parse("clsp tune", v, &o->fields)) return 2;
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
  return vox_fields_check("clsp tune", o->fields, o->input);
}

#define MAX_CANDIDATES 16

/* One configuration of a stage and what its passes measured. */
typedef struct candidate {
  clsp_tuning_params p;
  double wall[BENCH_MAX_RUNS];                      /* ms per pass */
  double cls[BENCH_MAX_RUNS][N_BUCKETS][N_BUCKETS]; /* conv device ms per
                                                        layer class, per pass */
  double median;                                    /* of wall */
} candidate;

typedef struct tuner {
  bench_state *b;
  clsp_tuning_params def, best;
  int layers[N_BUCKETS][N_BUCKETS]; /* conv layers of the network per class */
  candidate c[MAX_CANDIDATES];
} tuner;

static int is_conv(net_kind k) {
  return k == NET_SUBM || k == NET_CONV || k == NET_TRANSPOSED || k == NET_INVERSE;
}

/* One pass under c->p into pass r's slots (r < 0: warm-up, not kept). */
static int one_pass(tuner *t, candidate *c, int r) {
  bench_state *b = t->b;
  if (clsp_context_set_tuning(b->ctx, &c->p) != CLSP_SUCCESS ||
      bench_one_pass(b, 0) != CLSP_SUCCESS) {
    fprintf(stderr, "clsp tune: %s\n", clsp_context_last_error(b->ctx));
    return 1;
  }
  if (r < 0) return 0;
  c->wall[r] = b->runs[0].end_ms - b->runs[0].start_ms;
  memset(c->cls[r], 0, sizeof c->cls[r]);
  memset(t->layers, 0, sizeof t->layers);
  for (int l = 0; l < b->net.n_layers; l++) {
    const net_layer *L = &b->net.layers[l];
    if (!is_conv(L->kind)) continue;
    int i = clsp_tuning_bucket((size_t)L->c_in), o = clsp_tuning_bucket((size_t)L->c_out);
    c->cls[r][i][o] += b->runs[0].layers[l].ms;
    t->layers[i][o]++;
  }
  return 0;
}

/* The stage's n candidates pass by pass in turn, so that all of them see
 * the same load: a warm-up pass each, then R rounds. */
static int measure(tuner *t, int n) {
  int repeat = t->b->o.repeat;
  for (int r = -1; r < repeat; r++)
    for (int i = 0; i < n; i++)
      if (one_pass(t, &t->c[i], r)) return 1;
  for (int i = 0; i < n; i++) {
    double v[BENCH_MAX_RUNS];
    memcpy(v, t->c[i].wall, sizeof v);
    t->c[i].median = clsp_tool_median(v, repeat);
  }
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
  const char *flow = !gemm ? "fused" : !fused ? "gemm" : "mixed";
  if (p->fused_groups) {
    snprintf(buf, cap, "%-10s %-6s local %u", "groups", flow, p->local_size);
    return;
  }
  char rows[16] = "";
  if (p->fused_rows > 1) snprintf(rows, sizeof rows, "r%u", p->fused_rows);
  snprintf(buf, cap, "%2ux%u%s%-4s %-6s local %u/%u", p->fused_vec, p->fused_blocks,
           p->fused_ksplit == 2 && p->fused_blocks > 2 ? "k2" : "  ", rows, flow,
           p->local_size, p->fused_local);
}

/* Measures the stage (c[0] is the default), prints a row per candidate
 * and returns the index of the fastest (-1 on failure). */
static int stage(tuner *t, const char *name, int n) {
  if (measure(t, n)) return -1;
  int best = 0;
  for (int i = 0; i < n; i++) {
    char d[64];
    describe(&t->c[i].p, d, sizeof d);
    printf("%-9s %-30s %10.1f %9.2f\n", i ? name : "default", d, t->c[i].median,
           t->c[i].median / t->c[0].median);
    if (t->c[i].median < t->c[best].median) best = i;
  }
  printf("\n");
  fflush(stdout);
  return best;
}

static void all_dataflows(clsp_tuning_params *p, int fused) {
  p->fused_default = fused;
  memset(p->dataflow, CLSP_TUNED_DEFAULT, sizeof p->dataflow);
}

/* The tiles, fused everywhere: {vec, blocks, ksplit, rows, groups}. Row
 * tiles of 16 to 128 rows first (the CPU default is 16x4r128), then one-row
 * tiles, then the work-group tiles (the GPU default; not on CPU devices,
 * where they measured 140x slower than 16x4r32 on PoCL: its work-items
 * run one after another between barriers, docs/performance.md). */
static int tune_tiles(tuner *t, int cpu) {
  static const uint32_t tiles[][5] = {{16, 4, 1, 16, 0}, {16, 4, 1, 32, 0},
                                      {16, 4, 1, 64, 0}, {16, 4, 1, 128, 0},
                                      {16, 2, 1, 32, 0}, {16, 2, 1, 128, 0},
                                      {16, 4, 1, 1, 0},  {16, 4, 2, 1, 0},
                                      {16, 3, 1, 1, 0},  {16, 2, 1, 1, 0},
                                      {16, 1, 1, 1, 0},  {8, 1, 1, 1, 0},
                                      {1, 1, 1, 1, 0},   {16, 4, 1, 1, 1}};
  _Static_assert(sizeof tiles / sizeof tiles[0] < MAX_CANDIDATES,
                 "the default and every tile must fit MAX_CANDIDATES");
  int n = 1;
  t->c[0].p = t->def;
  for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++, n++) {
    if (cpu && tiles[i][4]) break; /* the group tiles come last */
    clsp_tuning_params *p = &t->c[n].p;
    *p = t->def;
    all_dataflows(p, 1);
    p->fused_vec = tiles[i][0];
    p->fused_blocks = tiles[i][1];
    p->fused_ksplit = tiles[i][2];
    p->fused_rows = tiles[i][3];
    p->fused_groups = tiles[i][4];
  }
  int best = stage(t, "tile", n);
  if (best < 0) return 1;
  t->best = t->c[best].p;
  return 0;
}

static const char *bucket_label(int i) {
  static const char *const names[N_BUCKETS] = {"<=16", "<=32", "<=64", ">64"};
  return names[i];
}

/* Median over the passes of candidate c's class (i, o). */
static double class_median(const tuner *t, const candidate *c, int i, int o) {
  double v[BENCH_MAX_RUNS];
  for (int r = 0; r < t->b->o.repeat; r++) v[r] = c->cls[r][i][o];
  return clsp_tool_median(v, t->b->o.repeat);
}

/* Fused (best tile) against gather -> GEMM -> scatter, per class. */
static int tune_dataflow(tuner *t) {
  t->c[0].p = t->def;
  t->c[1].p = t->best;
  all_dataflows(&t->c[1].p, 1);
  t->c[2].p = t->c[1].p;
  all_dataflows(&t->c[2].p, 0);
  if (stage(t, "dataflow", 3) < 0) return 1;
  printf("%-6s %-6s %6s %12s %12s  %s\n", "Cin", "Cout", "layers", "fused ms", "gemm ms",
         "choice");
  int n_fused = 0, n_gemm = 0;
  for (int i = 0; i < N_BUCKETS; i++)
    for (int o = 0; o < N_BUCKETS; o++) {
      if (!t->layers[i][o]) continue;
      double f_ms = class_median(t, &t->c[1], i, o),
             g_ms = class_median(t, &t->c[2], i, o);
      int f = f_ms <= g_ms;
      t->best.dataflow[i][o] = f ? CLSP_TUNED_FUSED : CLSP_TUNED_GEMM;
      n_fused += f;
      n_gemm += !f;
      printf("%-6s %-6s %6d %12.1f %12.1f  %s\n", bucket_label(i), bucket_label(o),
             t->layers[i][o], f_ms, g_ms, f ? "fused" : "gemm");
    }
  /* Classes the workload lacks follow the majority of those it has. */
  t->best.fused_default = n_fused >= n_gemm;
  printf("\n");
  return 0;
}

static void set_local(clsp_tuning_params *p, uint32_t v) { p->local_size = v; }
static void set_fused_local(clsp_tuning_params *p, uint32_t v) { p->fused_local = v; }

/* A work-group size stage: the best record so far with each of `sizes`
 * up to the device's maximum, set by `set`. */
static int tune_group_size(tuner *t, const char *name, const uint32_t *sizes,
                           size_t n_sizes, size_t max_group,
                           void (*set)(clsp_tuning_params *, uint32_t)) {
  int n = 1;
  t->c[0].p = t->def;
  for (size_t i = 0; i < n_sizes; i++)
    if (sizes[i] <= max_group) {
      t->c[n].p = t->best;
      set(&t->c[n++].p, sizes[i]);
    }
  int best = stage(t, name, n);
  if (best < 0) return 1;
  if (best > 0) t->best = t->c[best].p;
  return 0;
}

/* Element-wise kernels. */
static int tune_local(tuner *t, size_t max_group) {
  static const uint32_t sizes[] = {16, 32, 64, 128, 256};
  return tune_group_size(t, "local", sizes, sizeof sizes / sizeof sizes[0], max_group,
                         set_local);
}

/* The work-item tile launches (not with work-group tiles, whose size is
 * fixed). */
static int tune_fused_local(tuner *t, size_t max_group) {
  static const uint32_t sizes[] = {1, 2, 4, 8, 16, 32, 64};
  if (t->best.fused_groups) return 0;
  return tune_group_size(t, "fused loc", sizes, sizeof sizes / sizeof sizes[0], max_group,
                         set_fused_local);
}

/* The default and the winner once more: the winner is kept only if its
 * median is lower. */
static int confirm(tuner *t) {
  t->c[0].p = t->def;
  t->c[1].p = t->best;
  int best = stage(t, "confirm", 2);
  if (best < 0) return 1;
  if (best == 0) {
    printf("the default stays: the winner was not faster in the confirming run\n");
    t->best = t->def;
  }
  return 0;
}

static int tune_all(bench_state *b, int dry_run) {
  tuner *t = calloc(1, sizeof *t);
  if (!t) return 1;
  t->b = b;
  const clsp_device_caps *caps = clsp_context_caps(b->ctx);
  clsp_context_tuning(b->ctx, &t->def);
  printf(
    "clsp tune: %s (%s); %s, %s; per candidate the median of %d passes after 1 "
    "warm-up, candidates of a stage in turn\n\n",
    caps->device_name, caps->platform_name, b->net_name, b->input_label, b->o.repeat);
  printf("%-9s %-30s %10s %9s\n", "stage", "candidate", "median ms", "x default");
  int rc = tune_tiles(t, (caps->type & CL_DEVICE_TYPE_CPU) != 0) || tune_dataflow(t) ||
           tune_local(t, caps->max_work_group_size) ||
           tune_fused_local(t, caps->max_work_group_size) || confirm(t);
  char d[64];
  describe(&t->best, d, sizeof d);
  if (!rc) printf("chosen: %s\n", d);
  clsp_status st = CLSP_SUCCESS;
  if (!rc && dry_run)
    printf("dry run: nothing written (%s)\n", clsp_context_tuning_path(b->ctx));
  else if (!rc) {
    st = clsp_context_set_tuning(b->ctx, &t->best);
    if (st == CLSP_SUCCESS) st = clsp_tuning_save(b->ctx);
    if (st == CLSP_SUCCESS) printf("written: %s\n", clsp_context_tuning_path(b->ctx));
  }
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp tune: %s\n", clsp_context_last_error(b->ctx));
    rc = 1;
  }
  free(t);
  return rc;
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
