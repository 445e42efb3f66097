/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference sparse convolution evaluated per output site like a dense
 * conv.  Shares no code with ref_rulebook.c on purpose: its own input lookup
 * (sorted rows + binary search) and its own per-axis index formulas. */
#include "ref_conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Input site: row of (batch, c1..cD) copied into fixed slots, plus its row. */
typedef struct in_site {
  int32_t c[5];
  size_t row;
} in_site;

static int cmp_in_coords(const int32_t *a, const int32_t *b) {
  for (int j = 0; j < 5; ++j)
    if (a[j] != b[j]) return a[j] < b[j] ? -1 : 1;
  return 0;
}

static int cmp_in_site(const void *pa, const void *pb) {
  return cmp_in_coords(((const in_site *)pa)->c, ((const in_site *)pb)->c);
}

/* Row of the input at coordinates c (5 slots), or -1 if inactive. */
static long lookup_input(const in_site *sites, size_t n, const int32_t *c) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = cmp_in_coords(sites[mid].c, c);
    if (r == 0) return (long)sites[mid].row;
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static int args_valid(int kind, const ref_geom *g, const int32_t *in_shape,
                      int32_t batch) {
  if (kind < REF_SUBM || kind > REF_INVERSE || !g || !in_shape || batch < 1 ||
      g->ndim < 1 || g->ndim > 4)
    return 0;
  for (int a = 0; a < g->ndim; ++a) {
    if (g->kernel[a] < 1 || g->stride[a] < 1 || g->padding[a] < 0 || g->dilation[a] < 1 ||
        in_shape[a] < 1)
      return 0;
    if (kind == REF_SUBM && g->stride[a] != 1) return 0;
  }
  return 1;
}

/* Sorted copy of the input coordinates; NULL on bad/duplicate input. */
static in_site *index_inputs(const ref_geom *g, const int32_t *in_shape, int32_t batch,
                             size_t n, const int32_t *coords) {
  int nd = g->ndim;
  in_site *s = calloc(n ? n : 1, sizeof *s);
  if (!s) return NULL;
  for (size_t r = 0; r < n; ++r) {
    const int32_t *row = coords + r * (size_t)(nd + 1);
    int ok = row[0] >= 0 && row[0] < batch;
    for (int a = 0; a < nd; ++a) ok = ok && row[1 + a] >= 0 && row[1 + a] < in_shape[a];
    if (!ok) {
      free(s);
      return NULL;
    }
    memcpy(s[r].c, row, (size_t)(nd + 1) * sizeof(int32_t));
    s[r].row = r;
  }
  qsort(s, n, sizeof *s, cmp_in_site);
  for (size_t r = 1; r < n; ++r)
    if (cmp_in_coords(s[r - 1].c, s[r].c) == 0) {
      free(s);
      return NULL;
    }
  return s;
}

/* Input coordinate (5 slots, batch first) read by output o at tap t, as in
 * the dense formula.  Returns 0 if it is non-integer or outside the grid. */
static int tap_source(int kind, const ref_geom *g, const int32_t *in_shape,
                      const int32_t *o, size_t t, int32_t *c) {
  int64_t tap[4];
  for (int a = g->ndim - 1; a >= 0; --a) { /* first axis slowest */
    tap[a] = (int64_t)(t % (size_t)g->kernel[a]);
    t /= (size_t)g->kernel[a];
  }
  memset(c, 0, 5 * sizeof *c);
  c[0] = o[0];
  for (int a = 0; a < g->ndim; ++a) {
    int64_t s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    int64_t x;
    if (kind == REF_SUBM) {
      p = d * ((g->kernel[a] - 1) / 2); /* centred, stride 1 */
      x = o[1 + a] - p + tap[a] * d;
    } else if (kind == REF_REGULAR) {
      x = o[1 + a] * s - p + tap[a] * d;
    } else { /* transposed and inverse: x s - p + t d == o */
      int64_t num = o[1 + a] + p - tap[a] * d;
      if (num < 0 || num % s != 0) return 0;
      x = num / s;
    }
    if (x < 0 || x >= in_shape[a]) return 0;
    c[1 + a] = (int32_t)x;
  }
  return 1;
}

