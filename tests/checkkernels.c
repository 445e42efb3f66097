/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels: every device kernel path against its CPU reference
 * (tests/ref), correctness and timing in one binary, selectable by name,
 * in the spirit of dav1d's checkasm. Replaces tools/bench_conv.c and
 * tools/bench_rulebook.c.
 *
 * Input: a KITTI scan (default ../shared/data/kitti/000000.bin when
 * present) or seeded random points (--points N, or --small), voxelized
 * with the SECOND recipe; features and weights are seeded random. Every
 * check compares the device result with the reference (exact for sites
 * and pairs, ||out-ref||/||ref|| < 1e-5 for convolutions, 1e-6 relative
 * for voxel means) and prints the seed on failure. With --bench each check
 * also prints the median of --reps timed runs after one warm-up (host wall
 * time of call + finish, and device time from profiling events).
 *
 * Usage: checkkernels [--list] [--bench] [--reps N] [--seed S]
 *          [--device SPEC] [--input SCAN.bin | --points N | --small]
 *          [--channels CIN,COUT] [--clblast-tuned-direct] [--clblast-all-direct]
 *          [--clblast-params KERNEL:NAME=V,...] (a clblast_tuner_* result)
 *          [--tiles 16x4,16x4k2,...] [NAME...]
 * The conv checks run three modes (gather -> GEMM -> scatter with atomic
 * and with ordered scatter, and the fused dataflow); with --bench they are
 * timed interleaved, with GFLOP/s as a fraction of the device's measured
 * FMA peak (measured first with --bench) and the fused speed-up. --tiles
 * also checks (and times) the fused dataflow with each tile
 * (CLSP_FUSED_TILE, docs/performance.md).
 * NAME selects checks by name prefix ("conv" runs every conv check).
 * Exit status: 0 passed, 1 a check failed, 2 usage, 77 no device/input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkkernels.h"

#ifndef CLSP_KITTI_DEFAULT_DIR
#define CLSP_KITTI_DEFAULT_DIR "../shared/data/kitti"
#endif

/* ---- timing ---- */

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double ck_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return v[n / 2];
}

int ck_time(ck_env *e, const char *label, ck_timed_fn fn, void *arg, double work_gflop) {
  if (!e->bench) return 0;
  double *wall = calloc((size_t)e->reps, sizeof *wall);
  double *dev = calloc((size_t)e->reps, sizeof *dev);
  int rc = !wall || !dev;
  for (int r = -1; r < e->reps && !rc; r++) { /* r = -1: warm-up */
    double dms = 0.0, t0 = ck_now_ms();
    rc = fn(e, arg, &dms) != CLSP_SUCCESS || clsp_context_finish(e->ctx) != CLSP_SUCCESS;
    double t1 = ck_now_ms();
    if (r >= 0) {
      wall[r] = t1 - t0;
      dev[r] = dms;
    }
  }
  if (!rc) {
    double w = ck_median(wall, e->reps), d = ck_median(dev, e->reps);
    printf("    %-28s median %9.3f ms wall, %9.3f ms device", label, w, d);
    if (work_gflop > 0) printf(", %7.2f GFLOP/s", work_gflop / (w * 1e-3));
    printf("  (%d runs)\n", e->reps);
  } else {
    printf("    %-28s timing failed: %s\n", label, clsp_context_last_error(e->ctx));
  }
  free(wall);
  free(dev);
  return rc;
}

/* ---- random data ---- */

uint64_t ck_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float *ck_random_floats(size_t n, uint64_t seed) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  for (size_t i = 0; f && i < n; i++)
    f[i] = (float)((double)(ck_next(&seed) >> 40) / (double)(1ull << 23) - 1.0);
  return f;
}

/* n points inside the SECOND range (x 0..70.4, y -40..40, z -3..1), with
 * repeats so that voxels hold several points. */
static float *random_points(size_t n, uint64_t seed) {
  float *p = malloc((n ? n : 1) * 16);
  const float lo[3] = {0.0f, -40.0f, -3.0f}, ext[3] = {70.4f, 80.0f, 4.0f};
  for (size_t i = 0; p && i < n; i++) {
    if (i > 0 && ck_next(&seed) % 4 == 0) {
      memcpy(p + 4 * i, p + 4 * (ck_next(&seed) % i), 16);
      continue;
    }
    for (int a = 0; a < 3; a++)
      p[4 * i + a] = lo[a] + ext[a] * (float)((double)(ck_next(&seed) >> 11) * 0x1p-53);
    p[4 * i + 3] = (float)((double)(ck_next(&seed) >> 11) * 0x1p-53);
  }
  return p;
}

/* ---- set-up ---- */

static int load_points(ck_env *e, const char *input, size_t n_random) {
  char path[1200];
  if (!input && !n_random) {
    snprintf(path, sizeof path, "%s/000000.bin", CLSP_KITTI_DEFAULT_DIR);
    FILE *f = fopen(path, "rb");
    if (f) {
      fclose(f);
      input = path;
    } else {
      n_random = 60000;
    }
  }
  if (input) {
    if (ref_load_kitti_bin(input, &e->points, &e->n_points) != 0) {
      fprintf(stderr, "checkkernels: cannot read %s\n", input);
      return 0;
    }
    printf("input: %s, %zu points\n", input, e->n_points);
  } else {
    e->n_points = n_random;
    e->points = random_points(n_random, e->seed);
    printf("input: %zu random points (seed %llu)\n", n_random,
           (unsigned long long)e->seed);
  }
  return e->points && ref_voxelize_second(e->points, e->n_points, 0, &e->vox) == 0;
}

