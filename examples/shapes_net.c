/* SPDX-License-Identifier: Apache-2.0 */
/* The shapes training example (see shapes_net.h). */
#include "shapes_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRID 16
#define N_ITEMS 24 /* 8 per class */
#define N_CLASSES 3
#define C1 8
#define C2 16

typedef struct rng {
  uint64_t s;
} rng;

static uint32_t next_u32(rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static float uniform(rng *r, float a) {
  return a * ((float)next_u32(r) / 2147483648.0f - 1.0f);
}

static int pick(rng *r, int lo, int hi) {
  return lo + (int)(next_u32(r) % (uint32_t)(hi - lo + 1));
}

/* ---- data: voxelized primitives, one batch item each ---- */

typedef struct dataset {
  int32_t *coords; /* n x 4 (item, z, y, x) */
  size_t n, cap;
  int label[N_ITEMS];
} dataset;

static int add_site(dataset *d, int item, int z, int y, int x) {
  if (z < 0 || y < 0 || x < 0 || z >= GRID || y >= GRID || x >= GRID) return 1;
  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 4096;
    int32_t *p = realloc(d->coords, cap * 4 * sizeof *p);
    if (!p) return 0;
    d->coords = p;
    d->cap = cap;
  }
  int32_t *c = d->coords + 4 * d->n++;
  c[0] = item, c[1] = z, c[2] = y, c[3] = x;
  return 1;
}

/* Class 0: cube shell; 1: sphere shell; 2: a segment along a random axis. */
static int in_shape(int cls, int r, int dz, int dy, int dx) {
  int ax = abs(dx), ay = abs(dy), az = abs(dz), m = ax > ay ? ax : ay;
  m = m > az ? m : az;
  if (cls == 0) return m == r;
  int q = dx * dx + dy * dy + dz * dz;
  return cls == 1 && q >= (r - 1) * r && q <= r * (r + 1);
}

static int make_item(dataset *d, rng *g, int item, int cls) {
  int r = pick(g, 3, 6), cz = pick(g, r, GRID - 1 - r), cy = pick(g, r, GRID - 1 - r),
      cx = pick(g, r, GRID - 1 - r);
  if (cls == 2) {
    int axis = pick(g, 0, 2), len = pick(g, 6, 14), s = pick(g, 0, GRID - len);
    for (int k = 0; k < len; k++) {
      int p[3] = {cz, cy, cx};
      p[axis] = s + k;
      if (!add_site(d, item, p[0], p[1], p[2])) return 0;
    }
    return 1;
  }
  for (int dz = -r; dz <= r; dz++)
    for (int dy = -r; dy <= r; dy++)
      for (int dx = -r; dx <= r; dx++)
        if (in_shape(cls, r, dz, dy, dx) && !add_site(d, item, cz + dz, cy + dy, cx + dx))
          return 0;
  return 1;
}

/* ---- parameters ---- */

typedef struct params {
  float w1[27 * 1 * C1], b1[C1], w2[27 * C1 * C2], b2[C2];
  float fc[C2 * N_CLASSES], fb[N_CLASSES];
} params;

static void init_params(params *p, rng *g) {
  for (size_t i = 0; i < sizeof p->w1 / sizeof *p->w1; i++) p->w1[i] = uniform(g, 0.45f);
  for (size_t i = 0; i < sizeof p->w2 / sizeof *p->w2; i++) p->w2[i] = uniform(g, 0.15f);
  for (size_t i = 0; i < sizeof p->fc / sizeof *p->fc; i++) p->fc[i] = uniform(g, 0.5f);
  memset(p->b1, 0, sizeof p->b1);
  memset(p->b2, 0, sizeof p->b2);
  memset(p->fb, 0, sizeof p->fb);
}

static void sgd(float *w, const float *g, size_t n, float lr) {
  for (size_t i = 0; i < n; i++) w[i] -= lr * g[i];
}

/* ---- one step ---- */

typedef struct net {
  clsp_context *ctx;
  uint32_t flags;
  clsp_tensor *x;           /* the input, 1 channel of ones */
  clsp_rulebook *rb1, *rb2; /* SubM on the input, regular k3 s2 p1 */
  const dataset *data;
} net;

typedef struct acts {
  clsp_weights *w1, *w2;
  clsp_tensor *h1, *h2;
  float *h1v, *h2v; /* post-ReLU values, downloaded for the masks */
  size_t n1, n2;
} acts;