struct ref_site_index {
  in_site *sites;
  size_t n;
};

ref_site_index *ref_site_index_new(int kind, const ref_geom *g, const int32_t *in_shape,
                                   int32_t batch, size_t n_in, const int32_t *in_coords) {
  if (!args_valid(kind, g, in_shape, batch) || (n_in && !in_coords)) return NULL;
  ref_site_index *ix = malloc(sizeof *ix);
  if (!ix) return NULL;
  ix->sites = index_inputs(g, in_shape, batch, n_in, in_coords);
  ix->n = n_in;
  if (!ix->sites) {
    free(ix);
    return NULL;
  }
  return ix;
}

void ref_site_index_free(ref_site_index *ix) {
  if (ix) free(ix->sites);
  free(ix);
}

void ref_window_rows(int kind, const ref_geom *g, const int32_t *in_shape,
                     const ref_site_index *ix, const int32_t *o, long *rows) {
  size_t kvol = ref_kernel_volume(g);
  for (size_t t = 0; t < kvol; ++t) {
    int32_t c[5];
    rows[t] =
      tap_source(kind, g, in_shape, o, t, c) ? lookup_input(ix->sites, ix->n, c) : -1;
  }
}

/* Visits every (input row, output row, tap) connection of the dense
 * definition; returns -1 on invalid arguments or allocation failure. */
typedef void (*pair_fn)(void *arg, size_t i, size_t o, size_t t);

static int visit_pairs(int kind, const ref_geom *g, const int32_t *in_shape,
                       int32_t batch, size_t n_in, const int32_t *in_coords, size_t n_out,
                       const int32_t *out_coords, pair_fn fn, void *arg) {
  if (n_out && !out_coords) return -1;
  ref_site_index *ix = ref_site_index_new(kind, g, in_shape, batch, n_in, in_coords);
  size_t kvol = g ? ref_kernel_volume(g) : 0;
  long *rows = malloc((kvol ? kvol : 1) * sizeof *rows);
  if (!ix || !rows) {
    ref_site_index_free(ix);
    free(rows);
    return -1;
  }
  for (size_t r = 0; r < n_out; ++r) {
    ref_window_rows(kind, g, in_shape, ix, out_coords + r * (size_t)(g->ndim + 1), rows);
    for (size_t t = 0; t < kvol; ++t)
      if (rows[t] >= 0) fn(arg, (size_t)rows[t], r, t);
  }
  ref_site_index_free(ix);
  free(rows);
  return 0;
}

typedef struct conv_data {
  const float *x, *w, *dy;
  size_t cin, cout;
  double *y, *dx, *dw;
} conv_data;

static void forward_pair(void *arg, size_t i, size_t o, size_t t) {
  const conv_data *d = arg;
  const float *x = d->x + i * d->cin;
  const float *w = d->w + t * d->cin * d->cout;
  double *acc = d->y + o * d->cout;
  for (size_t ci = 0; ci < d->cin; ++ci)
    for (size_t co = 0; co < d->cout; ++co)
      acc[co] += (double)w[ci * d->cout + co] * (double)x[ci];
}

int ref_conv_dense(int kind, const ref_geom *g, const int32_t *in_shape, int32_t batch,
                   size_t n_in, const int32_t *in_coords, const float *in_feats,
                   size_t cin, size_t n_out, const int32_t *out_coords, size_t cout,
                   const float *weights, const float *bias, double *out) {
  if (!args_valid(kind, g, in_shape, batch) || (n_in && cin && !in_feats) ||
      (n_out && cout && !out))
    return -1;
  if (ref_kernel_volume(g) && cin && cout && !weights) return -1;
  for (size_t r = 0; r < n_out; ++r)
    for (size_t co = 0; co < cout; ++co)
      out[r * cout + co] = bias ? (double)bias[co] : 0.0;
  conv_data d = {in_feats, weights, NULL, cin, cout, out, NULL, NULL};
  return visit_pairs(kind, g, in_shape, batch, n_in, in_coords, n_out, out_coords,
                     forward_pair, &d);
}

