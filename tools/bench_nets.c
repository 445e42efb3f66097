/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmark networks of clsp bench, described layer by layer and built
 * as a clsp_model with the public builder (see bench_nets.h). */
#include "bench_nets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- building ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float unit(uint64_t *s) {
  return (float)((double)(splitmix64(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static clsp_conv_geometry geometry(const int k[3], const int s[3], const int p[3]) {
  clsp_conv_geometry g;
  memset(&g, 0, sizeof g);
  for (int a = 0; a < CLSP_MAX_DIMS; a++) {
    g.kernel[a] = a < 3 ? k[a] : 1;
    g.stride[a] = a < 3 ? s[a] : 1;
    g.padding[a] = a < 3 ? p[a] : 0;
    g.dilation[a] = 1;
  }
  return g;
}

/* Weights: He uniform (bound sqrt(6 / fan_in)) so that activations keep
 * their scale through ReLU layers; bias as a folded batch norm's shift.
 * Kept on the host until the model is built. */
static int make_weights(net *n, net_layer *l, char *err, size_t errlen) {
  size_t count = (size_t)l->kvol * l->c_in * l->c_out;
  l->weights = malloc(count * sizeof *l->weights);
  l->bias = malloc((size_t)l->c_out * sizeof *l->bias);
  if (!l->weights || !l->bias) {
    snprintf(err, errlen, "layer %s: out of host memory", l->name);
    return 1;
  }
  float bound = sqrtf(6.0f / (float)(l->kvol * l->c_in));
  for (size_t i = 0; i < count; i++) l->weights[i] = bound * unit(&n->rng);
  for (int i = 0; i < l->c_out; i++) l->bias[i] = 0.05f * unit(&n->rng);
  return 0;
}

typedef struct builder {
  net *n;
  clsp_context *ctx;
  char *err;
  size_t errlen;
  int failed;
} builder;

static int new_slot(builder *b) {
  if (b->n->n_slots >= NET_MAX_SLOTS) {
    snprintf(b->err, b->errlen, "network: more than %d tensors", NET_MAX_SLOTS);
    b->failed = 1;
    return 0;
  }
  return b->n->n_slots++;
}

static net_layer *add_layer(builder *b, const char *name, net_kind kind, int in,
                            int in2) {
  if (b->failed) return NULL;
  if (b->n->n_layers >= NET_MAX_LAYERS) {
    snprintf(b->err, b->errlen, "network: more than %d layers", NET_MAX_LAYERS);
    b->failed = 1;
    return NULL;
  }
  net_layer *l = &b->n->layers[b->n->n_layers++];
  memset(l, 0, sizeof *l);
  snprintf(l->name, sizeof l->name, "%s", name);
  l->kind = kind;
  l->in = in;
  l->in2 = in2;
  l->out = kind == NET_ADD ? in : new_slot(b);
  return l;
}

/* A convolution layer; returns its output slot. */
static int conv(builder *b, const char *name, net_kind kind, int in, const char *key,
                int cin, int cout, const int k[3], const int s[3], const int p[3],
                int relu) {
  net_layer *l = add_layer(b, name, kind, in, -1);
  if (!l) return 0;
  snprintf(l->rb_key, sizeof l->rb_key, "%s", key);
  l->geo = geometry(k, s, p);
  l->kvol = k[0] * k[1] * k[2];
  l->c_in = cin;
  l->c_out = cout;
  l->relu = relu;
  if (make_weights(b->n, l, b->err, b->errlen)) b->failed = 1;
  return l->out;
}

static const int K1[3] = {1, 1, 1}, K2[3] = {2, 2, 2}, K3[3] = {3, 3, 3};
static const int S1[3] = {1, 1, 1}, S2[3] = {2, 2, 2}, P0[3] = {0, 0, 0};
static const int P1[3] = {1, 1, 1};

static int subm(builder *b, const char *name, int in, const char *key, int cin, int cout,
                int relu) {
  return conv(b, name, NET_SUBM, in, key, cin, cout, K3, S1, P1, relu);
}

static void begin(builder *b, net *n, clsp_context *ctx, uint64_t seed, char *err,
                  size_t errlen) {
  memset(n, 0, sizeof *n);
  n->rng = seed;
  *b = (builder){n, ctx, err, errlen, 0};
  n->input = new_slot(b);
}

/* The network's output slot; frees the host weights after a failure. */
static int finish(builder *b, int output) {
  net *n = b->n;
  n->output = output;
  if (b->failed) net_free(n);
  return b->failed;
}

/* OpenPCDet VoxelBackBone8x; axes (z, y, x). */
int net_build_second(net *n, clsp_context *ctx, uint64_t seed, int cin, char *err,
                     size_t errlen) {
  builder b;
  begin(&b, n, ctx, seed, err, errlen);
  static const int P011[3] = {0, 1, 1}, K311[3] = {3, 1, 1}, S211[3] = {2, 1, 1};
  int x = subm(&b, "conv_input", n->input, "subm1", cin, 16, 1);
  x = subm(&b, "conv1", x, "subm1", 16, 16, 1);
  x = conv(&b, "conv2.spconv", NET_CONV, x, "spconv2", 16, 32, K3, S2, P1, 1);
  x = subm(&b, "conv2.subm.a", x, "subm2", 32, 32, 1);
  x = subm(&b, "conv2.subm.b", x, "subm2", 32, 32, 1);
  x = conv(&b, "conv3.spconv", NET_CONV, x, "spconv3", 32, 64, K3, S2, P1, 1);
  x = subm(&b, "conv3.subm.a", x, "subm3", 64, 64, 1);
  x = subm(&b, "conv3.subm.b", x, "subm3", 64, 64, 1);
  x = conv(&b, "conv4.spconv", NET_CONV, x, "spconv4", 64, 64, K3, S2, P011, 1);
  x = subm(&b, "conv4.subm.a", x, "subm4", 64, 64, 1);
  x = subm(&b, "conv4.subm.b", x, "subm4", 64, 64, 1);
  x = conv(&b, "conv_out", NET_CONV, x, "spconv_down2", 64, 128, K311, S211, P0, 1);
  return finish(&b, x);
}

/* TorchSparse ResidualBlock: SubM k3 -> ReLU -> SubM k3, plus identity or
 * a 1x1 projection, add, ReLU. `level` names the site set's rulebooks. */
static int residual(builder *b, const char *name, int x, const char *level, int cin,
                    int cout) {
  char nm[40], key1[24];
  snprintf(nm, sizeof nm, "%s.conv1", name);
  int y = subm(b, nm, x, level, cin, cout, 1);
  snprintf(nm, sizeof nm, "%s.conv2", name);
  y = subm(b, nm, y, level, cout, cout, 0);
  int skip = x;
  if (cin != cout) {
    snprintf(nm, sizeof nm, "%s.proj", name);
    snprintf(key1, sizeof key1, "%s.k1", level);
    skip = conv(b, nm, NET_SUBM, x, key1, cin, cout, K1, S1, P0, 0);
  }
  snprintf(nm, sizeof nm, "%s.add", name);
  net_layer *l = add_layer(b, nm, NET_ADD, y, skip);
  if (l) {
    l->c_in = l->c_out = cout;
    l->relu = 1;
  }
  return y;
}

/* TorchSparse MinkUNet (cr 1.0); axes (x, y, z). */
int net_build_minkunet(net *n, clsp_context *ctx, uint64_t seed, int cin, char *err,
                       size_t errlen) {
  static const int cs[9] = {32, 32, 64, 128, 256, 256, 128, 96, 96};
  builder b;
  begin(&b, n, ctx, seed, err, errlen);
  char nm[40], level[8], down[8];
  int x = subm(&b, "stem.0", n->input, "L0", cin, cs[0], 1);
  int enc[5];
  enc[0] = subm(&b, "stem.1", x, "L0", cs[0], cs[0], 1);
  for (int i = 1; i <= 4; i++) {
    int cprev = i == 1 ? cs[0] : cs[i - 1];
    snprintf(nm, sizeof nm, "stage%d.down", i);
    snprintf(level, sizeof level, "L%d", i);
    snprintf(down, sizeof down, "down%d", i);
    x = conv(&b, nm, NET_CONV, enc[i - 1], down, cprev, cprev, K2, S2, P0, 1);
    snprintf(nm, sizeof nm, "stage%d.res1", i);
    x = residual(&b, nm, x, level, cprev, cs[i]);
    snprintf(nm, sizeof nm, "stage%d.res2", i);
    enc[i] = residual(&b, nm, x, level, cs[i], cs[i]);
  }
  x = enc[4];
  int c = cs[4];
  for (int j = 1; j <= 4; j++) {
    int lvl = 4 - j; /* the up-conv goes back onto encoder level lvl */
    int cout = cs[4 + j], cskip = cs[lvl];
    snprintf(nm, sizeof nm, "up%d.deconv", j);
    snprintf(down, sizeof down, "down%d", lvl + 1);
    x = conv(&b, nm, NET_INVERSE, x, down, c, cout, K2, S2, P0, 1);
    snprintf(nm, sizeof nm, "up%d.cat", j);
    net_layer *cat = add_layer(&b, nm, NET_CONCAT, x, enc[lvl]);
    if (cat) {
      cat->c_in = cout;
      cat->c_out = cout + cskip;
      x = cat->out;
    }
    snprintf(level, sizeof level, "L%d", lvl);
    snprintf(nm, sizeof nm, "up%d.res1", j);
    x = residual(&b, nm, x, level, cout + cskip, cout);
    snprintf(nm, sizeof nm, "up%d.res2", j);
    x = residual(&b, nm, x, level, cout, cout);
    c = cout;
  }
  return finish(&b, x);
}

int net_build_layer(net *n, clsp_context *ctx, uint64_t seed, const char *spec, int *c_in,
                    char *err, size_t errlen) {
  char kind[16] = {0};
  int cin = 0, cout = 0, k = 0, s = 1, used = 0;
  int got = sscanf(spec, "%15[a-z]:%d:%d:%d%n", kind, &cin, &cout, &k, &used);
  if (got >= 4 && spec[used] == ':') sscanf(spec + used, ":%d%n", &s, &got);
  net_kind nk = !strcmp(kind, "subm")         ? NET_SUBM
                : !strcmp(kind, "conv")       ? NET_CONV
                : !strcmp(kind, "transposed") ? NET_TRANSPOSED
                                              : NET_ADD;
  if (nk == NET_ADD || cin <= 0 || cout <= 0 || k <= 0 || k > 7 || s <= 0 || s > 4 ||
      (nk == NET_SUBM && (k % 2 == 0 || s != 1))) {
    snprintf(err, errlen,
             "--layer '%s': expected subm:CIN:COUT:K (odd K), conv:CIN:COUT:K:S or "
             "transposed:CIN:COUT:K:S with K in 1..7, S in 1..4",
             spec);
    return 1;
  }
  builder b;
  begin(&b, n, ctx, seed, err, errlen);
  int kk[3] = {k, k, k}, ss[3] = {s, s, s}, pp[3] = {0, 0, 0};
  if (nk == NET_SUBM) pp[0] = pp[1] = pp[2] = k / 2;
  int x = conv(&b, spec, nk, n->input, "layer", cin, cout, kk, ss, pp, 0);
  *c_in = cin;
  return finish(&b, x);
}

void net_free(net *n) {
  for (int i = 0; i < n->n_layers; i++) {
    free(n->layers[i].weights);
    free(n->layers[i].bias);
    n->layers[i].weights = n->layers[i].bias = NULL;
  }
  clsp_model_destroy(n->model);
  n->model = NULL;
}

const char *net_kind_name(net_kind k) {
  switch (k) {
    case NET_SUBM: return "subm";
    case NET_CONV: return "conv";
    case NET_TRANSPOSED: return "transp";
    case NET_INVERSE: return "inverse";
    case NET_ADD: return "add";
    case NET_CONCAT: return "concat";
  }
  return "?";
}

/* ---- running: the layers as a clsp_model ------------------------------ */

/* Value names: the input is "input", a layer's output "<layer>". */
typedef struct value_names {
  char slot[NET_MAX_SLOTS][48];
} value_names;

static clsp_status add_conv(clsp_model_builder *b, const net_layer *l, value_names *v) {
  clsp_model_conv d;
  memset(&d, 0, sizeof d);
  d.kind = l->kind == NET_SUBM         ? CLSP_CONV_SUBMANIFOLD
           : l->kind == NET_CONV       ? CLSP_CONV_REGULAR
           : l->kind == NET_TRANSPOSED ? CLSP_CONV_TRANSPOSED
                                       : CLSP_CONV_INVERSE;
  d.geometry = l->geo;
  d.c_in = (size_t)l->c_in;
  d.c_out = (size_t)l->c_out;
  d.rulebook = l->rb_key;
  d.activation = l->relu ? CLSP_ACTIVATION_RELU : CLSP_ACTIVATION_NONE;
  clsp_status st = clsp_model_builder_conv(b, l->name, v->slot[l->in], l->name, &d,
                                           CLSP_LAYOUT_NATIVE, l->weights, l->bias);
  snprintf(v->slot[l->out], sizeof v->slot[0], "%s", l->name);
  return st;
}

/* A residual join: add (then ReLU, a second node), or concat. */
static clsp_status add_join(clsp_model_builder *b, net_layer *l, value_names *v) {
  char sum[56], relu[56];
  snprintf(sum, sizeof sum, "%s.sum", l->name);
  snprintf(relu, sizeof relu, "%s.relu", l->name);
  clsp_status st;
  if (l->kind == NET_CONCAT) {
    st = clsp_model_builder_concat(b, l->name, v->slot[l->in], v->slot[l->in2], l->name);
  } else {
    st = clsp_model_builder_add(b, l->name, v->slot[l->in], v->slot[l->in2],
                                l->relu ? sum : l->name);
    if (st == CLSP_SUCCESS && l->relu)
      st = clsp_model_builder_activation(b, relu, sum, l->name, CLSP_ACTIVATION_RELU, 0);
    l->n_nodes = l->relu ? 2 : 1;
  }
  snprintf(v->slot[l->out], sizeof v->slot[0], "%s", l->name);
  return st;
}

static clsp_status build_model(net *n, clsp_context *ctx, const clsp_tensor_desc *d) {
  clsp_model_destroy(n->model);
  n->model = NULL;
  value_names *v = calloc(1, sizeof *v);
  if (!v) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  snprintf(v->slot[n->input], sizeof v->slot[0], "input");
  clsp_model_builder *b = NULL;
  clsp_status st =
    clsp_model_builder_create(ctx, "input", d->ndim, d->shape, d->channels, &b);
  for (int i = 0, node = 0; st == CLSP_SUCCESS && i < n->n_layers; i++) {
    net_layer *l = &n->layers[i];
    l->first_node = node;
    l->n_nodes = 1;
    st = (l->kind == NET_ADD || l->kind == NET_CONCAT) ? add_join(b, l, v)
                                                       : add_conv(b, l, v);
    node += l->n_nodes;
  }
  const char *out[1] = {v->slot[n->output]};
  if (st == CLSP_SUCCESS)
    st = clsp_model_builder_finish(b, out, 1, &n->model);
  else
    clsp_model_builder_destroy(b);
  free(v);
  if (st == CLSP_SUCCESS) n->model_input = *d;
  return st;
}

static int same_input(const clsp_tensor_desc *a, const clsp_tensor_desc *b) {
  int same = a->ndim == b->ndim && a->channels == b->channels;
  for (int k = 0; same && k < a->ndim; k++) same = a->shape[k] == b->shape[k];
  return same;
}

/* The model's per-node figures summed into the layer's. */
static void layer_stats(const net *n, const net_layer *l, net_layer_stats *s) {
  memset(s, 0, sizeof *s);
  for (int k = 0; k < l->n_nodes; k++) {
    clsp_model_layer_stats ms;
    if (clsp_model_node_stats(n->model, (size_t)(l->first_node + k), &ms) != CLSP_SUCCESS)
      continue;
    if (k == 0) {
      s->in_sites = ms.in_sites;
      s->out_sites = ms.out_sites;
      s->pairs = ms.pairs;
      s->host_start_ms = ms.host_start_ms;
      s->fused = ms.fused;
      s->in_epilogue = ms.epilogue_of != NULL;
    }
    s->host_end_ms = ms.host_end_ms;
    for (int st = 0; st < CLSP_STAGE_COUNT; st++) s->stage_ms[st] += ms.stage_ms[st];
  }
  s->gflop = 2.0 * (double)s->pairs * l->c_in * l->c_out / 1e9;
  for (int st = 0; st < CLSP_STAGE_COUNT; st++) s->ms += s->stage_ms[st];
}

clsp_status net_forward(net *n, clsp_context *ctx, const clsp_tensor *input,
                        net_layer_stats *stats, clsp_tensor **output) {
  if (output) *output = NULL;
  clsp_tensor_desc d;
  clsp_status st = clsp_tensor_describe(input, &d);
  if (st == CLSP_SUCCESS && (!n->model || !same_input(&d, &n->model_input)))
    st = build_model(n, ctx, &d);
  clsp_model_stats ms;
  if (st == CLSP_SUCCESS) st = clsp_model_forward(n->model, input, NULL, 0, &ms);
  for (int i = 0; st == CLSP_SUCCESS && i < n->n_layers; i++)
    layer_stats(n, &n->layers[i], &stats[i]);
  const clsp_tensor *out = NULL;
  if (st == CLSP_SUCCESS && output)
    st = clsp_model_result_device(n->model, NULL, &out, NULL);
  if (st == CLSP_SUCCESS && output) st = clsp_tensor_copy(ctx, out, output);
  if (n->model) clsp_model_release_results(n->model);
  return st;
}