static void acts_free(acts *a) {
  clsp_weights_destroy(a->w1);
  clsp_weights_destroy(a->w2);
  clsp_tensor_destroy(a->h1);
  clsp_tensor_destroy(a->h2);
  free(a->h1v);
  free(a->h2v);
  memset(a, 0, sizeof *a);
}

static clsp_status download_feats(clsp_context *ctx, const clsp_tensor *t, size_t ch,
                                  float **out, size_t *n) {
  clsp_tensor_desc d;
  clsp_status st = clsp_tensor_describe(t, &d);
  if (st != CLSP_SUCCESS) return st;
  *n = d.n_sites;
  *out = malloc((d.n_sites * ch + 1) * sizeof **out);
  if (!*out) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  return clsp_tensor_download(ctx, t, NULL, *out);
}

static clsp_status forward(const net *nt, const params *p, acts *a, float *pooled) {
  clsp_context *ctx = nt->ctx;
  clsp_status st = clsp_weights_create(ctx, 27, 1, C1, p->w1, p->b1, &a->w1);
  if (st == CLSP_SUCCESS) st = clsp_weights_create(ctx, 27, C1, C2, p->w2, p->b2, &a->w2);
  if (st == CLSP_SUCCESS)
    st = clsp_conv_forward(ctx, nt->rb1, nt->x, a->w1, nt->flags, &a->h1, NULL);
  if (st == CLSP_SUCCESS) st = clsp_relu(ctx, a->h1, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp_conv_forward(ctx, nt->rb2, a->h1, a->w2, nt->flags, &a->h2, NULL);
  if (st == CLSP_SUCCESS) st = clsp_relu(ctx, a->h2, NULL);
  if (st == CLSP_SUCCESS)
    st = clsp_global_pool_forward(ctx, CLSP_POOL_AVG, a->h2, pooled);
  if (st == CLSP_SUCCESS) st = download_feats(ctx, a->h1, C1, &a->h1v, &a->n1);
  if (st == CLSP_SUCCESS) st = download_feats(ctx, a->h2, C2, &a->h2v, &a->n2);
  return st;
}

/* Dense layer and softmax cross-entropy on the host: the mean loss, and
 * the gradients of fc, fb and the pooled features. */
static float head(const params *p, const int *label, const float *pooled, params *g,
                  float *d_pooled) {
  double loss = 0;
  for (int i = 0; i < N_ITEMS; i++) {
    double z[N_CLASSES], mx = -1e30, sum = 0;
    for (int k = 0; k < N_CLASSES; k++) {
      z[k] = p->fb[k];
      for (int c = 0; c < C2; c++)
        z[k] += (double)pooled[i * C2 + c] * p->fc[c * N_CLASSES + k];
      mx = z[k] > mx ? z[k] : mx;
    }
    for (int k = 0; k < N_CLASSES; k++) sum += exp(z[k] - mx);
    loss += log(sum) - (z[label[i]] - mx);
    for (int c = 0; c < C2; c++) d_pooled[i * C2 + c] = 0;
    for (int k = 0; k < N_CLASSES; k++) {
      float dz = (float)((exp(z[k] - mx) / sum - (k == label[i])) / N_ITEMS);
      g->fb[k] += dz;
      for (int c = 0; c < C2; c++) {
        g->fc[c * N_CLASSES + k] += dz * pooled[i * C2 + c];
        d_pooled[i * C2 + c] += dz * p->fc[c * N_CLASSES + k];
      }
    }
  }
  return (float)(loss / N_ITEMS);
}

/* The ReLU's gradient: d * (post-ReLU value > 0), as a tensor on the
 * sites of `rb`'s output (where the activation lives). */
static clsp_status relu_grad(clsp_context *ctx, const clsp_rulebook *rb,
                             const clsp_tensor *d, const float *post, size_t n, size_t ch,
                             clsp_tensor **out) {
  float *v = malloc((n * ch + 1) * sizeof *v);
  if (!v) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  clsp_status st = clsp_tensor_download(ctx, d, NULL, v);
  for (size_t i = 0; i < n * ch; i++) v[i] = post[i] > 0 ? v[i] : 0.0f;
  if (st == CLSP_SUCCESS) st = clsp_tensor_create_on_output(ctx, rb, ch, v, out);
  free(v);
  return st;
}

static clsp_status backward(const net *nt, const acts *a, const float *d_pooled,
                            params *g) {
  clsp_context *ctx = nt->ctx;
  clsp_tensor *dh2 = NULL, *dz2 = NULL, *dh1 = NULL, *dz1 = NULL;
  clsp_status st = clsp_global_pool_backward(ctx, CLSP_POOL_AVG, a->h2, d_pooled, &dh2);
  if (st == CLSP_SUCCESS) st = relu_grad(ctx, nt->rb2, dh2, a->h2v, a->n2, C2, &dz2);
  if (st == CLSP_SUCCESS)
    st = clsp_conv_backward(ctx, nt->rb2, a->h1, a->w2, dz2, nt->flags, &dh1, g->w2,
                            g->b2, NULL);
  if (st == CLSP_SUCCESS) st = relu_grad(ctx, nt->rb1, dh1, a->h1v, a->n1, C1, &dz1);
  if (st == CLSP_SUCCESS)
    st = clsp_conv_backward(ctx, nt->rb1, nt->x, a->w1, dz1, nt->flags, NULL, g->w1,
                            g->b1, NULL);
  clsp_tensor_destroy(dh2);
  clsp_tensor_destroy(dz2);
  clsp_tensor_destroy(dh1);
  clsp_tensor_destroy(dz1);
  return st;
}

static clsp_status step(const net *nt, params *p, float lr, float *loss) {
  acts a = {0};
  params g;
  memset(&g, 0, sizeof g);
  float pooled[N_ITEMS * C2], d_pooled[N_ITEMS * C2];
  clsp_status st = forward(nt, p, &a, pooled);
  if (st == CLSP_SUCCESS) *loss = head(p, nt->data->label, pooled, &g, d_pooled);
  if (st == CLSP_SUCCESS) st = backward(nt, &a, d_pooled, &g);
  acts_free(&a);
  if (st != CLSP_SUCCESS) return st;
  sgd(p->w1, g.w1, sizeof p->w1 / sizeof *p->w1, lr);
  sgd(p->b1, g.b1, C1, lr);
  sgd(p->w2, g.w2, sizeof p->w2 / sizeof *p->w2, lr);
  sgd(p->b2, g.b2, C2, lr);
  sgd(p->fc, g.fc, C2 * N_CLASSES, lr);
  sgd(p->fb, g.fb, N_CLASSES, lr);
  return CLSP_SUCCESS;
}

static clsp_status build_net(clsp_context *ctx, const dataset *d, net *nt) {
  clsp_tensor_desc desc = {3, {GRID, GRID, GRID}, N_ITEMS, d->n, 1, 0};
  float *ones = malloc((d->n + 1) * sizeof *ones);
  if (!ones) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  for (size_t i = 0; i < d->n; i++) ones[i] = 1.0f;
  clsp_conv_geometry subm = {{3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
  clsp_conv_geometry down = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  clsp_status st = clsp_tensor_create(ctx, &desc, d->coords, ones, &nt->x);
  if (st == CLSP_SUCCESS)
    st = clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &subm, nt->x, &nt->rb1);
  /* The regular conv reads h1, which lives on the input's sites: its
   * rulebook is built on the input tensor (same sites). */
  if (st == CLSP_SUCCESS)
    st = clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, nt->x, &nt->rb2);
  free(ones);
  return st;
}

clsp_status shapes_train(clsp_context *ctx, const shapes_config *cfg, float *losses) {
  if (!ctx || !cfg || !losses || cfg->steps < 1) return CLSP_ERROR_INVALID_ARGUMENT;
  rng g = {cfg->seed};
  dataset d = {0};
  for (int i = 0; i < N_ITEMS; i++) {
    d.label[i] = i % N_CLASSES;
    if (!make_item(&d, &g, i, d.label[i])) {
      free(d.coords);
      return CLSP_ERROR_OUT_OF_HOST_MEMORY;
    }
  }
  params p;
  init_params(&p, &g);
  net nt = {ctx, cfg->flags, NULL, NULL, NULL, &d};
  clsp_status st = build_net(ctx, &d, &nt);
  for (int s = 0; st == CLSP_SUCCESS && s < cfg->steps; s++)
    st = step(&nt, &p, cfg->lr, &losses[s]);
  clsp_rulebook_destroy(nt.rb2);
  clsp_rulebook_destroy(nt.rb1);
  clsp_tensor_destroy(nt.x);
  free(d.coords);
  return st;
}
