/* SPDX-License-Identifier: Apache-2.0 */
/* Conv test layers shared by the conv suites (test_conv.c: kinds,
 * geometries, impulses, layouts; test_conv_modes.c: modes, workspace,
 * stats, shapes, errors, KITTI): random sites and data, the reference
 * rulebook and output, the device objects, and the check of one case with
 * both dataflows. */
#ifndef CLSP_TEST_CONV_LAYERS_H
#define CLSP_TEST_CONV_LAYERS_H

#include "conv_fused.h"
#include "harness.h"
#include "ref_conv.h"

#define TOL 1e-5
#define SMALL_MAC_BUDGET 150e3
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct conv_case {
  int kind, ndim;
  int32_t k[4], s[4], p[4], d[4];
  size_t cin, cout;
  int bias;
} conv_case;

/* One layer: random sites and data, its reference rulebook, device objects. */
typedef struct layer {
  conv_case c;
  ref_geom g;
  int32_t grid[4], batch;
  int32_t *sites; /* random sites (regular conv's input for kind 3) */
  size_t n_sites;
  ref_rulebook rb, fwd;     /* fwd: the regular rulebook an inverse reverses */
  const int32_t *in_coords; /* the conv's input sites */
  const int32_t *in_shape;
  size_t n_in;
  float *feats, *w, *bias;
  clsp_tensor *in;
  clsp_rulebook *dev_rb;
  clsp_weights *dw;
  /* Inverse convs run the API's own flow: a regular conv on `pre` (the
   * random sites) gives the input tensor (its output carries the regular
   * rulebook's site identity), whose sites and features then replace
   * in_coords and feats (downloaded into mid_coords). */
  clsp_tensor *pre;
  clsp_rulebook *pre_rb;
  int32_t *mid_coords;
} layer;

/* The reference geometry of a case. */
ref_geom geom_of(const conv_case *c);
/* n floats uniform in [-1, 1). */
float *random_floats(harness_rng *rng, size_t n);
/* Host side of a layer: sites (random, or `given`), data, reference
 * rulebooks. */
void layer_host_sites(layer *L, const conv_case *c, const int32_t *grid, int32_t batch,
                      const int32_t *given, size_t n, uint64_t seed);
void layer_host(layer *L, const conv_case *c, const int32_t *grid, size_t n,
                uint64_t seed);
/* Device side: input tensor, rulebook, weights. */
void layer_device(layer *L, clsp_context *ctx);
void layer_device_free(layer *L);
void layer_free(layer *L);
/* Runs the conv; returns its output features (and coords when asked). */
float *layer_run(layer *L, clsp_context *ctx, uint32_t flags, clsp_conv_stats *stats,
                 int32_t **coords_out);
/* The same with an epilogue (NULL: none). */
float *layer_run_epilogue(layer *L, clsp_context *ctx, uint32_t flags,
                          const clsp_conv_epilogue *ep, clsp_conv_stats *stats,
                          int32_t **coords_out);
/* The reference output at out_coords. */
double *layer_reference(const layer *L, const int32_t *out_coords);
size_t count_nan(const float *f, size_t n);
/* Both dataflows, in the order check_case runs them. */
extern const clsp__dataflow DATAFLOWS[2];
extern const char *const DATAFLOW_NAMES[2];
/* 0 (default): check_case runs both dataflows, the fused one in both
 * shapes (work-item and work-group tiles; on simulators one of them per
 * case, in rotation); 1: the fused one only, in the tile the context's
 * tuning record holds (the tile tests). */
void check_fused_only(int on);
/* Fails unless the fused convs since clsp__fused_group_launches() was
 * `before` made work-group tile launches (groups = 1, where the device
 * runs them for the storage, half = float16: clsp__fused_groups_fit) or
 * none: the shape asked for is the shape that ran. */
void check_group_launches(clsp_context *ctx, unsigned long before, int groups, int half,
                          const char *what);
/* One case on random sites against the reference (TOL), no NaN left, with
 * both dataflows (gather -> GEMM -> scatter, then fused), which must also
 * agree with each other (TOL); the fused one bit-identical run to run. */
void check_case(const conv_case *c, const int32_t *grid, size_t n_sites, uint32_t flags,
                uint64_t seed);
/* A grid and site count for ndim axes (small with CLSP_TEST_SMALL). */
void grid_for(int ndim, int32_t *grid, size_t *n);
void check_cases(const conv_case *cases, size_t n_cases, uint64_t salt);

#endif
