/* SPDX-License-Identifier: Apache-2.0 */
/* clsp-bench-train: forward and backward time of the two layers of
 * BENCHMARKS.md (SubM k3 64->64, regular k3 s2 p1 32->64) on a voxelized
 * KITTI scan (SECOND recipe): the fused dataflow (deterministic by
 * construction) and gather -> GEMM -> scatter with the ordered and the
 * atomic scatter, in one run. Each mode: one warm-up, then `reps` runs
 * of forward (call + finish) and backward (dX, dW and db; the call reads
 * dW and db back, so it waits);
 * medians of wall time, and the backward/forward ratio. The rulebook is
 * built once and reused, as in training.
 * Usage: clsp-bench-train SCAN.bin [--device SPEC] [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clspconv/clspconv.h"
#include "ref_voxel.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

typedef struct train_layer {
  const char *name;
  clsp_conv_kind kind;
  clsp_conv_geometry g;
  size_t cin, cout;
} train_layer;

typedef struct layer_objs {
  clsp_tensor *in, *d_out;
  clsp_rulebook *rb;
  clsp_weights *w;
  float *dw, *db;
} layer_objs;

static float *noise(size_t n, uint64_t seed) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  for (size_t i = 0; f && i < n; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    f[i] = (float)((double)(seed >> 40) / (double)(1ull << 23) - 1.0);
  }
  return f;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return v[n / 2];
}

static clsp_status forward_once(clsp_context *ctx, const layer_objs *o, uint32_t flags,
                                double *ms) {
  clsp_tensor *y = NULL;
  double t0 = now_ms();
  clsp_status st = clsp_conv_forward(ctx, o->rb, o->in, o->w, flags, &y, NULL);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  *ms = now_ms() - t0;
  clsp_tensor_destroy(y);
  return st;
}

static clsp_status backward_once(clsp_context *ctx, const layer_objs *o, uint32_t flags,
                                 double *ms) {
  clsp_tensor *dx = NULL;
  double t0 = now_ms();
  clsp_status st =
    clsp_conv_backward(ctx, o->rb, o->in, o->w, o->d_out, flags, &dx, o->dw, o->db, NULL);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  *ms = now_ms() - t0;
  clsp_tensor_destroy(dx);
  return st;
}

/* The dataflows and scatter modes compared, in one run. */
typedef struct mode {
  const char *name;
  uint32_t flags;
} mode;
static const mode MODES[3] = {
  {"fused", CLSP_CONV_FUSED}, /* deterministic by construction */
  {"gemm ordered", CLSP_CONV_GATHER_GEMM | CLSP_CONV_DETERMINISTIC},
  {"gemm atomic", CLSP_CONV_GATHER_GEMM | CLSP_CONV_ATOMIC},
};

static int time_mode(clsp_context *ctx, const layer_objs *o, const mode *m, int reps,
                     double *fwd_med, double *bwd_med) {
  uint32_t flags = m->flags;
  double *f = calloc((size_t)reps, sizeof *f), *b = calloc((size_t)reps, sizeof *b), ms;
  int rc = !f || !b;
  for (int r = -1; r < reps && !rc; r++) {
    clsp_status st = forward_once(ctx, o, flags, r >= 0 ? &f[r] : &ms);
    if (st == CLSP_SUCCESS) st = backward_once(ctx, o, flags, r >= 0 ? &b[r] : &ms);
    if (st != CLSP_SUCCESS) {
      fprintf(stderr, "failed: %s: %s\n", clsp_status_string(st),
              clsp_context_last_error(ctx));
      rc = 1;
    }
  }
  if (!rc) {
    *fwd_med = median(f, reps);
    *bwd_med = median(b, reps);
    printf("  %-13s forward %8.2f ms  backward %8.2f ms  backward/forward %.2f\n",
           m->name, *fwd_med, *bwd_med, *bwd_med / *fwd_med);
  }
  free(f);
  free(b);
  return rc;
}

