/* SPDX-License-Identifier: Apache-2.0 */
/* clsp-bench-conv: times sparse convolution layers on a voxelized KITTI
 * scan (SECOND recipe): SubM k3 64->64 and regular k3 s2 32->64, atomic
 * and deterministic modes. Prints the median layer time, the device stage
 * breakdown and effective GFLOP/s (2 * pairs * c_in * c_out).
 *
 * The rulebook is built on the device once per layer (clsp_rulebook_build)
 * and reused by the timed calls, as a network reuses it; its own median
 * build time is printed beside the layer time.
 * Usage: clsp-bench-conv SCAN.bin [--device SPEC] [--reps N]
 *        [--tuned-direct] [--all-direct]
 * --tuned-direct overrides CLBlast's XgemmDirect parameters with the best
 * set clblast_tuner_xgemm_direct found on PoCL pthread (AVX-512 EPYC,
 * m 4096, n k 64); --all-direct raises XGEMM_MIN_INDIRECT_SIZE so that
 * every GEMM of a layer uses the direct kernel. Experiments, not defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <clblast_c.h>
#include "clspconv/clspconv.h"
#include "internal.h"
#include "ref_voxel.h"

typedef struct bench_layer {
  const char *name;
  int kind;
  clsp_conv_geometry g;
  size_t cin, cout;
} bench_layer;

typedef struct sample {
  double wall_ms;    /* call + clFinish, no stats (nothing waits inside) */
  double enqueue_ms; /* the call alone: host time until it returned */
  clsp_conv_stats s; /* from a second call with stats (device timings) */
} sample;

static int by_wall(const void *a, const void *b) {
  double x = ((const sample *)a)->wall_ms, y = ((const sample *)b)->wall_ms;
  return (x > y) - (x < y);
}

static float *random_floats(size_t n, uint64_t seed) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  if (!f) return NULL;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    f[i] = (float)((double)(seed >> 40) / (double)(1ull << 23) - 1.0);
  }
  return f;
}

/* Runs `reps` timed calls after one warm-up; prints the median call. */
static int time_mode(clsp_context *ctx, clsp_rulebook *rb, clsp_tensor *in,
                     clsp_weights *w, uint32_t flags, int reps, size_t flop_pairs,
                     const bench_layer *L, double *median_out) {
  sample *runs = calloc((size_t)reps, sizeof *runs);
  if (!runs) return 1;
  int rc = 0;
  for (int r = -1; r < reps && !rc; r++) {
    clsp_tensor *out = NULL, *out2 = NULL;
    clsp_conv_stats s;
    double t0 = clsp__now_ms();
    clsp_status st = clsp_conv_forward(ctx, rb, in, w, flags, &out, NULL);
    double t1 = clsp__now_ms();
    if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
    double t2 = clsp__now_ms();
    if (st == CLSP_SUCCESS) st = clsp_conv_forward(ctx, rb, in, w, flags, &out2, &s);
    clsp_tensor_destroy(out);
    clsp_tensor_destroy(out2);
    if (st != CLSP_SUCCESS) {
      fprintf(stderr, "conv failed: %s: %s\n", clsp_status_string(st),
              clsp_context_last_error(ctx));
      rc = 1;
    } else if (r >= 0) {
      runs[r] = (sample){t2 - t0, t1 - t0, s};
    }
  }
  if (!rc) {
    qsort(runs, (size_t)reps, sizeof *runs, by_wall);
    const sample *m = &runs[reps / 2];
    double gflop = 2.0 * (double)flop_pairs * (double)L->cin * (double)L->cout * 1e-9;
    printf("  %-13s median %8.2f ms (min %.2f, enqueue %.2f)  %6.2f GFLOP/s | device "
           "%7.2f ms: gather %.2f gemm %.2f scatter %.2f other %.2f\n",
           (flags & CLSP_CONV_DETERMINISTIC) ? "deterministic" : "atomic", m->wall_ms,
           runs[0].wall_ms, m->enqueue_ms, gflop / (m->wall_ms * 1e-3), m->s.total_ms,
           m->s.stage_ms[CLSP_STAGE_GATHER], m->s.stage_ms[CLSP_STAGE_GEMM],
           m->s.stage_ms[CLSP_STAGE_SCATTER], m->s.stage_ms[CLSP_STAGE_OTHER]);
    *median_out = m->wall_ms;
  }
  free(runs);
  return rc;
}

static int override_clblast(clsp_context *ctx, int tuned_direct, int all_direct) {
  cl_device_id dev;
  if (clsp_context_cl(ctx, NULL, &dev, NULL) != CLSP_SUCCESS) return 1;
  if (tuned_direct) {
    const char *names[] = {"WGD", "MDIMCD", "NDIMCD", "MDIMAD", "NDIMBD",
                           "KWID", "VWMD",   "VWND",   "PADA",   "PADB"};
    const size_t values[] = {64, 32, 8, 8, 8, 2, 2, 1, 0, 1};
    if (CLBlastOverrideParameters(dev, "XgemmDirect", CLBlastPrecisionSingle, 10, names,
                                  values) != CLBlastSuccess)
      return 1;
  }
  if (all_direct) {
    const char *names[] = {"XGEMM_MIN_INDIRECT_SIZE"};
    const size_t values[] = {4096};
    if (CLBlastOverrideParameters(dev, "GemmRoutine", CLBlastPrecisionSingle, 1, names,
                                  values) != CLBlastSuccess)
      return 1;
  }
  return 0;
}

