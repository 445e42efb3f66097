/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference rulebooks: sort + binary search over coordinate rows. */
#include "ref_rulebook.h"

#include <stdlib.h>
#include <string.h>

/* A site: (batch, c1..c4) with unused axes zero, plus its row.  Comparing
 * all five slots lexicographically gives the required output order. */
typedef struct site_key {
  int32_t c[1 + REF_MAX_DIM];
  uint32_t row;
} site_key;

static int cmp_coords(const site_key *a, const site_key *b) {
  for (int j = 0; j < 1 + REF_MAX_DIM; ++j)
    if (a->c[j] != b->c[j]) return a->c[j] < b->c[j] ? -1 : 1;
  return 0;
}

static int cmp_site(const void *pa, const void *pb) {
  const site_key *a = pa, *b = pb;
  int r = cmp_coords(a, b);
  if (r) return r;
  return (a->row > b->row) - (a->row < b->row);
}

/* Index of the site with coordinates of *key in sorted keys, or -1. */
static long find_site(const site_key *keys, size_t n, const site_key *key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = cmp_coords(&keys[mid], key);
    if (r == 0) return (long)mid;
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static int geom_valid(const ref_geom *g) {
  if (!g || g->ndim < 1 || g->ndim > REF_MAX_DIM) return 0;
  for (int a = 0; a < g->ndim; ++a)
    if (g->kernel[a] < 1 || g->stride[a] < 1 || g->padding[a] < 0 || g->dilation[a] < 1)
      return 0;
  return 1;
}

size_t ref_kernel_volume(const ref_geom *g) {
  size_t k = 1;
  for (int a = 0; a < g->ndim; ++a) k *= (size_t)g->kernel[a];
  return k;
}

void ref_tap_offsets(const ref_geom *g, size_t t, int32_t *ta) {
  for (int a = g->ndim - 1; a >= 0; --a) {
    ta[a] = (int32_t)(t % (size_t)g->kernel[a]);
    t /= (size_t)g->kernel[a];
  }
}

int ref_out_shape(int kind, const ref_geom *g, const int32_t *in_shape,
                  int32_t *out_shape) {
  if (!geom_valid(g) || !in_shape || !out_shape) return -1;
  for (int a = 0; a < g->ndim; ++a) {
    int64_t n = in_shape[a], k = g->kernel[a], s = g->stride[a];
    int64_t p = g->padding[a], ext = (int64_t)g->dilation[a] * (k - 1);
    int64_t o;
    if (n <= 0) return -1;
    if (kind == REF_SUBM) {
      if (s != 1) return -1;
      o = n;
    } else if (kind == REF_REGULAR) {
      int64_t num = n + 2 * p - ext - 1;
      if (num < 0) /* floor(num / s) + 1 <= 0 */
        return -1;
      o = num / s + 1;
    } else if (kind == REF_TRANSPOSED) {
      o = (n - 1) * s - 2 * p + ext + 1;
    } else {
      return -1;
    }
    if (o <= 0 || o > INT32_MAX) return -1;
    out_shape[a] = (int32_t)o;
  }
  return 0;
}

/* Coordinate of the input feeding output o at tap offsets ta.  Returns 0
 * when no integer input exists (transposed, non-divisible). */
static int input_of_output(int kind, const ref_geom *g, const int32_t *o,
                           const int32_t *ta, int64_t *in) {
  for (int a = 0; a < g->ndim; ++a) {
    int64_t s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    int64_t k = g->kernel[a];
    if (kind == REF_SUBM) {
      in[a] = o[a] + (ta[a] - (k - 1) / 2) * d;
    } else if (kind == REF_REGULAR) {
      in[a] = (int64_t)o[a] * s - p + ta[a] * d;
    } else {
      int64_t num = o[a] + p - ta[a] * d;
      if (num < 0 || num % s != 0) return 0;
      in[a] = num / s;
    }
  }
  return 1;
}

/* Coordinate of the output fed by input i at tap offsets ta, for kinds 1, 2.
 * Returns 0 when it is non-integer or outside [0, out_shape). */
static int output_of_input(int kind, const ref_geom *g, const int32_t *i,
                           const int32_t *ta, const int32_t *out_shape, int64_t *o) {
  for (int a = 0; a < g->ndim; ++a) {
    int64_t s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    if (kind == REF_REGULAR) {
      int64_t num = i[a] + p - ta[a] * d;
      if (num < 0 || num % s != 0) return 0;
      o[a] = num / s;
    } else {
      o[a] = (int64_t)i[a] * s - p + ta[a] * d;
    }
    if (o[a] < 0 || o[a] >= out_shape[a]) return 0;
  }
  return 1;
}

static void key_set(site_key *k, int ndim, int32_t b, const int64_t *c, uint32_t row) {
  memset(k, 0, sizeof *k);
  k->c[0] = b;
  for (int a = 0; a < ndim; ++a) k->c[1 + a] = (int32_t)c[a];
  k->row = row;
}

/* Sorted keys of the input sites; -1 on out-of-range or duplicate sites. */
static int sorted_inputs(int ndim, const int32_t *shape, int32_t batch, size_t n,
                         const int32_t *coords, site_key **keys_out) {
  site_key *keys = malloc((n ? n : 1) * sizeof *keys);
  if (!keys) return -1;
  for (size_t r = 0; r < n; ++r) {
    const int32_t *row = coords + r * (size_t)(1 + ndim);
    int64_t c[REF_MAX_DIM];
    int ok = row[0] >= 0 && row[0] < batch;
    for (int a = 0; a < ndim; ++a) {
      ok = ok && row[1 + a] >= 0 && row[1 + a] < shape[a];
      c[a] = row[1 + a];
    }
    if (!ok) {
      free(keys);
      return -1;
    }
    key_set(&keys[r], ndim, row[0], c, (uint32_t)r);
  }
  qsort(keys, n, sizeof *keys, cmp_site);
  for (size_t r = 1; r < n; ++r)
    if (cmp_coords(&keys[r - 1], &keys[r]) == 0) {
      free(keys);
      return -1;
    }
  *keys_out = keys;
  return 0;
}

/* Kinds 1, 2: every (input, tap) image, sorted and deduplicated. */
static int collect_outputs(int kind, const ref_geom *g, size_t kvol, size_t n,
                           const int32_t *coords, ref_rulebook *rb) {
  int nd = g->ndim;
  size_t cap = n * kvol, m = 0;
  site_key *cand = malloc((cap ? cap : 1) * sizeof *cand);
  if (!cand) return -1;
  for (size_t r = 0; r < n; ++r) {
    const int32_t *row = coords + r * (size_t)(1 + nd);
    for (size_t t = 0; t < kvol; ++t) {
      int32_t ta[REF_MAX_DIM];
      int64_t o[REF_MAX_DIM];
      ref_tap_offsets(g, t, ta);
      if (output_of_input(kind, g, row + 1, ta, rb->out_shape, o))
        key_set(&cand[m++], nd, row[0], o, 0);
    }
  }
  qsort(cand, m, sizeof *cand, cmp_site);
  size_t u = 0;
  for (size_t j = 0; j < m; ++j)
    if (u == 0 || cmp_coords(&cand[u - 1], &cand[j]) != 0) cand[u++] = cand[j];
  rb->n_out = u;
  rb->out_coords = malloc((u ? u : 1) * (size_t)(1 + nd) * sizeof(int32_t));
  if (!rb->out_coords) {
    free(cand);
    return -1;
  }
  for (size_t j = 0; j < u; ++j)
    memcpy(rb->out_coords + j * (size_t)(1 + nd), cand[j].c,
           (size_t)(1 + nd) * sizeof(int32_t));
  free(cand);
  return 0;
}

/* For each tap (outer) and output row (inner, ascending) look up the unique
 * input; the loop order yields the required pair order directly. */
static int collect_pairs(int kind, const ref_geom *g, const site_key *keys, size_t n,
                         ref_rulebook *rb) {
  int nd = g->ndim;
  size_t cap = rb->n_out * rb->kvol, m = 0;
  if (rb->n_out > UINT32_MAX) /* rows are stored as uint32 */
    return -1;
  rb->start = malloc((rb->kvol + 1) * sizeof *rb->start);
  rb->in_rows = malloc((cap ? cap : 1) * sizeof *rb->in_rows);
  rb->out_rows = malloc((cap ? cap : 1) * sizeof *rb->out_rows);
  if (!rb->start || !rb->in_rows || !rb->out_rows) return -1;
  for (size_t t = 0; t < rb->kvol; ++t) {
    int32_t ta[REF_MAX_DIM];
    ref_tap_offsets(g, t, ta);
    rb->start[t] = m;
    for (size_t r = 0; r < rb->n_out; ++r) {
      const int32_t *o = rb->out_coords + r * (size_t)(1 + nd);
      int64_t in[REF_MAX_DIM];
      site_key key;
      if (!input_of_output(kind, g, o + 1, ta, in)) continue;
      key_set(&key, nd, o[0], in, 0);
      long hit = find_site(keys, n, &key);
      if (hit < 0) continue;
      rb->in_rows[m] = keys[hit].row;
      rb->out_rows[m] = (uint32_t)r;
      ++m;
    }
  }
  rb->start[rb->kvol] = m;
  return 0;
}

int ref_rulebook_build(int kind, const ref_geom *g, const int32_t *in_shape,
                       int32_t batch, size_t n, const int32_t *coords,
                       ref_rulebook *out) {
  site_key *keys = NULL;
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  if (kind < REF_SUBM || kind > REF_TRANSPOSED || batch < 1 || (n && !coords) ||
      n > UINT32_MAX)
    return -1;
  if (ref_out_shape(kind, g, in_shape, out->out_shape) != 0) return -1;
  out->kind = kind;
  out->ndim = g->ndim;
  memcpy(out->in_shape, in_shape, (size_t)g->ndim * sizeof(int32_t));
  out->kvol = ref_kernel_volume(g);
  if (sorted_inputs(g->ndim, in_shape, batch, n, coords, &keys) != 0) return -1;
  int rc = 0;
  if (kind == REF_SUBM) {
    size_t bytes = n * (size_t)(1 + g->ndim) * sizeof(int32_t);
    out->n_out = n;
    out->out_coords = malloc(bytes ? bytes : 1);
    if (!out->out_coords)
      rc = -1;
    else if (bytes)
      memcpy(out->out_coords, coords, bytes);
  } else {
    rc = collect_outputs(kind, g, out->kvol, n, coords, out);
  }
  if (rc == 0) rc = collect_pairs(kind, g, keys, n, out);
  free(keys);
  if (rc != 0) ref_rulebook_free(out);
  return rc;
}

typedef struct pair_rows {
  uint32_t out_row, in_row;
} pair_rows;

static int cmp_pair(const void *pa, const void *pb) {
  const pair_rows *a = pa, *b = pb;
  if (a->out_row != b->out_row) return a->out_row < b->out_row ? -1 : 1;
  return (a->in_row > b->in_row) - (a->in_row < b->in_row);
}

int ref_rulebook_inverse(const ref_rulebook *regular, size_t n_in_of_regular,
                         const int32_t *regular_in_coords, ref_rulebook *out) {
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  if (!regular || regular->kind != REF_REGULAR ||
      (n_in_of_regular && !regular_in_coords) || n_in_of_regular > UINT32_MAX)
    return -1;
  const ref_rulebook *rg = regular;
  size_t np = rg->start[rg->kvol], nd1 = (size_t)(1 + rg->ndim);
  size_t bytes = n_in_of_regular * nd1 * sizeof(int32_t);
  out->kind = REF_INVERSE;
  out->ndim = rg->ndim;
  memcpy(out->in_shape, rg->out_shape, sizeof out->in_shape);
  memcpy(out->out_shape, rg->in_shape, sizeof out->out_shape);
  out->n_out = n_in_of_regular;
  out->kvol = rg->kvol;
  out->out_coords = malloc(bytes ? bytes : 1);
  out->start = malloc((rg->kvol + 1) * sizeof *out->start);
  out->in_rows = malloc((np ? np : 1) * sizeof *out->in_rows);
  out->out_rows = malloc((np ? np : 1) * sizeof *out->out_rows);
  pair_rows *tmp = malloc((np ? np : 1) * sizeof *tmp);
  if (!out->out_coords || !out->start || !out->in_rows || !out->out_rows || !tmp) {
    free(tmp);
    ref_rulebook_free(out);
    return -1;
  }
  if (bytes) memcpy(out->out_coords, regular_in_coords, bytes);
  for (size_t j = 0; j < np; ++j) {
    if (rg->in_rows[j] >= n_in_of_regular) {
      free(tmp);
      ref_rulebook_free(out);
      return -1;
    }
    tmp[j].out_row = rg->in_rows[j];
    tmp[j].in_row = rg->out_rows[j];
  }
  /* Swapping changes the sort key, so re-sort each tap's segment. */
  for (size_t t = 0; t < rg->kvol; ++t) {
    out->start[t] = rg->start[t];
    qsort(tmp + rg->start[t], rg->start[t + 1] - rg->start[t], sizeof *tmp, cmp_pair);
  }
  out->start[rg->kvol] = np;
  for (size_t j = 0; j < np; ++j) {
    out->out_rows[j] = tmp[j].out_row;
    out->in_rows[j] = tmp[j].in_row;
  }
  free(tmp);
  return 0;
}

void ref_rulebook_free(ref_rulebook *rb) {
  if (!rb) return;
  free(rb->out_coords);
  free(rb->start);
  free(rb->in_rows);
  free(rb->out_rows);
  memset(rb, 0, sizeof *rb);
}