static int setup(clsp_context *ctx, const ref_voxels *v, const train_layer *L,
                 layer_objs *o) {
  size_t kvol = 27;
  float *x = noise(v->n * L->cin, 1), *w = noise(kvol * L->cin * L->cout, 2), *dy = NULL;
  clsp_tensor_desc d = {3, {v->shape[0], v->shape[1], v->shape[2]}, 1, v->n, L->cin, 0};
  clsp_rulebook_info info;
  o->dw = malloc(kvol * L->cin * L->cout * sizeof *o->dw);
  o->db = malloc(L->cout * sizeof *o->db);
  int rc = !x || !w || !o->dw || !o->db ||
           clsp_tensor_create(ctx, &d, v->coords, x, &o->in) ||
           clsp_rulebook_build(ctx, L->kind, &L->g, o->in, &o->rb) ||
           clsp_weights_create(ctx, kvol, L->cin, L->cout, w, NULL, &o->w) ||
           clsp_rulebook_describe(o->rb, &info);
  if (!rc)
    rc = !(dy = noise(info.n_out * L->cout, 3)) ||
         clsp_tensor_create_on_output(ctx, o->rb, L->cout, dy, &o->d_out);
  if (!rc)
    printf("%s: %zu -> %zu sites, %zu pairs\n", L->name, info.n_in, info.n_out,
           info.n_pairs);
  free(x);
  free(w);
  free(dy);
  return rc;
}

static void teardown(layer_objs *o) {
  clsp_tensor_destroy(o->d_out);
  clsp_weights_destroy(o->w);
  clsp_rulebook_destroy(o->rb);
  clsp_tensor_destroy(o->in);
  free(o->dw);
  free(o->db);
}

static int bench_layer(clsp_context *ctx, const ref_voxels *v, const train_layer *L,
                       int reps) {
  layer_objs o = {0};
  int rc = setup(ctx, v, L, &o);
  if (rc) fprintf(stderr, "setup failed: %s\n", clsp_context_last_error(ctx));
  double f[3] = {0}, b[3] = {0};
  for (int m = 0; m < 3 && !rc; m++)
    rc = time_mode(ctx, &o, &MODES[m], reps, &f[m], &b[m]);
  /* Determinism's cost within one dataflow, and the dataflows' ratio. */
  if (!rc)
    printf(
      "  gemm ordered / gemm atomic: forward %.2f, backward %.2f, forward+backward "
      "%.2f\n  fused / gemm atomic: forward %.2f, backward %.2f, forward+backward "
      "%.2f\n",
      f[1] / f[2], b[1] / b[2], (f[1] + b[1]) / (f[2] + b[2]), f[0] / f[2], b[0] / b[2],
      (f[0] + b[0]) / (f[2] + b[2]));
  teardown(&o);
  return rc;
}

int main(int argc, char **argv) {
  const char *path = NULL, *device = NULL;
  int reps = 7;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else
      path = argv[i];
  }
  if (!path || reps < 1) {
    fprintf(stderr, "usage: clsp-bench-train SCAN.bin [--device SPEC] [--reps N]\n");
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
  clsp_context_options opt = {0};
  opt.device = device;
  clsp_context *ctx = NULL;
  if (clsp_context_create(&opt, &ctx) != CLSP_SUCCESS) {
    fprintf(stderr, "no context\n");
    ref_voxels_free(&v);
    return 1;
  }
  printf(
    "device: %s; %zu points -> %zu voxels (SECOND), median of %d runs (wall, after "
    "a warm-up)\n",
    clsp_context_caps(ctx)->device_name, n, v.n, reps);
  const train_layer layers[] = {
    {"SubM k3 64->64",
     CLSP_CONV_SUBMANIFOLD,
     {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
     64,
     64},
    {"regular k3 s2 p1 32->64",
     CLSP_CONV_REGULAR,
     {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}},
     32,
     64},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof layers / sizeof layers[0] && !rc; i++)
    rc = bench_layer(ctx, &v, &layers[i], reps);
  clsp_context_destroy(ctx);
  ref_voxels_free(&v);
  return rc;
}
