/* SPDX-License-Identifier: Apache-2.0 */
/* Conv test layers (see conv_layers.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_layers.h"

ref_geom geom_of(const conv_case *c) {
  ref_geom g = {0};
  g.ndim = c->ndim;
  for (int a = 0; a < c->ndim; a++) {
    g.kernel[a] = c->k[a] ? c->k[a] : 1;
    g.stride[a] = c->s[a] ? c->s[a] : 1;
    g.padding[a] = c->p[a];
    g.dilation[a] = c->d[a] ? c->d[a] : 1;
  }
  return g;
}

/* n unique random sites in batch x grid (partial Fisher-Yates). */
static int32_t *random_sites(harness_rng *rng, int ndim, const int32_t *grid,
                             int32_t batch, size_t *n) {
  size_t cells = (size_t)batch;
  for (int a = 0; a < ndim; a++) cells *= (size_t)grid[a];
  if (*n > cells) *n = cells;
  uint32_t *idx = malloc(cells * sizeof *idx);
  int32_t *coords = malloc(*n * (size_t)(1 + ndim) * sizeof *coords);
  assert_non_null(idx);
  assert_non_null(coords);
  for (size_t i = 0; i < cells; i++) idx[i] = (uint32_t)i;
  for (size_t i = 0; i < *n; i++) {
    size_t j = i + harness_below(rng, (uint32_t)(cells - i));
    uint32_t v = idx[j];
    idx[j] = idx[i];
    idx[i] = v;
    int32_t *c = coords + i * (size_t)(1 + ndim);
    for (int a = ndim - 1; a >= 0; a--) {
      c[1 + a] = (int32_t)(v % (uint32_t)grid[a]);
      v /= (uint32_t)grid[a];
    }
    c[0] = (int32_t)v;
  }
  free(idx);
  return coords;
}

float *random_floats(harness_rng *rng, size_t n) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = harness_unit(rng);
  return f;
}

/* The device rulebook engine builds the rulebooks the convs run on; the
 * reference rulebook (L->rb) only sizes the host side of a case. */
static clsp_conv_geometry device_geometry(const ref_geom *g) {
  clsp_conv_geometry d;
  for (int a = 0; a < CLSP_MAX_DIMS; a++) {
    d.kernel[a] = g->kernel[a];
    d.stride[a] = g->stride[a];
    d.padding[a] = g->padding[a];
    d.dilation[a] = g->dilation[a];
  }
  return d;
}

static clsp_status make_rulebook(clsp_context *ctx, layer *L) {
  if (L->c.kind == REF_INVERSE) return clsp_rulebook_inverse(ctx, L->pre_rb, &L->dev_rb);
  clsp_conv_geometry g = device_geometry(&L->g);
  return clsp_rulebook_build(ctx, (clsp_conv_kind)L->c.kind, &g, L->in, &L->dev_rb);
}

/* The regular rulebook an inverse conv reverses, for the sites of L->pre. */
static clsp_status make_regular_rulebook(clsp_context *ctx, layer *L) {
  clsp_conv_geometry g = device_geometry(&L->g);
  return clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &g, L->pre, &L->pre_rb);
}

static void destroy_rulebook(clsp_rulebook *rb) { clsp_rulebook_destroy(rb); }

