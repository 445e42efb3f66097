/* SPDX-License-Identifier: Apache-2.0 */
/* clsp_context_warmup_launches: CLBlast's GEMM paths, then a point cloud
 * run through every operation (voxelize, the four conv kinds in every
 * scatter mode, backward passes, pooling, element-wise ops). Building a
 * program is not all a driver compiles: PoCL specialises each kernel for
 * its work-group size at the first launch, and CLBlast picks kernels by
 * shape, so only launching them settles a later first frame. Group sizes
 * do not depend on problem size on such devices (tuning record:
 * fixed_groups); PoCL's one other specialisation is the grid width (under
 * or over tuning.small_grid_limit items per dimension), so there the cloud
 * runs twice: a few hundred points, then one of more sites than the limit.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_stages.h" /* clsp__weights_to_half */
#include "clspconv/clspconv.h"

#define WARM_POINTS_SMALL 512
/* Over the limit in sites after SECOND's voxelization: the points lie in a
 * 40 x 40 x 2.5 m box of 16 M voxels, so nearly every point is a site. */
#define WARM_POINTS_LARGE 98304
#define WARM_C_IN 4
#define WARM_C_OUT 8

/* Objects of the workload, destroyed together. */
typedef struct warm_set {
  clsp_tensor *t[24]; /* 19 used */
  int n_t;
  clsp_rulebook *rb[4];
  int n_rb;
  clsp_weights *w[3];
  float *host;
} warm_set;

/* The next slot; the workload's fixed sequence stays within the arrays. */
static clsp_tensor **new_tensor(warm_set *s) { return &s->t[s->n_t++]; }
static clsp_rulebook **new_rulebook(warm_set *s) { return &s->rb[s->n_rb++]; }

static void warm_release(warm_set *s) {
  for (int i = 0; i < s->n_t; i++) clsp_tensor_destroy(s->t[i]);
  for (int i = 0; i < s->n_rb; i++) clsp_rulebook_destroy(s->rb[i]);
  for (int i = 0; i < 3; i++) clsp_weights_destroy(s->w[i]);
  free(s->host);
}

/* A seeded, fixed cloud in SECOND's range: n points in a box of `side`
 * metres (x, y) by side / 16 (z). */
static void warm_points(float *p, int n, float side) {
  uint32_t x = 12345u;
  for (int i = 0; i < n; i++) {
    for (int a = 0; a < 4; a++) {
      x = x * 1664525u + 1013904223u;
      p[4 * i + a] = (float)(x >> 8) / 16777216.0f;
    }
    p[4 * i + 0] = 2.0f + side * p[4 * i + 0];
    p[4 * i + 1] = -0.5f * side + side * p[4 * i + 1];
    p[4 * i + 2] = -2.0f + side / 16.0f * p[4 * i + 2];
  }
}

/* Weights of `volume` taps, Cin -> Cout, bias included; the values only
 * need to be finite. */
static clsp_status warm_weights(clsp_context *ctx, warm_set *s, int which, size_t volume,
                                size_t cin, size_t cout) {
  for (size_t i = 0; i < volume * cin * cout; i++) s->host[i] = (float)(i % 7) * 0.01f;
  return clsp_weights_create(ctx, volume, cin, cout, s->host, s->host, &s->w[which]);
}

/* conv forward in every dataflow and scatter mode the device may run:
 * gather-GEMM-scatter in fixed order and with atomics, fused, then the
 * device's default (kept as the result). */
static clsp_status warm_conv(clsp_context *ctx, warm_set *s, const clsp_rulebook *rb,
                             const clsp_tensor *x, const clsp_weights *w,
                             clsp_tensor **y) {
  static const uint32_t modes[] = {CLSP_CONV_GATHER_GEMM | CLSP_CONV_DETERMINISTIC,
                                   CLSP_CONV_ATOMIC, CLSP_CONV_FUSED, 0};
  const int n = (int)(sizeof modes / sizeof modes[0]);
  clsp_status st = CLSP_SUCCESS;
  for (int m = 0; m < n && st == CLSP_SUCCESS; m++) {
    clsp_tensor *out = NULL;
    st = clsp_conv_forward(ctx, rb, x, w, modes[m], &out, NULL);
    if (m < n - 1)
      clsp_tensor_destroy(out);
    else
      *y = out;
  }
  return st;
}