/* Median device time of `reps` rulebook builds of layer L on `in`. */
static double rulebook_median_ms(clsp_context *ctx, const bench_layer *L,
                                 clsp_tensor *in, int reps) {
  double *ms = calloc((size_t)reps, sizeof *ms);
  if (!ms) return -1;
  for (int r = 0; r < reps; r++) {
    clsp_rulebook *rb = NULL;
    clsp_rulebook_info info = {0};
    if (clsp_rulebook_build(ctx, (clsp_conv_kind)L->kind, &L->g, in, &rb) == CLSP_SUCCESS)
      clsp_rulebook_describe(rb, &info);
    clsp_rulebook_destroy(rb);
    ms[r] = info.build_ms;
  }
  for (int i = 1; i < reps; i++) /* insertion sort: reps is small */
    for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
      double t = ms[j];
      ms[j] = ms[j - 1];
      ms[j - 1] = t;
    }
  double m = ms[reps / 2];
  free(ms);
  return m;
}

static int bench_one(clsp_context *ctx, const ref_voxels *v, const bench_layer *L,
                     int reps) {
  clsp_tensor *in = NULL;
  clsp_rulebook *drb = NULL;
  clsp_weights *w = NULL;
  float *feats = random_floats(v->n * L->cin, 1), *wv = NULL;
  size_t kvol = (size_t)L->g.kernel[0] * L->g.kernel[1] * L->g.kernel[2];
  int rc = 1;
  wv = random_floats(kvol * L->cin * L->cout, 2);
  clsp_tensor_desc d = {3, {v->shape[0], v->shape[1], v->shape[2]}, 1, v->n, L->cin, 0};
  if (!feats || !wv || clsp_tensor_create(ctx, &d, v->coords, feats, &in) ||
      clsp_rulebook_build(ctx, (clsp_conv_kind)L->kind, &L->g, in, &drb) ||
      clsp_weights_create(ctx, kvol, L->cin, L->cout, wv, NULL, &w)) {
    fprintf(stderr, "setup failed: %s\n", clsp_context_last_error(ctx));
    goto done;
  }
  clsp_rulebook_info info;
  clsp_rulebook_describe(drb, &info);
  size_t pairs = info.n_pairs;
  clsp_tensor *out = NULL;
  clsp_conv_stats s;
  if (clsp_conv_forward(ctx, drb, in, w, 0, &out, &s)) goto done;
  clsp_tensor_destroy(out);
  printf("%s: %zu -> %zu sites, %zu pairs, %.3f GFLOP; %zu GEMM groups, %zu GEMM rows "
         "(padding %.1f%%), %zu chunks; rulebook median %.2f ms (device)\n",
         L->name, v->n, info.n_out, pairs, 2e-9 * (double)pairs * L->cin * L->cout,
         s.gemm_groups, s.gemm_rows,
         100.0 * (double)(s.gemm_rows - s.pair_rows) / (double)s.pair_rows, s.chunks,
         rulebook_median_ms(ctx, L, in, reps));
  double atomic_ms = 0, det_ms = 0;
  rc = time_mode(ctx, drb, in, w, CLSP_CONV_ATOMIC, reps, pairs, L, &atomic_ms) ||
       time_mode(ctx, drb, in, w, CLSP_CONV_DETERMINISTIC, reps, pairs, L, &det_ms);
  if (!rc) printf("  deterministic / atomic = %.2f\n", det_ms / atomic_ms);
done:
  clsp_weights_destroy(w);
  clsp_rulebook_destroy(drb);
  clsp_tensor_destroy(in);
  free(feats);
  free(wv);
  return rc;
}

int main(int argc, char **argv) {
  const char *path = NULL, *device = NULL;
  int reps = 7, tuned_direct = 0, all_direct = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (!strcmp(argv[i], "--tuned-direct")) tuned_direct = 1;
    else if (!strcmp(argv[i], "--all-direct")) all_direct = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else path = argv[i];
  }
  if (!path || reps < 1) {
    fprintf(stderr, "usage: clsp-bench-conv SCAN.bin [--device SPEC] [--reps N]\n");
    return 2;
  }
  float *pts = NULL;
  size_t n = 0;
  ref_voxels v;
  if (ref_load_kitti_bin(path, &pts, &n) || ref_voxelize_second(pts, n, 0, &v)) {
    fprintf(stderr, "cannot read or voxelize %s\n", path);
    free(pts);
    return 1;
  }
  free(pts);
  clsp_context_options o = {0};
  o.device = device;
  o.flags = CLSP_CONTEXT_PROFILING;
  clsp_context *ctx = NULL;
  if (clsp_context_create(&o, &ctx) != CLSP_SUCCESS) {
    fprintf(stderr, "no context\n");
    ref_voxels_free(&v);
    return 1;
  }
  if (override_clblast(ctx, tuned_direct, all_direct)) {
    fprintf(stderr, "CLBlastOverrideParameters failed\n");
    clsp_context_destroy(ctx);
    ref_voxels_free(&v);
    return 1;
  }
  printf("CLBlast: %s XgemmDirect, %s\n", tuned_direct ? "tuned" : "default",
         all_direct ? "direct kernel for every size" : "default direct/indirect switch");
  printf("device: %s; %zu points -> %zu voxels (SECOND), %d timed runs per mode\n",
         clsp_context_caps(ctx)->device_name, n, v.n, reps);
  const bench_layer layers[] = {
    {"SubM k3 64->64", 0, {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, 64, 64},
    {"regular k3 s2 p1 32->64", 1, {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}}, 32, 64},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof layers / sizeof layers[0] && !rc; i++)
    rc = bench_one(ctx, &v, &layers[i], reps);
  clsp_context_destroy(ctx);
  ref_voxels_free(&v);
  return rc;
}