/* Host side of a layer: sites, reference rulebook, data. */
void layer_host_sites(layer *L, const conv_case *c, const int32_t *grid, int32_t batch,
                      const int32_t *given, size_t n, uint64_t seed) {
  memset(L, 0, sizeof *L);
  harness_rng rng = {seed};
  L->c = *c;
  L->g = geom_of(c);
  L->batch = batch;
  memcpy(L->grid, grid, (size_t)c->ndim * sizeof(int32_t));
  L->n_sites = n;
  if (given) {
    size_t bytes = n * (size_t)(1 + c->ndim) * sizeof(int32_t);
    L->sites = malloc(bytes + 4);
    assert_non_null(L->sites);
    memcpy(L->sites, given, bytes);
  } else {
    L->sites = random_sites(&rng, c->ndim, grid, L->batch, &L->n_sites);
  }
  if (c->kind == REF_INVERSE) {
    assert_int_equal(ref_rulebook_build(REF_REGULAR, &L->g, grid, L->batch, L->n_sites,
                                        L->sites, &L->fwd),
                     0);
    assert_int_equal(ref_rulebook_inverse(&L->fwd, L->n_sites, L->sites, &L->rb), 0);
    L->in_coords = L->fwd.out_coords;
    L->in_shape = L->fwd.out_shape;
    L->n_in = L->fwd.n_out;
  } else {
    assert_int_equal(ref_rulebook_build(c->kind, &L->g, grid, L->batch, L->n_sites,
                                        L->sites, &L->rb),
                     0);
    L->in_coords = L->sites;
    L->in_shape = L->grid;
    L->n_in = L->n_sites;
  }
  L->feats = random_floats(&rng, L->n_in * c->cin);
  L->w = random_floats(&rng, L->rb.kvol * c->cin * c->cout);
  L->bias = c->bias ? random_floats(&rng, c->cout) : NULL;
}

void layer_host(layer *L, const conv_case *c, const int32_t *grid, size_t n,
                uint64_t seed) {
  layer_host_sites(L, c, grid, 2, NULL, n, seed);
}

/* Inverse convs: the input tensor is a regular conv's output on L->sites;
 * its sites and features become the layer's input (for the reference). */
static void inverse_input(layer *L, clsp_context *ctx) {
  clsp_tensor_desc d = {0};
  d.ndim = L->c.ndim;
  memcpy(d.shape, L->grid, (size_t)d.ndim * sizeof(int32_t));
  d.batch_size = L->batch;
  d.n_sites = L->n_sites;
  d.channels = L->c.cin;
  harness_rng rng = {L->n_sites * 7919u + L->c.cin};
  size_t kvol = L->fwd.kvol, cin = L->c.cin;
  float *pre_feats = random_floats(&rng, L->n_sites * cin);
  float *pre_w = random_floats(&rng, kvol * cin * cin);
  clsp_weights *w = NULL;
  assert_int_equal(clsp_tensor_create(ctx, &d, L->sites, pre_feats, &L->pre),
                   CLSP_SUCCESS);
  assert_int_equal(make_regular_rulebook(ctx, L), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(ctx, kvol, cin, cin, pre_w, NULL, &w),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_conv_forward(ctx, L->pre_rb, L->pre, w, 0, &L->in, NULL),
                   CLSP_SUCCESS);
  clsp_tensor_desc mid;
  assert_int_equal(clsp_tensor_describe(L->in, &mid), CLSP_SUCCESS);
  assert_int_equal(mid.n_sites, L->n_in);
  free(L->mid_coords);
  L->mid_coords = malloc((L->n_in * (size_t)(1 + d.ndim) + 1) * sizeof(int32_t));
  assert_non_null(L->mid_coords);
  assert_int_equal(clsp_tensor_download(ctx, L->in, L->mid_coords, L->feats),
                   CLSP_SUCCESS);
  L->in_coords = L->mid_coords;
  clsp_weights_destroy(w);
  free(pre_feats);
  free(pre_w);
}

void layer_device(layer *L, clsp_context *ctx) {
  if (L->c.kind == REF_INVERSE) {
    inverse_input(L, ctx);
    assert_int_equal(make_rulebook(ctx, L), CLSP_SUCCESS);
    assert_int_equal(clsp_weights_create(ctx, L->rb.kvol, L->c.cin, L->c.cout, L->w,
                                         L->bias, &L->dw),
                     CLSP_SUCCESS);
    return;
  }
  clsp_tensor_desc d = {0};
  d.ndim = L->c.ndim;
  memcpy(d.shape, L->in_shape, (size_t)d.ndim * sizeof(int32_t));
  d.batch_size = L->batch;
  d.n_sites = L->n_in;
  d.channels = L->c.cin;
  assert_int_equal(clsp_tensor_create(ctx, &d, L->in_coords, L->feats, &L->in),
                   CLSP_SUCCESS);
  assert_int_equal(make_rulebook(ctx, L), CLSP_SUCCESS);
  assert_int_equal(clsp_weights_create(ctx, L->rb.kvol, L->c.cin, L->c.cout, L->w,
                                       L->bias, &L->dw),
                   CLSP_SUCCESS);
}