/* Fused convs of every output width class: the fused dataflow launches
 * one kernel per column slice (float16 tiles of 1 to 4 blocks, float8,
 * float4, scalar), chosen by c_out; the float16-storage build of each
 * (a model's CLSP_MODEL_FLOAT16_STORAGE) too, x half being x in float16. */
static clsp_status warm_fused_widths(clsp_context *ctx, const clsp_rulebook *rb,
                                     const clsp_tensor *x, const clsp_tensor *x_half) {
  static const size_t widths[] = {1, 4, 8, 16, 32, 48, 64, 125};
  const clsp_conv_epilogue relu = {NULL, CLSP_ACTIVATION_RELU, 0.0f};
  clsp_status st = CLSP_SUCCESS;
  for (size_t i = 0; i < sizeof widths / sizeof widths[0] && st == CLSP_SUCCESS; i++) {
    clsp_weights *w = NULL;
    clsp_tensor *y = NULL, *yh = NULL;
    size_t n = 27 * WARM_C_IN * widths[i];
    float *v = calloc(n, sizeof *v);
    if (!v) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "warm-up weights");
    st = clsp_weights_create(ctx, 27, WARM_C_IN, widths[i], v, v, &w);
    if (st == CLSP_SUCCESS)
      st = clsp_conv_forward(ctx, rb, x, w, CLSP_CONV_FUSED, &y, NULL);
    if (st == CLSP_SUCCESS) st = clsp__weights_to_half(ctx, w);
    if (st == CLSP_SUCCESS)
      st = clsp_conv_forward_epilogue(ctx, rb, x_half, w, 0, &relu, &yh, NULL);
    clsp_tensor_destroy(y);
    clsp_tensor_destroy(yh);
    clsp_weights_destroy(w);
    free(v);
  }
  return st;
}

/* The row-tile kernels (tuning.fused_rows > 1: slices of 64, 48, 32 and 16
 * columns, input channels enough for row tiles to pay at one pair per
 * row: a SubM row has at least its centre) on rb's sites. A
 * row tile's grid is tiles x slices, under PoCL's grid-width limit for any
 * cloud below 2 M sites: the small cloud warms them. */
#define WARM_ROWS_C_IN 1024
static clsp_status warm_row_tiles(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_tensor *x) {
  static const size_t widths[] = {64, 48, 32, 16};
  const clsp_tuning *t = &ctx->tuning;
  if (t->fused_rows <= 1 || x->desc.n_sites > WARM_POINTS_SMALL ||
      WARM_ROWS_C_IN * 16 < t->fused_rows_min_macs)
    return CLSP_SUCCESS;
  clsp_tensor *xw = NULL;
  float *v = calloc((size_t)27 * WARM_ROWS_C_IN * 64, sizeof *v);
  if (!v) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "warm-up weights");
  clsp_status st = clsp_tensor_create_on_output(ctx, rb, WARM_ROWS_C_IN, NULL, &xw);
  for (size_t i = 0; i < sizeof widths / sizeof widths[0] && st == CLSP_SUCCESS; i++) {
    clsp_weights *w = NULL;
    clsp_tensor *y = NULL;
    st = clsp_weights_create(ctx, 27, WARM_ROWS_C_IN, widths[i], v, v, &w);
    if (st == CLSP_SUCCESS)
      st = clsp_conv_forward(ctx, rb, xw, w, CLSP_CONV_FUSED, &y, NULL);
    clsp_tensor_destroy(y);
    clsp_weights_destroy(w);
  }
  clsp_tensor_destroy(xw);
  free(v);
  return st;
}

/* The float16-storage builds of the element-wise and dense kernels a
 * model runs, on t's sites (a model's CLSP_MODEL_FLOAT16_STORAGE). */
