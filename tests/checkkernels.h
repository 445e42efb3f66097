/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels (see checkkernels.c): the shared environment and the table
 * of checks. A check returns 0 when the device matches the reference. */
#ifndef CLSP_CHECKKERNELS_H
#define CLSP_CHECKKERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"
#include "ref_conv.h"
#include "ref_voxel.h"

typedef struct ck_env {
  clsp_context *ctx; /* profiling queue */
  float *points;     /* n_points x 4 (x, y, z, intensity) */
  size_t n_points;
  ref_voxels vox;  /* reference SECOND voxels of the points */
  clsp_tensor *in; /* those sites with cin random features */
  float *feats;    /* host copy of in's features */
  size_t cin, cout;
  uint64_t seed;
  int bench, reps;
  const char *device; /* --device, or NULL */
  const char *tiles;  /* --tiles: fused tiles (CLSP_FUSED_TILE values) */
  double peak;        /* measured FMA peak, GFLOP/s (0: not measured) */
} ck_env;

typedef struct ck_check {
  const char *name;
  int (*fn)(ck_env *e);
} ck_check;
extern const ck_check ck_checks[];
extern const size_t ck_n_checks;

/* One timed run: the operation, with its device ms from profiling. */
typedef clsp_status (*ck_timed_fn)(ck_env *e, void *arg, double *device_ms);
/* With --bench: one warm-up and e->reps timed runs of fn; prints the
 * median wall and device times (and GFLOP/s when work_gflop > 0).
 * Returns nonzero when a run failed. */
int ck_time(ck_env *e, const char *label, ck_timed_fn fn, void *arg, double work_gflop);
double ck_median(double *v, int n);
double ck_now_ms(void);
uint64_t ck_next(uint64_t *state);
float *ck_random_floats(size_t n, uint64_t seed);
/* CLBlast parameter overrides for GEMM experiments (check_conv.c). */
int ck_clblast_overrides(ck_env *e, int tuned_direct, int all_direct, const char *spec);

/* Layer geometries of the rulebook and conv checks: SubM k3, regular k3
 * s2 p1, transposed k2 s2 (check_sites.c). */
extern const clsp_conv_geometry ck_geom_subm, ck_geom_regular, ck_geom_transposed;
/* ref_geom of a 3D clsp_conv_geometry. */
ref_geom ck_ref_geom(const clsp_conv_geometry *g);

/* One conv call of a check: context, rulebook, input, weights, flags. */
typedef struct ck_conv_case {
  clsp_context *ctx;
  clsp_rulebook *rb;
  clsp_tensor *in;
  clsp_weights *w;
  uint32_t flags;
} ck_conv_case;
/* A dataflow / scatter mode of the conv checks. */
typedef struct ck_conv_mode {
  const char *name;
  uint32_t flags;
} ck_conv_mode;
#define CK_CONV_MODES 3
/* One conv call (arg: a ck_conv_case), for ck_time. */
clsp_status ck_conv_once(ck_env *e, void *arg, double *device_ms);
/* One mode's output against the reference (CONV_TOL) and its stats->fused
 * against its flags; prints the error and the device breakdown. */
int ck_conv_mode_check(ck_env *e, const ck_conv_case *c, const char *mode,
                       const double *ref, size_t n_out);
/* With --bench: one warm-up round and e->reps timed rounds, each calling
 * every mode once (interleaved, so that load on the machine hits all
 * alike); prints each mode's median wall time, GFLOP/s, fraction of the
 * FMA peak, and the fused speed-up over the others (check_fused.c). */
int ck_time_modes(ck_env *e, const ck_conv_mode *modes, const ck_conv_case *cases, int n,
                  double gflop);
/* --tiles: the fused dataflow with each tile in its own context
 * (CLSP_FUSED_TILE is read when a context is made), checked against ref
 * and, with --bench, timed interleaved (check_fused.c). */
int ck_conv_tiles(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g,
                  const float *w, const float *bias, const double *ref, size_t n_out,
                  double gflop);

/* With --bench: the layer through OpenBLAS on the host (per-tap gather,
 * cblas_sgemm, scatter-add), checked against ref and timed interleaved
 * with `fused` (the fused dataflow's case); prints both, the GEMM-only
 * time and their fractions of the FMA peak (check_blas.c; says it was
 * skipped when built without OpenBLAS). */
int ck_time_openblas(ck_env *e, const ck_conv_case *fused, const float *w,
                     const float *bias, const double *ref, double gflop);

/* The checks (check_sites.c, check_conv.c, check_fused.c). */
int ck_voxelize_second(ck_env *e);
int ck_voxelize_minkunet(ck_env *e);
int ck_hash(ck_env *e);
int ck_rulebook_subm(ck_env *e);
int ck_rulebook_regular(ck_env *e);
int ck_rulebook_transposed(ck_env *e);
int ck_conv_subm(ck_env *e);
int ck_conv_regular(ck_env *e);
int ck_conv_transposed(ck_env *e);
int ck_ops(ck_env *e);
int ck_fma_peak(ck_env *e);

#endif