/* The device tensor of the reference voxels with cin random features. */
static int make_input(ck_env *e) {
  e->feats = ck_random_floats(e->vox.n * e->cin, e->seed + 1);
  clsp_tensor_desc d = {3,      {e->vox.shape[0], e->vox.shape[1], e->vox.shape[2], 1},
                        1,      e->vox.n,
                        e->cin, 0};
  return e->feats &&
         clsp_tensor_create(e->ctx, &d, e->vox.coords, e->feats, &e->in) == CLSP_SUCCESS;
}

static void env_free(ck_env *e) {
  clsp_tensor_destroy(e->in);
  clsp_context_destroy(e->ctx);
  ref_voxels_free(&e->vox);
  free(e->points);
  free(e->feats);
}

/* ---- command line ---- */

typedef struct options {
  const char *device, *input;
  size_t points;
  int list, tuned_direct, all_direct;
  const char *clblast_params; /* --clblast-params KERNEL:NAME=V,... */
  const char **names;
  int n_names;
} options;

static int usage(void) {
  fprintf(stderr,
          "usage: checkkernels [--list] [--bench] [--reps N] [--seed S] [--device SPEC]\n"
          "         [--input SCAN.bin | --points N | --small] [--channels CIN,COUT]\n"
          "         [--clblast-tuned-direct] [--clblast-all-direct]\n"
          "         [--clblast-params KERNEL:NAME=V,...[;KERNEL:...]]\n"
          "         [--tiles 16x4,16x4k2,...] [NAME...]\n");
  return 2;
}

static int parse(int argc, char **argv, ck_env *e, options *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--list"))
      o->list = 1;
    else if (!strcmp(a, "--bench"))
      e->bench = 1;
    else if (!strcmp(a, "--small"))
      o->points = 20000;
    else if (!strcmp(a, "--clblast-tuned-direct"))
      o->tuned_direct = 1;
    else if (!strcmp(a, "--clblast-all-direct"))
      o->all_direct = 1;
    else if (a[0] == '-' && !v)
      return 0;
    else if (!strcmp(a, "--reps"))
      e->reps = atoi(argv[++i]);
    else if (!strcmp(a, "--seed"))
      e->seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--device"))
      o->device = e->device = argv[++i];
    else if (!strcmp(a, "--clblast-params"))
      o->clblast_params = argv[++i];
    else if (!strcmp(a, "--tiles"))
      e->tiles = argv[++i];
    else if (!strcmp(a, "--input"))
      o->input = argv[++i];
    else if (!strcmp(a, "--points"))
      o->points = (size_t)strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--channels")) {
      if (sscanf(argv[++i], "%zu,%zu", &e->cin, &e->cout) != 2) return 0;
    } else if (a[0] == '-')
      return 0;
    else
      o->names[o->n_names++] = a;
  }
  return e->reps >= 1 && e->cin >= 1 && e->cout >= 1;
}

static int selected(const options *o, const char *name) {
  if (o->n_names == 0) return 1;
  for (int i = 0; i < o->n_names; i++)
    if (!strncmp(name, o->names[i], strlen(o->names[i]))) return 1;
  return 0;
}

static int open_context(ck_env *e, const options *o) {
  clsp_context_options co = {0};
  co.device = o->device;
  co.flags = CLSP_CONTEXT_PROFILING;
  if (clsp_context_create(&co, &e->ctx) != CLSP_SUCCESS) return 0;
  printf("device: %s\n", clsp_context_caps(e->ctx)->device_name);
  return 1;
}

int main(int argc, char **argv) {
  ck_env e = {0};
  e.reps = 7;
  e.seed = 20261202;
  e.cin = 16;
  e.cout = 16;
  options o = {0};
  o.names = calloc((size_t)argc, sizeof *o.names);
  if (!o.names || !parse(argc, argv, &e, &o)) return usage();
  if (o.list) {
    for (size_t i = 0; i < ck_n_checks; i++) printf("%s\n", ck_checks[i].name);
    free(o.names);
    return 0;
  }
  int rc = 0;
  if (!open_context(&e, &o)) {
    fprintf(stderr, "checkkernels: no OpenCL device\n");
    rc = 77;
  } else if (ck_clblast_overrides(&e, o.tuned_direct, o.all_direct, o.clblast_params) !=
             0) {
    fprintf(stderr, "checkkernels: CLBlastOverrideParameters failed\n");
    rc = 1;
  } else if (!load_points(&e, o.input, o.points) || !make_input(&e)) {
    fprintf(stderr, "checkkernels: set-up failed: %s\n", clsp_context_last_error(e.ctx));
    rc = 77;
  }
  if (rc == 0 && e.bench && clsp_device_fma_peak(e.ctx, &e.peak) == CLSP_SUCCESS)
    printf("FMA peak (measured): %.1f GFLOP/s\n", e.peak);
  int failed = 0, run = 0;
  for (size_t i = 0; rc == 0 && i < ck_n_checks; i++) {
    if (!selected(&o, ck_checks[i].name)) continue;
    run++;
    int bad = ck_checks[i].fn(&e);
    printf("%-24s %s\n", ck_checks[i].name, bad ? "FAILED" : "ok");
    if (bad)
      printf("  (seed %llu; %s)\n", (unsigned long long)e.seed,
             clsp_context_last_error(e.ctx));
    failed += bad;
  }
  if (rc == 0) printf("%d checks, %d failed\n", run, failed);
  env_free(&e);
  free(o.names);
  return rc ? rc : failed ? 1 : 0;
}