static clsp_status warm_half_ops(clsp_context *ctx, const clsp_tensor *t, cl_mem dense) {
  clsp_tensor *h = NULL, *h2 = NULL, *cat = NULL, *wide = NULL;
  clsp_status st = clsp__tensor_storage(ctx, t, 1, &h);
  if (st == CLSP_SUCCESS) st = clsp_relu(ctx, h, NULL);
  if (st == CLSP_SUCCESS) st = clsp_tensor_copy(ctx, h, &h2);
  if (st == CLSP_SUCCESS) st = clsp_add(ctx, h, h2, 1, NULL);
  if (st == CLSP_SUCCESS) st = clsp_sigmoid(ctx, h, NULL);
  if (st == CLSP_SUCCESS) st = clsp_leaky_relu(ctx, h, 0.1f, NULL);
  if (st == CLSP_SUCCESS) st = clsp_concat(ctx, h, h2, &cat, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp_scatter_dense(ctx, h, CLSP_DENSE_AXES_IN_ORDER, dense, NULL);
  if (st == CLSP_SUCCESS) st = clsp__tensor_storage(ctx, h, 0, &wide);
  clsp_tensor_destroy(h);
  clsp_tensor_destroy(h2);
  clsp_tensor_destroy(cat);
  clsp_tensor_destroy(wide);
  return st;
}

/* Backward of one conv (dX, dW, db) with y itself as the gradient. */
static clsp_status warm_backward(clsp_context *ctx, warm_set *s, const clsp_rulebook *rb,
                                 const clsp_tensor *x, const clsp_weights *w,
                                 const clsp_tensor *y, size_t volume) {
  float *dw = malloc(volume * WARM_C_IN * WARM_C_OUT * sizeof(float));
  float db[WARM_C_OUT];
  if (!dw) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  clsp_status st = clsp_conv_backward(ctx, rb, x, w, y, 0, new_tensor(s), dw, db, NULL);
  free(dw);
  return st;
}

static clsp_status warm_pools(clsp_context *ctx, warm_set *s, const clsp_rulebook *rb,
                              const clsp_tensor *x) {
  clsp_status st = CLSP_SUCCESS;
  float g[WARM_C_IN * 1];
  for (int type = CLSP_POOL_MAX; type <= CLSP_POOL_AVG && st == CLSP_SUCCESS; type++) {
    clsp_tensor **y = new_tensor(s);
    st = clsp_pool_forward(ctx, rb, (clsp_pool_type)type, x, y);
    if (st == CLSP_SUCCESS)
      st = clsp_pool_backward(ctx, rb, (clsp_pool_type)type, x, *y, new_tensor(s));
    if (st == CLSP_SUCCESS)
      st = clsp_global_pool_forward(ctx, (clsp_pool_type)type, x, g);
    if (st == CLSP_SUCCESS)
      st = clsp_global_pool_backward(ctx, (clsp_pool_type)type, x, g, new_tensor(s));
  }
  return st;
}

/* SubM, regular, inverse and transposed convs with their backward passes,
 * pooling on the regular map, ReLU and a residual add. `up` is the
 * transposed conv's geometry. */
static clsp_status warm_convs(clsp_context *ctx, warm_set *s, const clsp_tensor *x,
                              const clsp_conv_geometry *up) {
  const clsp_conv_geometry sub = {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  const clsp_conv_geometry down = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  clsp_tensor *y = NULL, *z = NULL, *u = NULL, *v = NULL;
  clsp_status st =
    clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, x, new_rulebook(s));
  if (st == CLSP_SUCCESS) st = warm_weights(ctx, s, 0, 27, WARM_C_IN, WARM_C_OUT);
  if (st == CLSP_SUCCESS) st = warm_conv(ctx, s, s->rb[0], x, s->w[0], new_tensor(s));
  if (st == CLSP_SUCCESS) y = s->t[s->n_t - 1];
  if (st == CLSP_SUCCESS) st = clsp__tensor_storage(ctx, x, 1, new_tensor(s));
  if (st == CLSP_SUCCESS) st = warm_fused_widths(ctx, s->rb[0], x, s->t[s->n_t - 1]);
  if (st == CLSP_SUCCESS) st = warm_row_tiles(ctx, s->rb[0], x);
  if (st == CLSP_SUCCESS) st = warm_backward(ctx, s, s->rb[0], x, s->w[0], y, 27);
  if (st == CLSP_SUCCESS) st = clsp_relu(ctx, y, NULL);
  if (st == CLSP_SUCCESS) st = clsp_tensor_copy(ctx, y, new_tensor(s));
  if (st == CLSP_SUCCESS) st = clsp_add(ctx, y, s->t[s->n_t - 1], 1, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, x, new_rulebook(s));
  if (st == CLSP_SUCCESS) st = warm_conv(ctx, s, s->rb[1], x, s->w[0], new_tensor(s));
  if (st == CLSP_SUCCESS) z = s->t[s->n_t - 1];
  if (st == CLSP_SUCCESS) st = warm_backward(ctx, s, s->rb[1], x, s->w[0], z, 27);
  if (st == CLSP_SUCCESS) st = warm_pools(ctx, s, s->rb[1], x);
  /* Back up: the inverse onto x's sites and the transposed map of z. */
  if (st == CLSP_SUCCESS) st = warm_weights(ctx, s, 1, 27, WARM_C_OUT, WARM_C_IN);
  if (st == CLSP_SUCCESS) st = clsp_rulebook_inverse(ctx, s->rb[1], new_rulebook(s));
  if (st == CLSP_SUCCESS) st = warm_conv(ctx, s, s->rb[2], z, s->w[1], new_tensor(s));
  if (st == CLSP_SUCCESS) u = s->t[s->n_t - 1];
  if (st == CLSP_SUCCESS)
    st = clsp_rulebook_build(ctx, CLSP_CONV_TRANSPOSED, up, z, new_rulebook(s));
  const size_t up_volume = (size_t)up->kernel[0] * up->kernel[1] * up->kernel[2];
  if (st == CLSP_SUCCESS) st = warm_weights(ctx, s, 2, up_volume, WARM_C_OUT, WARM_C_IN);
  if (st == CLSP_SUCCESS) st = warm_conv(ctx, s, s->rb[3], z, s->w[2], new_tensor(s));
  if (st == CLSP_SUCCESS) v = s->t[s->n_t - 1];
  (void)u;
  (void)v;
  return st;
}

/* Tensors made from host coordinates (the validation's hash and duplicate
 * merge) and turned dense and permuted (a model's ScatterDense and
 * Transpose): n distinct sites on a 32 x 64 x 64 grid, plus one duplicate
 * to merge. */
#define WARM_GRID_CELLS (32 * 64 * 64)

/* The element-wise ops a model may run besides ReLU and Add: float16
 * rounding of a declared-FLOAT16 input, the other activations, a folded
 * batch norm and a channel concat. */
static clsp_status warm_elementwise(clsp_context *ctx, warm_set *s, clsp_tensor *t) {
  const float one = 1.0f, zero = 0.0f;
  clsp_status st = clsp_round_half(ctx, t, NULL);
  if (st == CLSP_SUCCESS) st = clsp_sigmoid(ctx, t, NULL);
  if (st == CLSP_SUCCESS) st = clsp_leaky_relu(ctx, t, 0.1f, NULL);
  if (st == CLSP_SUCCESS) st = clsp_scale_shift(ctx, t, &one, &zero, NULL);
  if (st == CLSP_SUCCESS) st = clsp_concat(ctx, t, t, new_tensor(s), NULL);
  return st;
}
/* SubM and regular (k3 s2, k2 s2, k1 s1) rulebooks on t. On a small grid
 * they take the key bitmaps of CPU devices (rulebook_bitmap.c) where
 * SECOND's grid takes hashes for the small cloud in warm_convs; on
 * SECOND's grid the 1x1x1 one, whose output grid is the input's (over
 * 2^27 keys), takes the output hash for the large cloud too. */
static clsp_status warm_rulebooks(clsp_context *ctx, const clsp_tensor *t) {
  static const clsp_conv_geometry g[4] = {
    {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
    {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}},
    {{2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}},
    {{1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}},
  };
  clsp_status st = CLSP_SUCCESS;
  for (int i = 0; i < 4 && st == CLSP_SUCCESS; i++) {
    clsp_rulebook *rb = NULL;
    st = clsp_rulebook_build(ctx, i == 0 ? CLSP_CONV_SUBMANIFOLD : CLSP_CONV_REGULAR,
                             &g[i], t, &rb);
    clsp_rulebook_destroy(rb);
  }
  return st;
}

static clsp_status warm_tensor_ops(clsp_context *ctx, warm_set *s, int n) {
  int32_t *c = calloc(4 * ((size_t)n + 1), sizeof *c);
  if (!c) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "warm-up coordinates");
  for (int i = 0; i <= n; i++) { /* an odd stride visits every cell once */
    uint32_t cell = (uint32_t)(i % n) * 7919u % WARM_GRID_CELLS;
    c[4 * i + 1] = (int32_t)(cell / (64 * 64));
    c[4 * i + 2] = (int32_t)(cell / 64 % 64);
    c[4 * i + 3] = (int32_t)(cell % 64);
  }
  clsp_tensor_desc d = {3, {32, 64, 64}, 1, (size_t)n, 1, 0};
  clsp_status st = clsp_tensor_create(ctx, &d, c, NULL, new_tensor(s));
  d.n_sites = (size_t)n + 1;
  d.flags = CLSP_TENSOR_MERGE_DUPLICATES;
  if (st == CLSP_SUCCESS) st = clsp_tensor_create(ctx, &d, c, NULL, new_tensor(s));
  free(c);
  clsp_tensor *merged = st == CLSP_SUCCESS ? s->t[s->n_t - 1] : NULL;
  if (st == CLSP_SUCCESS) st = warm_rulebooks(ctx, merged);
  if (st == CLSP_SUCCESS) st = warm_elementwise(ctx, s, merged);
  cl_mem dense = NULL, permuted = NULL;
  const size_t bytes = WARM_GRID_CELLS * sizeof(float);
  if (st == CLSP_SUCCESS)
    st =
      clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "warm-up dense", &dense);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "warm-up dense",
                             &permuted);
  if (st == CLSP_SUCCESS)
    st = clsp_scatter_dense(ctx, merged, CLSP_DENSE_AXES_IN_ORDER, dense, NULL);
  if (st == CLSP_SUCCESS) st = warm_half_ops(ctx, merged, dense);
  static const int64_t dims[5] = {1, 1, 32, 64, 64};
  static const int perm[5] = {0, 1, 4, 3, 2};
  if (st == CLSP_SUCCESS)
    st = clsp_dense_permute(ctx, dense, 5, dims, perm, permuted, NULL);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  clsp__buffer_release(ctx, &dense);
  clsp__buffer_release(ctx, &permuted);
  return st;
}

