/* SPDX-License-Identifier: Apache-2.0 */
/* A network written with the builder (shared submanifold rulebook,
 * residual add, strided conv, concat, inverse conv, every activation,
 * scatter to dense, transpose, reshape; batch 2) against a float64 CPU
 * evaluation with the reference convolution (tests/ref). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "model_util.h"
#include "ref_conv.h"

#define NET_TOL 1e-5

static const int32_t SHAPE[3] = {9, 17, 13};
#define BATCH 2
#define C_IN 3

typedef struct layer_w {
  size_t kvol, cin, cout;
  float *w, *b;
} layer_w;

typedef struct net_case {
  size_t n;
  int32_t *coords;
  float *feats;
  layer_w l[5];
} net_case;

static void random_weights(layer_w *l, size_t kvol, size_t cin, size_t cout,
                           harness_rng *r) {
  *l = (layer_w){kvol, cin, cout, malloc(kvol * cin * cout * sizeof(float)),
                 malloc(cout * sizeof(float))};
  assert_true(l->w && l->b);
  float scale = 1.5f / sqrtf((float)(kvol * cin) * 0.3f);
  for (size_t i = 0; i < kvol * cin * cout; i++) l->w[i] = scale * harness_unit(r);
  for (size_t i = 0; i < cout; i++) l->b[i] = 0.2f * harness_unit(r);
}

static void case_make(net_case *c, uint64_t seed) {
  harness_rng r = {seed};
  size_t cells = (size_t)BATCH * SHAPE[0] * SHAPE[1] * SHAPE[2];
  c->n = harness_small() ? 150 : 400;
  c->coords = malloc(c->n * 16);
  c->feats = malloc(c->n * C_IN * sizeof(float));
  char *used = calloc(cells, 1);
  assert_true(c->coords && c->feats && used);
  for (size_t i = 0; i < c->n;) {
    uint32_t cell = harness_below(&r, (uint32_t)cells);
    if (used[cell]++) continue;
    int32_t *row = c->coords + 4 * i++;
    row[3] = (int32_t)(cell % (uint32_t)SHAPE[2]);
    row[2] = (int32_t)(cell / (uint32_t)SHAPE[2] % (uint32_t)SHAPE[1]);
    row[1] = (int32_t)(cell / (uint32_t)(SHAPE[2] * SHAPE[1]) % (uint32_t)SHAPE[0]);
    row[0] = (int32_t)(cell / (uint32_t)(SHAPE[2] * SHAPE[1] * SHAPE[0]));
  }
  free(used);
  for (size_t i = 0; i < c->n * C_IN; i++) c->feats[i] = harness_unit(&r);
  random_weights(&c->l[0], 27, C_IN, 8, &r);
  random_weights(&c->l[1], 27, 8, 8, &r);
  random_weights(&c->l[2], 27, 8, 6, &r);
  random_weights(&c->l[3], 27, 6, 6, &r);
  random_weights(&c->l[4], 27, 12, 4, &r);
}

static void case_free(net_case *c) {
  free(c->coords);
  free(c->feats);
  for (int i = 0; i < 5; i++) {
    free(c->l[i].w);
    free(c->l[i].b);
  }
}

static clsp_model_conv conv_desc(clsp_conv_kind kind, int stride, const layer_w *l,
                                 const char *key, clsp_activation act) {
  clsp_model_conv d;
  memset(&d, 0, sizeof d);
  d.kind = kind;
  for (int a = 0; a < 3; a++) {
    d.geometry.kernel[a] = 3;
    d.geometry.stride[a] = stride;
    d.geometry.padding[a] = 1;
    d.geometry.dilation[a] = 1;
  }
  d.c_in = l->cin;
  d.c_out = l->cout;
  d.rulebook = key;
  d.activation = act;
  d.alpha = 0.1f;
  return d;
}

#define OK(call)                                                                         \
  do {                                                                                   \
    clsp_status s_ = (call);                                                             \
    if (s_ != CLSP_SUCCESS)                                                              \
      fail_msg("%s: %s: %s", #call, clsp_status_string(s_),                              \
               clsp_context_last_error(harness_ctx()));                                  \
  } while (0)

static clsp_model *build_flags(const net_case *c, uint32_t flags) {
  clsp_model_builder *b = NULL;
  OK(clsp_model_builder_create(harness_ctx(), "voxels", 3, SHAPE, C_IN, &b));
  clsp_model_options o = {flags};
  OK(clsp_model_builder_options(b, &o));
  const layer_w *l = c->l;
  clsp_model_conv d =
    conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[0], "a", CLSP_ACTIVATION_RELU);
  OK(clsp_model_builder_conv(b, "c0", "voxels", "x0", &d, CLSP_LAYOUT_NATIVE, l[0].w,
                             l[0].b));
  d = conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[1], "a", CLSP_ACTIVATION_NONE);
  OK(
    clsp_model_builder_conv(b, "c1", "x0", "x1", &d, CLSP_LAYOUT_NATIVE, l[1].w, l[1].b));
  OK(clsp_model_builder_add(b, "add0", "x1", "x0", "x2"));
  OK(clsp_model_builder_activation(b, "relu0", "x2", "x3", CLSP_ACTIVATION_RELU, 0));
  d = conv_desc(CLSP_CONV_REGULAR, 2, &l[2], "down", CLSP_ACTIVATION_LEAKY_RELU);
  OK(
    clsp_model_builder_conv(b, "c2", "x3", "x4", &d, CLSP_LAYOUT_NATIVE, l[2].w, l[2].b));
  d = conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[3], NULL, CLSP_ACTIVATION_SIGMOID);
  OK(
    clsp_model_builder_conv(b, "c3", "x4", "x5", &d, CLSP_LAYOUT_NATIVE, l[3].w, l[3].b));
  OK(clsp_model_builder_concat(b, "cat", "x4", "x5", "x6"));
  d = conv_desc(CLSP_CONV_INVERSE, 2, &l[4], "down", CLSP_ACTIVATION_RELU);
  OK(
    clsp_model_builder_conv(b, "up", "x6", "x7", &d, CLSP_LAYOUT_NATIVE, l[4].w, l[4].b));
  OK(clsp_model_builder_scatter_dense(b, "dense", "x7", "d0", CLSP_DENSE_AXES_IN_ORDER));
  const int perm[5] = {0, 1, 2, 4, 3};
  OK(clsp_model_builder_transpose(b, "swap", "d0", "d1", 5, perm));
  const int64_t dims[4] = {-1, 4 * SHAPE[0], SHAPE[2], SHAPE[1]};
  OK(clsp_model_builder_reshape(b, "bev", "d1", "out", 4, dims));
  const char *outs[2] = {"out", "x6"};
  clsp_model *m = NULL;
  OK(clsp_model_builder_finish(b, outs, 2, &m));
  return m;
}

static clsp_model *build(const net_case *c) { return build_flags(c, 0); }

/* The case's voxels as a tensor, unique by construction and trusted: the
 * device duplicate check (clsp_tensor_create without the flag) draws
 * Oclgrind uninitialized-value reports in the library's hash kernels, so
 * suites run on the simulator avoid it (test_ops.c does the same);
 * clsp_model_forward_host, which checks, runs in the bundle tests. */