void layer_device_free(layer *L) {
  clsp_weights_destroy(L->dw);
  destroy_rulebook(L->dev_rb);
  clsp_tensor_destroy(L->in);
  destroy_rulebook(L->pre_rb);
  clsp_tensor_destroy(L->pre);
  L->dw = NULL;
  L->dev_rb = L->pre_rb = NULL;
  L->in = L->pre = NULL;
}

void layer_free(layer *L) {
  layer_device_free(L);
  ref_rulebook_free(&L->rb);
  ref_rulebook_free(&L->fwd);
  free(L->mid_coords);
  free(L->sites);
  free(L->feats);
  free(L->w);
  free(L->bias);
}

/* Runs the layer; returns n_out x cout floats (caller frees). */
float *layer_run(layer *L, clsp_context *ctx, uint32_t flags, clsp_conv_stats *stats,
                 int32_t **coords_out) {
  return layer_run_epilogue(L, ctx, flags, NULL, stats, coords_out);
}

float *layer_run_epilogue(layer *L, clsp_context *ctx, uint32_t flags,
                          const clsp_conv_epilogue *ep, clsp_conv_stats *stats,
                          int32_t **coords_out) {
  clsp_tensor *out = NULL;
  clsp_status st =
    clsp_conv_forward_epilogue(ctx, L->dev_rb, L->in, L->dw, flags, ep, &out, stats);
  if (st != CLSP_SUCCESS)
    fail_msg("clsp_conv_forward_epilogue: %s: %s", clsp_status_string(st),
             clsp_context_last_error(ctx));
  clsp_tensor_desc d;
  assert_int_equal(clsp_tensor_describe(out, &d), CLSP_SUCCESS);
  assert_int_equal(d.n_sites, L->rb.n_out);
  assert_int_equal(d.channels, L->c.cout);
  float *f = malloc((d.n_sites * d.channels + 1) * sizeof *f);
  int32_t *c = malloc((d.n_sites * (size_t)(1 + d.ndim) + 1) * sizeof *c);
  assert_non_null(f);
  assert_non_null(c);
  assert_int_equal(clsp_tensor_download(ctx, out, c, f), CLSP_SUCCESS);
  clsp_tensor_destroy(out);
  if (coords_out)
    *coords_out = c;
  else
    free(c);
  return f;
}

/* Reference at the output sites the device reports (independent of the
 * order a rulebook lists them in). */
double *layer_reference(const layer *L, const int32_t *out_coords) {
  double *ref = malloc((L->rb.n_out * L->c.cout + 1) * sizeof *ref);
  assert_non_null(ref);
  assert_int_equal(ref_conv_dense(L->c.kind, &L->g, L->in_shape, L->batch, L->n_in,
                                  L->in_coords, L->feats, L->c.cin, L->rb.n_out,
                                  out_coords, L->c.cout, L->w, L->bias, ref),
                   0);
  return ref;
}

static void describe_case(const conv_case *c, char *buf, size_t cap) {
  static const char *kinds[] = {"subm", "regular", "transposed", "inverse"};
  int n = snprintf(buf, cap, "%s %dD cin %zu cout %zu bias %d k/s/p/d", kinds[c->kind],
                   c->ndim, c->cin, c->cout, c->bias);
  ref_geom g = geom_of(c);
  for (int a = 0; a < c->ndim && n > 0 && (size_t)n < cap; a++)
    n += snprintf(buf + n, cap - (size_t)n, " %d/%d/%d/%d", g.kernel[a], g.stride[a],
                  g.padding[a], g.dilation[a]);
}

