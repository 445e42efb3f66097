/* SPDX-License-Identifier: Apache-2.0 */
/* Layer-graph runner and the benchmark networks (see net.h). */
#include "net.h"

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
 * their scale through ReLU layers; bias as a folded batch norm's shift. */
static int upload_weights(net *n, clsp_context *ctx, net_layer *l, char *err,
                          size_t errlen) {
  size_t count = (size_t)l->kvol * l->c_in * l->c_out;
  float *w = malloc(count * sizeof *w), *b = malloc((size_t)l->c_out * sizeof *b);
  int rc = !w || !b;
  if (!rc) {
    float bound = sqrtf(6.0f / (float)(l->kvol * l->c_in));
    for (size_t i = 0; i < count; i++) w[i] = bound * unit(&n->rng);
    for (int i = 0; i < l->c_out; i++) b[i] = 0.05f * unit(&n->rng);
    clsp_status st = clsp_weights_create(ctx, (size_t)l->kvol, (size_t)l->c_in,
                                         (size_t)l->c_out, w, b, &l->w);
    if (st != CLSP_SUCCESS) {
      snprintf(err, errlen, "layer %s: weights: %s (%s)", l->name, clsp_status_string(st),
               clsp_context_last_error(ctx));
      rc = 1;
    }
  } else {
    snprintf(err, errlen, "layer %s: out of host memory", l->name);
  }
  free(w);
  free(b);
  return rc;
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

static net_layer *add_layer(builder *b, const char *name, net_kind kind, int in, int in2) {
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
  if (upload_weights(b->n, b->ctx, l, b->err, b->errlen)) b->failed = 1;
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

/* Marks, per slot, the last layer reading it, so the runner frees
 * intermediate tensors as early as possible. */
static int finish(builder *b, int output) {
  net *n = b->n;
  n->output = output;
  for (int s = 0; s < NET_MAX_SLOTS; s++) n->last_use[s] = -1;
  for (int i = 0; i < n->n_layers; i++) {
    n->last_use[n->layers[i].in] = i;
    if (n->layers[i].in2 >= 0) n->last_use[n->layers[i].in2] = i;
  }
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
  net_kind nk = !strcmp(kind, "subm") ? NET_SUBM
                : !strcmp(kind, "conv") ? NET_CONV
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
    clsp_weights_destroy(n->layers[i].w);
    n->layers[i].w = NULL;
  }
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

/* ---- running ----------------------------------------------------------- */

typedef struct rb_entry {
  char key[32];
  clsp_rulebook *rb;
} rb_entry;

typedef struct run_state {
  clsp_context *ctx;
  clsp_tensor *slot[NET_MAX_SLOTS];
  rb_entry rbs[NET_MAX_RULEBOOKS];
  int n_rbs;
} run_state;

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static clsp_rulebook *find_rb(run_state *r, const char *key) {
  for (int i = 0; i < r->n_rbs; i++)
    if (!strcmp(r->rbs[i].key, key)) return r->rbs[i].rb;
  return NULL;
}

static clsp_status keep_rb(run_state *r, const char *key, clsp_rulebook *rb) {
  if (r->n_rbs >= NET_MAX_RULEBOOKS) {
    clsp_rulebook_destroy(rb);
    return CLSP_ERROR_TOO_LARGE;
  }
  snprintf(r->rbs[r->n_rbs].key, sizeof r->rbs[0].key, "%s", key);
  r->rbs[r->n_rbs++].rb = rb;
  return CLSP_SUCCESS;
}

/* The layer's rulebook: reused by key, else built now (its build time is
 * charged to this layer). */
static clsp_status layer_rulebook(run_state *r, const net_layer *l, const clsp_tensor *in,
                                  net_layer_stats *s, clsp_rulebook **out) {
  char key[32];
  snprintf(key, sizeof key, "%s%s", l->kind == NET_INVERSE ? "inv:" : "", l->rb_key);
  *out = find_rb(r, key);
  if (*out) return CLSP_SUCCESS;
  clsp_status st;
  clsp_rulebook *rb = NULL;
  if (l->kind == NET_INVERSE) {
    const clsp_rulebook *reg = find_rb(r, l->rb_key);
    if (!reg) return CLSP_ERROR_INVALID_ARGUMENT; /* network description bug */
    st = clsp_rulebook_inverse(r->ctx, reg, &rb);
  } else {
    clsp_conv_kind kind = l->kind == NET_SUBM ? CLSP_CONV_SUBMANIFOLD
                          : l->kind == NET_CONV ? CLSP_CONV_REGULAR
                                                : CLSP_CONV_TRANSPOSED;
    st = clsp_rulebook_build(r->ctx, kind, &l->geo, in, &rb);
  }
  if (st != CLSP_SUCCESS) return st;
  clsp_rulebook_info info;
  if (clsp_rulebook_describe(rb, &info) == CLSP_SUCCESS)
    s->stage_ms[CLSP_STAGE_RULEBOOK] += info.build_ms;
  *out = rb;
  return keep_rb(r, key, rb);
}

static clsp_status run_conv(run_state *r, const net_layer *l, net_layer_stats *s) {
  const clsp_tensor *in = r->slot[l->in];
  clsp_rulebook *rb = NULL;
  clsp_status st = layer_rulebook(r, l, in, s, &rb);
  clsp_conv_stats cs;
  memset(&cs, 0, sizeof cs);
  clsp_tensor *out = NULL;
  if (st == CLSP_SUCCESS) st = clsp_conv_forward(r->ctx, rb, in, l->w, 0, &out, &cs);
  double relu_ms = 0.0;
  if (st == CLSP_SUCCESS && l->relu) st = clsp_relu(r->ctx, out, &relu_ms);
  if (st != CLSP_SUCCESS) {
    clsp_tensor_destroy(out);
    return st;
  }
  clsp_rulebook_info info;
  clsp_rulebook_describe(rb, &info);
  s->in_sites = info.n_in;
  s->out_sites = info.n_out;
  s->pairs = info.n_pairs;
  s->gflop = 2.0 * (double)info.n_pairs * l->c_in * l->c_out / 1e9;
  s->fused = cs.fused;
  for (int i = 0; i < CLSP_STAGE_COUNT; i++)
    if (i != CLSP_STAGE_RULEBOOK) s->stage_ms[i] += cs.stage_ms[i];
  s->stage_ms[CLSP_STAGE_RULEBOOK] += cs.stage_ms[CLSP_STAGE_RULEBOOK];
  s->stage_ms[CLSP_STAGE_OTHER] += relu_ms;
  r->slot[l->out] = out;
  return CLSP_SUCCESS;
}

static clsp_status run_join(run_state *r, const net_layer *l, net_layer_stats *s) {
  clsp_tensor_desc d;
  clsp_tensor_describe(r->slot[l->in], &d);
  s->in_sites = s->out_sites = d.n_sites;
  double ms = 0.0;
  clsp_status st;
  if (l->kind == NET_ADD) {
    st = clsp_add(r->ctx, r->slot[l->in], r->slot[l->in2], l->relu, &ms);
  } else {
    clsp_tensor *out = NULL;
    st = clsp_concat(r->ctx, r->slot[l->in], r->slot[l->in2], &out, &ms);
    r->slot[l->out] = out;
  }
  s->stage_ms[CLSP_STAGE_OTHER] += ms;
  return st;
}

/* Frees the tensors whose last reader was layer i (never the input nor
 * the output; an in-place ADD's slot is read again later, so it stays). */
static void release_after(run_state *r, const net *n, int i) {
  for (int s = 0; s < n->n_slots; s++)
    if (s != n->input && s != n->output && n->last_use[s] == i && r->slot[s]) {
      clsp_tensor_destroy(r->slot[s]);
      r->slot[s] = NULL;
    }
}

clsp_status net_forward(net *n, clsp_context *ctx, const clsp_tensor *input,
                        net_layer_stats *stats, clsp_tensor **output) {
  run_state *r = calloc(1, sizeof *r);
  if (!r) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  r->ctx = ctx;
  r->slot[n->input] = (clsp_tensor *)input; /* borrowed, never freed here */
  clsp_status st = CLSP_SUCCESS;
  for (int i = 0; i < n->n_layers && st == CLSP_SUCCESS; i++) {
    net_layer *l = &n->layers[i];
    net_layer_stats *s = &stats[i];
    memset(s, 0, sizeof *s);
    s->host_start_ms = wall_ms();
    st = (l->kind == NET_ADD || l->kind == NET_CONCAT) ? run_join(r, l, s) : run_conv(r, l, s);
    for (int k = 0; k < CLSP_STAGE_COUNT; k++) s->ms += s->stage_ms[k];
    s->host_end_ms = wall_ms();
    if (st == CLSP_SUCCESS) release_after(r, n, i);
  }
  if (output) *output = st == CLSP_SUCCESS ? r->slot[n->output] : NULL;
  for (int s = 0; s < n->n_slots; s++)
    if (s != n->input && (s != n->output || st != CLSP_SUCCESS || !output))
      clsp_tensor_destroy(r->slot[s]);
  /* Inverse rulebooks share their regular's pairs: destroy them first. */
  for (int i = r->n_rbs - 1; i >= 0; i--)
    if (!strncmp(r->rbs[i].key, "inv:", 4)) clsp_rulebook_destroy(r->rbs[i].rb);
  for (int i = r->n_rbs - 1; i >= 0; i--)
    if (strncmp(r->rbs[i].key, "inv:", 4)) clsp_rulebook_destroy(r->rbs[i].rb);
  free(r);
  return st;
}