static void forward_case(clsp_model *m, const net_case *c, const char *keep,
                         clsp_model_stats *stats) {
  clsp_tensor_desc d = {3,    {SHAPE[0], SHAPE[1], SHAPE[2]}, BATCH, c->n,
                        C_IN, CLSP_TENSOR_TRUSTED_UNIQUE};
  clsp_tensor *t = NULL;
  OK(clsp_tensor_create(harness_ctx(), &d, c->coords, c->feats, &t));
  const char *k[1] = {keep};
  OK(clsp_model_forward(m, t, k, keep ? 1 : 0, stats));
  clsp_tensor_destroy(t);
}

/* conv on the CPU in float64, activation applied, rounded to float. */
static float *ref_layer(int kind, const int32_t *in_shape, size_t n_in,
                        const int32_t *in_c, const float *x, size_t n_out,
                        const int32_t *out_c, const layer_w *l, int stride,
                        clsp_activation act) {
  ref_geom g = {3, {3, 3, 3}, {stride, stride, stride}, {1, 1, 1}, {1, 1, 1}};
  double *y = malloc(n_out * l->cout * sizeof *y + 8);
  float *f = malloc(n_out * l->cout * sizeof *f + 4);
  assert_true(y && f);
  assert_int_equal(ref_conv_dense(kind, &g, in_shape, BATCH, n_in, in_c, x, l->cin, n_out,
                                  out_c, l->cout, l->w, l->b, y),
                   0);
  for (size_t i = 0; i < n_out * l->cout; i++) {
    double v = y[i];
    if (act == CLSP_ACTIVATION_RELU) v = v > 0 ? v : 0;
    if (act == CLSP_ACTIVATION_LEAKY_RELU) v = v < 0 ? 0.1 * v : v;
    if (act == CLSP_ACTIVATION_SIGMOID) v = 1.0 / (1.0 + exp(-v));
    f[i] = (float)v;
  }
  free(y);
  return f;
}