size_t count_nan(const float *f, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += isnan(f[i]) != 0;
  return bad;
}

const clsp__dataflow DATAFLOWS[2] = {CLSP_DATAFLOW_GEMM, CLSP_DATAFLOW_FUSED};
const char *const DATAFLOW_NAMES[2] = {"gather-GEMM-scatter", "fused"};

static int first_flow;

void check_fused_only(int on) { first_flow = on ? 1 : 0; }

/* The fused dataflow again: bit-identical to its first run. */
static void check_fused_repeat(layer *L, clsp_context *ctx, const float *first, size_t n,
                               uint64_t seed) {
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_FUSED);
  float *again = layer_run(L, ctx, 0, NULL, NULL);
  if (n && memcmp(first, again, n * sizeof *first) != 0)
    fail_msg("fused dataflow differs run to run (seed %llu, %s)",
             (unsigned long long)seed, harness_device_label());
  free(again);
}

/* The shapes of the fused kernels a case runs in: work-item tiles (the
 * CPU shape), then work-group tiles (the GPU shape), each checked. The
 * simulators run the group tiles ~30x slower than the item tiles (a tile
 * multiplies 64 rows x 16 channels per tap whether present or not), so
 * there (harness_small) each case runs one shape: work-group tiles every
 * eighth case, work-item tiles the others. */
static int shape_rotation;

static void fused_shapes(int *first, int *last) {
  *first = 0;
  *last = 1;
  if (harness_small()) *first = *last = shape_rotation++ % 8 == 0;
}

void check_group_launches(clsp_context *ctx, unsigned long before, int groups, int half,
                          const char *what) {
  static int told;
  if (groups && !clsp__fused_groups_fit(ctx, half)) {
    if (!told++)
      print_message(
        "  %s cannot run the work-group tiles (groups of 256 work-items): "
        "the work-item tiles run where they are asked for\n",
        harness_device_label());
    groups = 0;
  }
  unsigned long now = clsp__fused_group_launches();
  if (groups ? now == before : now != before)
    fail_msg("%s: %lu work-group tile launches, where the tuning record asks for %s (%s)",
             what, now - before, groups ? "them" : "none", harness_device_label());
}

/* The fused dataflow in the work-group tiles (after the work-item tiles
 * gave `first`): against the reference and `first` (TOL), and
 * bit-identical run to run. */
static void check_group_shape(layer *L, clsp_context *ctx, const char *what,
                              const float *first, const double *ref, size_t n,
                              uint64_t seed) {
  unsigned long launches = clsp__fused_group_launches();
  float *out = layer_run(L, ctx, 0, NULL, NULL);
  if (L->rb.n_out > 0) check_group_launches(ctx, launches, 1, 0, what);
  double err = ref_rel_error(out, ref, n), diff = ref_rel_diff(out, first, n);
  size_t nans = count_nan(out, n);
  if (nans || !(err < TOL) || !(diff < TOL))
    fail_msg(
      "%s (fused, work-group tiles): rel error %.3g, vs work-item tiles %.3g, %zu "
      "NaN of %zu (seed %llu, %s)",
      what, err, diff, nans, n, (unsigned long long)seed, harness_device_label());
  check_fused_repeat(L, ctx, out, n, seed);
  free(out);
}

/* out[1] against out[0] (gather-GEMM-scatter), when both ran. */
static void check_agreement(const char *what, float *const out[2], size_t n,
                            uint64_t seed) {
  if (!out[0]) return;
  double diff = ref_rel_diff(out[1], out[0], n);
  if (!(diff < TOL))
    fail_msg("%s: fused vs gather-GEMM-scatter rel difference %.3g (seed %llu, %s)", what,
             diff, (unsigned long long)seed, harness_device_label());
}

/* Runs one case against the reference with both dataflows; fails with a
 * readable message. */