static void backward_pair(void *arg, size_t i, size_t o, size_t t) {
  const conv_data *d = arg;
  const float *x = d->x + i * d->cin, *dy = d->dy + o * d->cout;
  const float *w = d->w + t * d->cin * d->cout;
  for (size_t ci = 0; ci < d->cin; ++ci)
    for (size_t co = 0; co < d->cout; ++co) {
      if (d->dx) d->dx[i * d->cin + ci] += (double)w[ci * d->cout + co] * (double)dy[co];
      if (d->dw)
        d->dw[(t * d->cin + ci) * d->cout + co] += (double)x[ci] * (double)dy[co];
    }
}

int ref_conv_backward(int kind, const ref_geom *g, const int32_t *in_shape, int32_t batch,
                      size_t n_in, const int32_t *in_coords, const float *in_feats,
                      size_t cin, size_t n_out, const int32_t *out_coords,
                      const float *d_out, size_t cout, const float *weights, double *d_in,
                      double *d_weights, double *d_bias) {
  if (!args_valid(kind, g, in_shape, batch) || !in_feats || !d_out || !weights) return -1;
  size_t kvol = ref_kernel_volume(g);
  if (d_in) memset(d_in, 0, n_in * cin * sizeof *d_in);
  if (d_weights) memset(d_weights, 0, kvol * cin * cout * sizeof *d_weights);
  if (d_bias)
    for (size_t co = 0; co < cout; ++co) {
      d_bias[co] = 0.0;
      for (size_t r = 0; r < n_out; ++r) d_bias[co] += (double)d_out[r * cout + co];
    }
  conv_data d = {in_feats, weights, d_out, cin, cout, NULL, d_in, d_weights};
  return visit_pairs(kind, g, in_shape, batch, n_in, in_coords, n_out, out_coords,
                     backward_pair, &d);
}

static double rel_of(double num, double den) {
  if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
  return sqrt(num) / sqrt(den);
}

double ref_rel_error(const float *out, const double *ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t j = 0; j < n; ++j) {
    double e = (double)out[j] - ref[j];
    num += e * e;
    den += ref[j] * ref[j];
  }
  return rel_of(num, den);
}

double ref_rel_diff(const float *out, const float *other, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t j = 0; j < n; ++j) {
    double o = other[j], e = (double)out[j] - o;
    num += e * e;
    den += o * o;
  }
  return rel_of(num, den);
}

void ref_weights_from_torch(const float *src, size_t kvol, size_t cin, size_t cout,
                            float *dst) {
  for (size_t t = 0; t < kvol; ++t)
    for (size_t ci = 0; ci < cin; ++ci)
      for (size_t co = 0; co < cout; ++co)
        dst[(t * cin + ci) * cout + co] = src[(co * cin + ci) * kvol + t];
}

void ref_weights_from_torch_transposed(const float *src, size_t kvol, size_t cin,
                                       size_t cout, float *dst) {
  for (size_t t = 0; t < kvol; ++t)
    for (size_t ci = 0; ci < cin; ++ci)
      for (size_t co = 0; co < cout; ++co)
        dst[(t * cin + ci) * cout + co] = src[(ci * cout + co) * kvol + t];
}

void ref_weights_from_spconv(const float *src, size_t kvol, size_t cin, size_t cout,
                             float *dst) {
  for (size_t t = 0; t < kvol; ++t)
    for (size_t ci = 0; ci < cin; ++ci)
      for (size_t co = 0; co < cout; ++co)
        dst[(t * cin + ci) * cout + co] = src[(co * kvol + t) * cin + ci];
}