typedef struct net_ref {
  float *bev;      /* [B, 4*D, W, H] */
  float *x6;       /* n1 x 12, rows of rb.out_coords */
  ref_rulebook rb; /* the strided conv's output sites */
} net_ref;

static void reference(const net_case *c, net_ref *r) {
  size_t n = c->n;
  const int32_t *s0 = c->coords;
  float *x0 =
    ref_layer(REF_SUBM, SHAPE, n, s0, c->feats, n, s0, &c->l[0], 1, CLSP_ACTIVATION_RELU);
  float *x1 =
    ref_layer(REF_SUBM, SHAPE, n, s0, x0, n, s0, &c->l[1], 1, CLSP_ACTIVATION_NONE);
  for (size_t i = 0; i < n * 8; i++) x1[i] = fmaxf(x1[i] + x0[i], 0.0f);
  ref_geom g = {3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  assert_int_equal(ref_rulebook_build(REF_REGULAR, &g, SHAPE, BATCH, n, s0, &r->rb), 0);
  size_t n1 = r->rb.n_out;
  const int32_t *s1 = r->rb.out_coords, *sh1 = r->rb.out_shape;
  float *x4 = ref_layer(REF_REGULAR, SHAPE, n, s0, x1, n1, s1, &c->l[2], 2,
                        CLSP_ACTIVATION_LEAKY_RELU);
  float *x5 =
    ref_layer(REF_SUBM, sh1, n1, s1, x4, n1, s1, &c->l[3], 1, CLSP_ACTIVATION_SIGMOID);
  r->x6 = malloc(n1 * 12 * sizeof(float) + 4);
  assert_non_null(r->x6);
  for (size_t i = 0; i < n1; i++) {
    memcpy(r->x6 + 12 * i, x4 + 6 * i, 6 * sizeof(float));
    memcpy(r->x6 + 12 * i + 6, x5 + 6 * i, 6 * sizeof(float));
  }
  float *x7 =
    ref_layer(REF_INVERSE, sh1, n1, s1, r->x6, n, s0, &c->l[4], 2, CLSP_ACTIVATION_RELU);
  float *dense = model_densify(s0, x7, n, 4, SHAPE, BATCH); /* [B, 4*D, H, W] */
  size_t D4 = 4 * (size_t)SHAPE[0], H = (size_t)SHAPE[1], W = (size_t)SHAPE[2];
  r->bev = malloc((size_t)BATCH * D4 * H * W * sizeof(float));
  assert_true(dense && r->bev);
  for (size_t b = 0; b < BATCH; b++) /* swap the last two axes */
    for (size_t k = 0; k < D4; k++)
      for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
          r->bev[((b * D4 + k) * W + x) * H + y] = dense[((b * D4 + k) * H + y) * W + x];
  free(dense);
  free(x0);
  free(x1);
  free(x4);
  free(x5);
  free(x7);
}

static void ref_free(net_ref *r) {
  free(r->bev);
  free(r->x6);
  ref_rulebook_free(&r->rb);
}

/* The sparse output x6, matched to the reference rows by coordinates. */
static double x6_error(clsp_model *m, const net_ref *r) {
  clsp_model_value_info info;
  assert_int_equal(clsp_model_result(m, "x6", &info), CLSP_SUCCESS);
  assert_false(info.dense);
  assert_int_equal(info.n_sites, r->rb.n_out);
  assert_int_equal(info.channels, 12);
  size_t n = info.n_sites;
  int32_t *c = malloc(n * 16 + 16);
  float *f = malloc(n * 12 * sizeof *f + 4), *ordered = malloc(n * 12 * sizeof *f + 4);
  assert_true(c && f && ordered);
  assert_int_equal(clsp_model_result_download(m, "x6", f, c), CLSP_SUCCESS);
  for (size_t i = 0; i < n; i++) { /* n is small: a linear search is fine */
    size_t j = 0;
    while (j < n && memcmp(r->rb.out_coords + 4 * j, c + 4 * i, 16) != 0) j++;
    assert_true(j < n);
    memcpy(ordered + 12 * j, f + 12 * i, 12 * sizeof *f);
  }
  double err = model_rel_l2(ordered, r->x6, n * 12);
  free(c);
  free(f);
  free(ordered);
  return err;
}

static float *bev_of(clsp_model *m, size_t *count) {
  clsp_model_value_info info;
  assert_int_equal(clsp_model_result(m, NULL, &info), CLSP_SUCCESS);
  assert_int_equal(info.n_dims, 4);
  assert_int_equal(info.dims[0], BATCH);
  assert_int_equal(info.dims[1], 4 * SHAPE[0]);
  assert_int_equal(info.dims[2], SHAPE[2]);
  assert_int_equal(info.dims[3], SHAPE[1]);
  *count = (size_t)BATCH * 4 * SHAPE[0] * SHAPE[1] * SHAPE[2];
  float *v = malloc(*count * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < *count; i++) v[i] = NAN; /* poison */
  assert_int_equal(clsp_model_result_download(m, NULL, v, NULL), CLSP_SUCCESS);
  return v;
}

void test_builder_network(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1101;
  net_case c;
  net_ref r;
  case_make(&c, seed);
  reference(&c, &r);
  clsp_model *m = build(&c);
  forward_case(m, &c, "relu0", NULL);
  size_t count;
  float *bev = bev_of(m, &count);
  double err = model_rel_l2(bev, r.bev, count), err6 = x6_error(m, &r);
  print_message(
    "  builder network: %zu sites, %zu strided; rel. L2 bev %.3g, concat %.3g "
    "(seed %llu)\n",
    c.n, r.rb.n_out, err, err6, (unsigned long long)seed);
  HARNESS_CHECK(err <= NET_TOL, seed);
  HARNESS_CHECK(err6 <= NET_TOL, seed);
  clsp_model_value_info info;
  assert_int_equal(clsp_model_result(m, "relu0", &info), CLSP_SUCCESS);
  assert_int_equal(info.n_sites, c.n);
  assert_int_equal(info.channels, 8);
  /* Not kept: freed after its last reader. */
  assert_int_equal(clsp_model_result(m, "x1", &info), CLSP_ERROR_INVALID_ARGUMENT);
  free(bev);
  clsp_model_destroy(m);
  ref_free(&r);
  case_free(&c);
}

/* CLSP_MODEL_FLOAT16_STORAGE: every op of the network on float16
 * tensors and weights (float32 arithmetic) against the float64 reference,
 * within HALF_TOL; the held sparse results come back as float32. */
#define HALF_TOL 5e-3

static void check_float16(const net_case *c, const net_ref *r, const float *bev32,
                          uint64_t seed);

/* In both shapes of the fused kernels (float16 convs always run fused):
 * the device's default, then the other (clsp_tuning_params.fused_groups). */
void test_builder_float16(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1104;
  net_case c;
  net_ref r;
  case_make(&c, seed);
  reference(&c, &r);
  clsp_model *m32 = build(&c);
  forward_case(m32, &c, NULL, NULL);
  size_t count;
  float *bev32 = bev_of(m32, &count);
  clsp_model_destroy(m32);
  clsp_tuning_params saved, p;
  OK(clsp_context_tuning(harness_ctx(), &saved));
  for (int other = 0; other < 2; other++) {
    p = saved;
    if (other) p.fused_groups = !saved.fused_groups;
    OK(clsp_context_set_tuning(harness_ctx(), &p));
    print_message("  fused kernels in work-%s tiles\n",
                  p.fused_groups ? "group" : "item");
    check_float16(&c, &r, bev32, seed);
  }
  OK(clsp_context_set_tuning(harness_ctx(), &saved));
  free(bev32);
  ref_free(&r);
  case_free(&c);
}

static void check_float16(const net_case *c, const net_ref *r, const float *bev32,
                          uint64_t seed) {
  size_t count;
  clsp_model *m = build_flags(c, CLSP_MODEL_FLOAT16_STORAGE);
  forward_case(m, c, "relu0", NULL);
  float *bev = bev_of(m, &count);
  double err = model_rel_l2(bev, r->bev, count), err6 = x6_error(m, r);
  double vs32 = model_rel_l2(bev, bev32, count);
  print_message(
    "  builder network, float16 storage: rel. L2 bev %.3g, concat %.3g, bev "
    "vs float32 storage %.3g (tolerance %g, seed %llu)\n",
    err, err6, vs32, HALF_TOL, (unsigned long long)seed);
  HARNESS_CHECK(err <= HALF_TOL && err6 <= HALF_TOL, seed);
  HARNESS_CHECK(vs32 > 1e-5, seed); /* float16 rounding happened */
  clsp_model_value_info info;
  OK(clsp_model_result(m, "relu0", &info));
  float *held = malloc(info.n_sites * info.channels * sizeof *held + 4);
  assert_non_null(held);
  OK(clsp_model_result_download(m, "relu0", held, NULL));
  for (size_t i = 0; i < info.n_sites * info.channels; i++)
    HARNESS_CHECK(isfinite(held[i]) && held[i] >= 0.0f, seed);
  free(held);
  free(bev);
  clsp_model_destroy(m);
}

/* The residual Add and the ReLU after it run in conv c1's epilogue
 * unless an intermediate is held: the same bits either way, and the node
 * stats say which ran where. */
static const char *epilogue_of(clsp_model *m, size_t node) {
  clsp_model_layer_stats ls;
  OK(clsp_model_node_stats(m, node, &ls));
  return ls.epilogue_of;
}

void test_builder_epilogue(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1103;
  net_case c;
  case_make(&c, seed);
  clsp_model *m = build(&c);
  /* nodes: c0 c1 add0 relu0 ...; keep: what it holds; fused: add0, relu0 */
  static const struct {
    const char *keep;
    int add_fused, relu_fused;
  } runs[3] = {{NULL, 1, 1}, {"x2", 1, 0}, {"x1", 0, 0}};
  float *first = NULL;
  for (int i = 0; i < 3; i++) {
    clsp_model_stats st;
    forward_case(m, &c, runs[i].keep, &st);
    const char *a = epilogue_of(m, 2), *r = epilogue_of(m, 3);
    if ((a != NULL) != runs[i].add_fused || (r != NULL) != runs[i].relu_fused ||
        (a && strcmp(a, "c1")) || (r && strcmp(r, "c1")) || epilogue_of(m, 1))
      fail_msg("keep %s: add0 in %s, relu0 in %s (seed %llu)",
               runs[i].keep ? runs[i].keep : "nothing", a ? a : "its own pass",
               r ? r : "its own pass", (unsigned long long)seed);
    size_t count;
    float *bev = bev_of(m, &count);
    if (!first)
      first = bev;
    else {
      if (memcmp(bev, first, count * sizeof *bev))
        fail_msg("keep %s: output differs from the fused run's bits (seed %llu)",
                 runs[i].keep, (unsigned long long)seed);
      free(bev);
    }
  }
  free(first);
  clsp_model_destroy(m);
  case_free(&c);
}

/* Frame after frame: the same device memory after every forward, no
 * program built after the first, the same result. */
void test_builder_frames(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1102;
  net_case c;
  case_make(&c, seed);
  clsp_model *m = build(&c);
  clsp_context *ctx = harness_ctx();
  uint64_t cur[4], peak;
  clsp_cache_stats cs[4];
  float *first = NULL;
  for (int f = 0; f < 4; f++) {
    clsp_model_stats st;
    forward_case(m, &c, NULL, f == 3 ? &st : NULL);
    OK(clsp_context_memory(ctx, &cur[f], &peak));
    OK(clsp_context_cache_stats(ctx, &cs[f]));
    size_t count;
    float *bev = bev_of(m, &count);
    if (!first)
      first = bev;
    else {
      HARNESS_CHECK(model_rel_l2(bev, first, count) <= 1e-6, seed);
      free(bev);
    }
    if (f == 3) {
      HARNESS_CHECK(st.peak_device_bytes >= st.held_device_bytes, seed);
      HARNESS_CHECK(st.rulebooks_built == 4, seed); /* a (shared), down, c3, inverse */
      clsp_model_layer_stats ls;
      OK(clsp_model_node_stats(m, 0, &ls));
      HARNESS_CHECK(!strcmp(ls.name, "c0") && ls.out_sites == c.n && ls.pairs > 0, seed);
    }
  }
  for (int f = 1; f < 4; f++) HARNESS_CHECK(cur[f] == cur[0], seed);
  for (int f = 2; f < 4; f++)
    HARNESS_CHECK(cs[f].misses == cs[1].misses && cs[f].hits == cs[1].hits, seed);
  OK(clsp_model_release_results(m));
  uint64_t after;
  OK(clsp_context_memory(ctx, &after, &peak));
  HARNESS_CHECK(after < cur[0], seed);
  free(first);
  clsp_model_destroy(m);
  case_free(&c);
}

static void expect_error(clsp_status got, clsp_status want, const char *mention) {
  const char *msg = clsp_context_last_error(harness_ctx());
  if (got != want)
    fail_msg("status %d (%s), expected %d; last error: %s", (int)got,
             clsp_status_string(got), (int)want, msg);
  if (!strstr(msg, mention))
    fail_msg("last error '%s' does not mention '%s'", msg, mention);
}

/* Builder calls that must fail, naming the node; the builder stays usable. */
void test_builder_errors(void **state) {
  (void)state;
  net_case c;
  case_make(&c, harness_seed() + 1103);
  const layer_w *l = c.l;
  clsp_model_builder *b = NULL;
  OK(clsp_model_builder_create(harness_ctx(), "voxels", 3, SHAPE, C_IN, &b));
  clsp_model_conv d =
    conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[1], "a", CLSP_ACTIVATION_RELU);
  expect_error(clsp_model_builder_conv(b, "wrongc", "voxels", "y", &d, CLSP_LAYOUT_NATIVE,
                                       l[1].w, l[1].b),
               CLSP_ERROR_INVALID_ARGUMENT, "wrongc");
  d = conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[0], "a", CLSP_ACTIVATION_RELU);
  expect_error(clsp_model_builder_conv(b, "undef", "nothing", "y", &d, CLSP_LAYOUT_NATIVE,
                                       l[0].w, l[0].b),
               CLSP_ERROR_INVALID_ARGUMENT, "nothing");
  OK(clsp_model_builder_conv(b, "c0", "voxels", "x0", &d, CLSP_LAYOUT_NATIVE, l[0].w,
                             l[0].b));
  expect_error(clsp_model_builder_conv(b, "again", "voxels", "x0", &d, CLSP_LAYOUT_NATIVE,
                                       l[0].w, l[0].b),
               CLSP_ERROR_INVALID_ARGUMENT, "already defined");
  d = conv_desc(CLSP_CONV_REGULAR, 2, &l[2], "down", CLSP_ACTIVATION_NONE);
  OK(
    clsp_model_builder_conv(b, "c2", "x0", "x4", &d, CLSP_LAYOUT_NATIVE, l[2].w, l[2].b));
  expect_error(clsp_model_builder_add(b, "mixed", "x0", "x4", "bad"),
               CLSP_ERROR_INVALID_ARGUMENT, "different site sets");
  d = conv_desc(CLSP_CONV_SUBMANIFOLD, 1, &l[3], "down", CLSP_ACTIVATION_NONE);
  expect_error(clsp_model_builder_conv(b, "steal", "x4", "y", &d, CLSP_LAYOUT_NATIVE,
                                       l[3].w, l[3].b),
               CLSP_ERROR_INVALID_ARGUMENT, "rulebook");
  const int64_t dims[2] = {1, 5};
  expect_error(clsp_model_builder_reshape(b, "sparse", "x4", "y", 2, dims),
               CLSP_ERROR_INVALID_ARGUMENT, "dense");
  const char *outs[1] = {"nope"};
  clsp_model *m = NULL;
  expect_error(clsp_model_builder_finish(b, outs, 1, &m), CLSP_ERROR_INVALID_ARGUMENT,
               "nope");
  assert_null(m);
  case_free(&c);
}
