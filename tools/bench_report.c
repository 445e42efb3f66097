/* SPDX-License-Identifier: Apache-2.0 */
/* clsp bench reports: per-layer table (medians), JSON, Chrome trace. */
#include "bench_report.h"
#include "clsp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of get(run r) over the kept runs. */
typedef double (*run_value)(const bench_run *r, int layer, int stage);

static double median(const bench_state *b, run_value get, int layer, int stage) {
  double v[BENCH_MAX_RUNS];
  int n = b->o.repeat;
  for (int r = 0; r < n; r++) v[r] = get(&b->runs[r], layer, stage);
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double layer_ms(const bench_run *r, int l, int s) { return r->layers[l].ms; }
static double layer_stage(const bench_run *r, int l, int s) {
  return r->layers[l].stage_ms[s];
}
static double vox_ms(const bench_run *r, int l, int s) { return r->vox.device_ms; }
static double vox_stage(const bench_run *r, int l, int s) { return r->vox.stage_ms[s]; }
static double wall(const bench_run *r, int l, int s) { return r->end_ms - r->start_ms; }

/* Device time of the whole pass: voxelization plus every layer. */
static double device_total(const bench_run *r, int n_layers) {
  double t = r->vox.device_ms;
  for (int l = 0; l < n_layers; l++) t += r->layers[l].ms;
  return t;
}

typedef struct summary {
  double vox_ms, wall_ms, device_ms, host_ms, gflop;
  double fma_peak; /* measured GFLOP/s of the device (0: not measured) */
  uint64_t peak;
} summary;

static summary summarize(const bench_state *b) {
  summary s = {0};
  double dev[BENCH_MAX_RUNS];
  for (int r = 0; r < b->o.repeat; r++)
    dev[r] = device_total(&b->runs[r], b->net.n_layers);
  qsort(dev, (size_t)b->o.repeat, sizeof dev[0], cmp_double);
  s.device_ms = dev[b->o.repeat / 2];
  s.vox_ms = median(b, vox_ms, 0, 0);
  s.wall_ms = median(b, wall, 0, 0);
  s.host_ms = s.wall_ms > s.device_ms ? s.wall_ms - s.device_ms : 0.0;
  for (int l = 0; l < b->net.n_layers; l++) s.gflop += b->runs[0].layers[l].gflop;
  uint64_t cur = 0;
  clsp_context_memory(b->ctx, &cur, &s.peak);
  if (clsp_device_fma_peak(b->ctx, &s.fma_peak) != CLSP_SUCCESS) s.fma_peak = 0;
  return s;
}

static double percent(double gflops, double peak) {
  return peak > 0 ? 100.0 * gflops / peak : 0.0;
}

static void print_table(FILE *f, const bench_state *b, const summary *s) {
  const clsp_device_caps *caps = clsp_context_caps(b->ctx);
  const bench_run *r0 = &b->runs[0];
  fprintf(f, "clsp bench: %s on %s\n", b->net_name, b->input_label);
  fprintf(
    f, "device: %s (%s); %zu points -> %zu voxels; median of %d runs after 1 warm-up\n",
    caps->device_name, caps->platform_name, b->n_points, r0->vox.n_voxels, b->o.repeat);
  fprintf(f,
          "GFLOP = 2 x pairs x Cin x Cout / 1e9 (multiply-adds counted as 2 FLOPs); "
          "device FMA peak (measured) %.1f GFLOP/s\n\n",
          s->fma_peak);
  fprintf(f, "%-22s %-7s %9s %9s %10s %9s %7s %9s %8s %8s %8s %8s %8s %8s %6s %s\n",
          "layer", "kind", "in_sites", "out_sites", "pairs", "Cin>Cout", "GFLOP", "ms",
          "rulebook", "gather", "gemm", "scatter", "other", "GFLOP/s", "%peak",
          "dataflow");
  char vch[24];
  snprintf(vch, sizeof vch, "%d>%d", b->o.fields, b->o.fields);
  fprintf(f, "%-22s %-7s %9zu %9zu %10s %9s %7s %9.2f %8s %8s %8s %8s %8s %8s %6s -\n",
          "voxelize", "vox", b->n_points, r0->vox.n_voxels, "-", vch, "-", s->vox_ms, "-",
          "-", "-", "-", "-", "-", "-");
  for (int l = 0; l < b->net.n_layers; l++) {
    const net_layer *nl = &b->net.layers[l];
    const net_layer_stats *ls = &r0->layers[l];
    double ms = median(b, layer_ms, l, 0);
    char ch[24];
    snprintf(ch, sizeof ch, "%d>%d", nl->c_in, nl->c_out);
    fprintf(f, "%-22.22s %-7s %9zu %9zu %10zu %9s %7.3f %9.2f", nl->name,
            net_kind_name(nl->kind), ls->in_sites, ls->out_sites, ls->pairs, ch,
            ls->gflop, ms);
    for (int st = 0; st < CLSP_STAGE_COUNT; st++)
      fprintf(f, " %8.2f", median(b, layer_stage, l, st));
    double gfs = ms > 0 ? ls->gflop / (ms * 1e-3) : 0.0;
    fprintf(f, " %8.1f %6.1f %s\n", gfs, percent(gfs, s->fma_peak),
            ls->in_epilogue                                 ? "epilogue"
            : nl->kind == NET_ADD || nl->kind == NET_CONCAT ? "-"
            : ls->fused                                     ? "fused"
                                                            : "gemm");
  }
  fprintf(f, "\nvoxelize stages (ms): keys %.2f, hash %.2f, compact %.2f, mean %.2f\n",
          median(b, vox_stage, 0, 0), median(b, vox_stage, 0, 1),
          median(b, vox_stage, 0, 2), median(b, vox_stage, 0, 3));
  fprintf(f,
          "total: %.1f ms per forward pass (wall, voxelization and rulebooks included); "
          "device %.1f ms; host overhead %.1f ms\n",
          s->wall_ms, s->device_ms, s->host_ms);
  double gfs = s->wall_ms > 0 ? s->gflop / (s->wall_ms * 1e-3) : 0.0;
  fprintf(f,
          "%.2f GFLOP -> %.1f GFLOP/s effective = %.1f%% of the FMA peak; peak device "
          "memory %.1f MiB\n",
          s->gflop, gfs, percent(gfs, s->fma_peak), (double)s->peak / (1024.0 * 1024.0));
}

FILE *clsp_tool_open_out(const char *path) {
  if (!strcmp(path, "-")) return stdout;
  FILE *f = fopen(path, "w");
  if (!f) perror(path);
  return f;
}

int clsp_tool_close_out(FILE *f) { return f == stdout ? fflush(f) != 0 : fclose(f) != 0; }

void clsp_tool_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_layer(FILE *f, const bench_state *b, const summary *s, int l) {
  const net_layer *nl = &b->net.layers[l];
  const net_layer_stats *ls = &b->runs[0].layers[l];
  double ms = median(b, layer_ms, l, 0), gfs = ms > 0 ? ls->gflop / (ms * 1e-3) : 0.0;
  fprintf(f, "    {\"name\": ");
  clsp_tool_json_string(f, nl->name);
  fprintf(f,
          ", \"kind\": \"%s\", \"c_in\": %d, \"c_out\": %d, \"in_sites\": %zu, "
          "\"out_sites\": %zu, \"pairs\": %zu, \"gflop\": %.6f, \"ms\": %.4f, "
          "\"gflops\": %.4f, \"peak_fraction\": %.5f, \"fused\": %s, \"stage_ms\": {",
          net_kind_name(nl->kind), nl->c_in, nl->c_out, ls->in_sites, ls->out_sites,
          ls->pairs, ls->gflop, ms, gfs, percent(gfs, s->fma_peak) / 100.0,
          ls->fused ? "true" : "false");
  for (int st = 0; st < CLSP_STAGE_COUNT; st++)
    fprintf(f, "%s\"%s\": %.4f", st ? ", " : "", clsp_stage_name((clsp_stage)st),
            median(b, layer_stage, l, st));
  fprintf(f, "}}%s\n", l + 1 < b->net.n_layers ? "," : "");
}

static int write_json(const bench_state *b, const summary *s, const char *path) {
  FILE *f = clsp_tool_open_out(path);
  if (!f) return 1;
  const clsp_device_caps *caps = clsp_context_caps(b->ctx);
  fprintf(f, "{\n  \"net\": ");
  clsp_tool_json_string(f, b->net_name);
  fprintf(f, ",\n  \"input\": ");
  clsp_tool_json_string(f, b->input_label);
  fprintf(f, ",\n  \"device\": ");
  clsp_tool_json_string(f, caps->device_name);
  fprintf(f, ",\n  \"platform\": ");
  clsp_tool_json_string(f, caps->platform_name);
  fprintf(f, ",\n  \"repeat\": %d,\n  \"points\": %zu,\n  \"voxels\": %zu,\n",
          b->o.repeat, b->n_points, b->runs[0].vox.n_voxels);
  fprintf(f,
          "  \"voxelize_ms\": %.4f,\n  \"voxelize_stage_ms\": {\"keys\": %.4f, "
          "\"hash\": %.4f, \"compact\": %.4f, \"mean\": %.4f},\n",
          s->vox_ms, median(b, vox_stage, 0, 0), median(b, vox_stage, 0, 1),
          median(b, vox_stage, 0, 2), median(b, vox_stage, 0, 3));
  fprintf(f, "  \"layers\": [\n");
  for (int l = 0; l < b->net.n_layers; l++) json_layer(f, b, s, l);
  double gfs = s->wall_ms > 0 ? s->gflop / (s->wall_ms * 1e-3) : 0.0;
  fprintf(f,
          "  ],\n  \"gflop\": %.6f,\n  \"total_ms\": %.4f,\n  \"device_ms\": %.4f,\n"
          "  \"host_overhead_ms\": %.4f,\n  \"peak_device_bytes\": %llu,\n"
          "  \"fma_peak_gflops\": %.3f,\n  \"gflops\": %.4f,\n  \"peak_fraction\": "
          "%.5f\n}\n",
          s->gflop, s->wall_ms, s->device_ms, s->host_ms, (unsigned long long)s->peak,
          s->fma_peak, gfs, percent(gfs, s->fma_peak) / 100.0);
  return clsp_tool_close_out(f);
}

void clsp_tool_trace_event(FILE *f, int *first, const char *name, const char *cat,
                           int tid, double ts_ms, double dur_ms) {
  fprintf(f, "%s\n  {\"name\": ", *first ? "" : ",");
  clsp_tool_json_string(f, name);
  fprintf(f,
          ", \"cat\": \"%s\", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, "
          "\"ts\": %.3f, \"dur\": %.3f}",
          cat, tid, ts_ms * 1e3, dur_ms * 1e3);
  *first = 0;
}

/* Device events: the API reports durations, not timestamps, so each
 * layer's stages are laid back to back on the device track, starting no
 * earlier than the host call that enqueued them. */
static void trace_layer(FILE *f, int *first, const bench_state *b, const bench_run *r,
                        int l, double *dev_t) {
  const net_layer_stats *ls = &r->layers[l];
  double h0 = ls->host_start_ms - r->start_ms, h1 = ls->host_end_ms - r->start_ms;
  clsp_tool_trace_event(f, first, b->net.layers[l].name, "host", 1, h0, h1 - h0);
  if (*dev_t < h0) *dev_t = h0;
  for (int st = 0; st < CLSP_STAGE_COUNT; st++) {
    if (ls->stage_ms[st] <= 0) continue;
    char nm[80];
    snprintf(nm, sizeof nm, "%s %s", b->net.layers[l].name,
             clsp_stage_name((clsp_stage)st));
    clsp_tool_trace_event(f, first, nm, clsp_stage_name((clsp_stage)st), 2, *dev_t,
                          ls->stage_ms[st]);
    *dev_t += ls->stage_ms[st];
  }
}

static int write_trace(const bench_state *b, const char *path) {
  FILE *f = clsp_tool_open_out(path);
  if (!f) return 1;
  const bench_run *r = &b->runs[b->o.repeat - 1]; /* the last timed run */
  fprintf(f,
          "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n"
          "  {\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 1, "
          "\"args\": {\"name\": \"host calls\"}},\n"
          "  {\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 2, "
          "\"args\": {\"name\": \"device queue\"}}");
  int first = 0;
  double dev_t = 0.0;
  clsp_tool_trace_event(f, &first, "voxelize", "host", 1, 0.0,
                        r->vox_end_ms - r->start_ms);
  static const char *vs[CLSP_VOXEL_STAGE_COUNT] = {"keys", "hash", "compact", "mean"};
  for (int st = 0; st < CLSP_VOXEL_STAGE_COUNT; st++) {
    char nm[40];
    snprintf(nm, sizeof nm, "voxelize %s", vs[st]);
    clsp_tool_trace_event(f, &first, nm, "voxelize", 2, dev_t, r->vox.stage_ms[st]);
    dev_t += r->vox.stage_ms[st];
  }
  for (int l = 0; l < b->net.n_layers; l++) trace_layer(f, &first, b, r, l, &dev_t);
  fprintf(f, "\n]}\n");
  return clsp_tool_close_out(f);
}

int bench_report(const bench_state *b) {
  summary s = summarize(b);
  /* With --json - or --trace -, stdout is that document: the table goes
   * to stderr. */
  int doc_on_stdout =
    (b->o.json && !strcmp(b->o.json, "-")) || (b->o.trace && !strcmp(b->o.trace, "-"));
  print_table(doc_on_stdout ? stderr : stdout, b, &s);
  int rc = 0;
  if (b->o.json && write_json(b, &s, b->o.json)) {
    fprintf(stderr, "clsp bench: cannot write %s\n", b->o.json);
    rc = 1;
  }
  if (b->o.trace && write_trace(b, b->o.trace)) {
    fprintf(stderr, "clsp bench: cannot write %s\n", b->o.trace);
    rc = 1;
  }
  return rc;
}