void check_case(const conv_case *c, const int32_t *grid, size_t n_sites, uint32_t flags,
                uint64_t seed) {
  clsp_context *ctx = harness_ctx();
  layer L;
  layer_host(&L, c, grid, n_sites, seed);
  /* Simulators run GEMMs at ~1e5 multiply-adds per second: small runs
   * keep pairs x c_in x c_out under a budget by taking fewer sites. */
  double macs = (double)L.rb.start[L.rb.kvol] * (double)(c->cin * c->cout);
  if (harness_small() && macs > SMALL_MAC_BUDGET) {
    size_t fewer = (size_t)((double)n_sites * SMALL_MAC_BUDGET / macs);
    layer_free(&L);
    layer_host(&L, c, grid, fewer > 4 ? fewer : 4, seed);
  }
  layer_device(&L, ctx);
  char what[256];
  describe_case(c, what, sizeof what);
  int32_t *oc = NULL;
  float *out[2] = {NULL, NULL};
  size_t n = L.rb.n_out * c->cout;
  double *ref = NULL;
  /* The tile test (check_fused_only) sets its tile, shape included. */
  int groups = ctx->tuning.fused_groups, shape0 = groups, shape1 = groups;
  if (!first_flow) fused_shapes(&shape0, &shape1);
  ctx->tuning.fused_groups = shape0;
  for (int d = first_flow; d < 2; d++) { /* gather -> GEMM -> scatter, then fused */
    clsp__conv_debug_dataflow(DATAFLOWS[d]);
    clsp_conv_stats stats;
    unsigned long launches = clsp__fused_group_launches();
    out[d] = layer_run(&L, ctx, flags, &stats, oc ? NULL : &oc);
    if (d == 1 && L.rb.n_out > 0) check_group_launches(ctx, launches, shape0, 0, what);
    if (!ref) ref = layer_reference(&L, oc);
    double err = ref_rel_error(out[d], ref, n);
    size_t nans = count_nan(out[d], n);
    if (nans || !(err < TOL) || stats.pair_rows != L.rb.start[L.rb.kvol] ||
        stats.fused != d)
      fail_msg(
        "%s (%s%s): rel error %.3g, %zu NaN of %zu, pair_rows %zu of %zu (seed %llu, "
        "%s)",
        what, DATAFLOW_NAMES[d], d && shape0 ? ", work-group tiles" : "", err, nans, n,
        stats.pair_rows, L.rb.start[L.rb.kvol], (unsigned long long)seed,
        harness_device_label());
  }
  check_fused_repeat(&L, ctx, out[1], n, seed);
  if (shape1 != shape0) {
    ctx->tuning.fused_groups = shape1;
    check_group_shape(&L, ctx, what, out[1], ref, n, seed);
  }
  ctx->tuning.fused_groups = groups;
  check_agreement(what, out, n, seed);
  clsp__conv_debug_dataflow(CLSP_DATAFLOW_AUTO);
  free(out[0]);
  free(out[1]);
  free(oc);
  free(ref);
  layer_free(&L);
}

/* Grid and site count per dimensionality, smaller on slow devices. */
void grid_for(int ndim, int32_t *grid, size_t *n) {
  static const int32_t big[4][4] = {{200}, {40, 37}, {19, 18, 17}, {9, 8, 7, 6}};
  static const int32_t small[4][4] = {{40}, {13, 11}, {9, 8, 7}, {5, 5, 4, 4}};
  static const size_t nbig[4] = {60, 400, 1500, 400}, nsmall[4] = {20, 50, 120, 60};
  memcpy(grid, harness_small() ? small[ndim - 1] : big[ndim - 1], 4 * sizeof(int32_t));
  *n = harness_small() ? nsmall[ndim - 1] : nbig[ndim - 1];
}

void check_cases(const conv_case *cases, size_t n_cases, uint64_t salt) {
  for (size_t i = 0; i < n_cases; i++) {
    int32_t grid[4];
    size_t n;
    grid_for(cases[i].ndim, grid, &n);
    check_case(&cases[i], grid, n, 0, harness_seed() + salt * 1000 + i);
  }
}