/* The whole workload on a cloud of n points. */
static clsp_status warm_workload(clsp_context *ctx, int n, float side,
                                 const clsp_conv_geometry *up) {
  warm_set s = {0};
  s.host = malloc(27 * WARM_C_IN * WARM_C_OUT * sizeof(float) + (size_t)n * 16);
  if (!s.host) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "warm-up workload");
  float *pts = s.host + 27 * WARM_C_IN * WARM_C_OUT;
  warm_points(pts, n, side);
  clsp_voxelize_options o;
  clsp_voxelize_defaults(CLSP_VOXEL_MINKUNET, &o);
  clsp_status st = clsp_voxelize(ctx, &o, pts, (size_t)n, new_tensor(&s), NULL);
  clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &o);
  if (st == CLSP_SUCCESS)
    st = clsp_voxelize(ctx, &o, pts, (size_t)n, new_tensor(&s), NULL);
  if (st == CLSP_SUCCESS) st = warm_convs(ctx, &s, s.t[1], up);
  if (st == CLSP_SUCCESS) st = warm_rulebooks(ctx, s.t[1]);
  if (st == CLSP_SUCCESS) st = warm_tensor_ops(ctx, &s, n);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  warm_release(&s);
  return st;
}

clsp_status clsp_context_warmup_launches(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = clsp_context_warmup(ctx);
  if (st == CLSP_SUCCESS) st = clsp__blas_warmup(ctx);
  /* The large cloud's transposed conv is 1x1x1: its map is the input's
   * sites, where a 3x3x3 stride-2 map of ~100 k scattered sites would hold
   * 2.6 M (seconds of start-up); the kernels and grid widths are the same. */
  static const clsp_conv_geometry up_small = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  static const clsp_conv_geometry up_large = {{1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
  if (st == CLSP_SUCCESS) st = warm_workload(ctx, WARM_POINTS_SMALL, 3.0f, &up_small);
  if (st == CLSP_SUCCESS && ctx->tuning.small_grid_limit > 0)
    st = warm_workload(ctx, WARM_POINTS_LARGE, 40.0f, &up_large);
  return st;
}
