/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference sparse pooling, see ref_pool.h. The windows come from
 * ref_window_rows (the dense conv formula); nothing here reads a
 * rulebook. */
#include "ref_pool.h"

#include <stdlib.h>
#include <string.h>

/* Row of the window's maximum in channel c (lowest row on ties), or -1. */
static long window_argmax(const long *rows, size_t kvol, const float *x, size_t ch,
                          size_t c) {
  long best = -1;
  for (size_t t = 0; t < kvol; ++t) {
    long i = rows[t];
    if (i < 0) continue;
    double v = x[(size_t)i * ch + c];
    if (best < 0 || v > x[(size_t)best * ch + c] ||
        (v == x[(size_t)best * ch + c] && i < best))
      best = i;
  }
  return best;
}

static void pool_window(int type, const long *rows, size_t kvol, const float *x,
                        size_t ch, const float *dy_o, double *y_o, double *dx) {
  size_t n = 0;
  for (size_t t = 0; t < kvol; ++t) n += rows[t] >= 0;
  for (size_t c = 0; c < ch; ++c) {
    if (type == REF_POOL_MAX) {
      long a = window_argmax(rows, kvol, x, ch, c);
      if (y_o) y_o[c] = a < 0 ? 0.0 : (double)x[(size_t)a * ch + c];
      if (dx && a >= 0) dx[(size_t)a * ch + c] += (double)dy_o[c];
      continue;
    }
    double s = 0.0;
    for (size_t t = 0; t < kvol; ++t)
      if (rows[t] >= 0) {
        s += (double)x[(size_t)rows[t] * ch + c];
        if (dx) dx[(size_t)rows[t] * ch + c] += (double)dy_o[c] / (double)n;
      }
    if (y_o) y_o[c] = n ? s / (double)n : 0.0;
  }
}

int ref_pool(int type, int kind, const ref_geom *g, const int32_t *in_shape,
             int32_t batch, size_t n_in, const int32_t *in_coords, const float *x,
             size_t ch, size_t n_out, const int32_t *out_coords, const float *dy,
             double *y, double *dx) {
  if ((type != REF_POOL_MAX && type != REF_POOL_AVG) || !g || !x ||
      (n_out && !out_coords) || (dx && !dy))
    return -1;
  ref_site_index *ix = ref_site_index_new(kind, g, in_shape, batch, n_in, in_coords);
  size_t kvol = ref_kernel_volume(g);
  long *rows = malloc((kvol ? kvol : 1) * sizeof *rows);
  if (!ix || !rows) {
    ref_site_index_free(ix);
    free(rows);
    return -1;
  }
  if (dx) memset(dx, 0, n_in * ch * sizeof *dx);
  for (size_t o = 0; o < n_out; ++o) {
    ref_window_rows(kind, g, in_shape, ix, out_coords + o * (size_t)(g->ndim + 1), rows);
    pool_window(type, rows, kvol, x, ch, dy ? dy + o * ch : NULL, y ? y + o * ch : NULL,
                dx);
  }
  ref_site_index_free(ix);
  free(rows);
  return 0;
}

int ref_global_pool(int type, int ndim, int32_t batch, size_t n, const int32_t *coords,
                    const float *x, size_t ch, const float *dy, double *y, double *dx) {
  if ((type != REF_POOL_MAX && type != REF_POOL_AVG) || batch < 1 ||
      (n && (!coords || !x)) || (dx && !dy))
    return -1;
  size_t cols = (size_t)ndim + 1;
  if (dx) memset(dx, 0, n * ch * sizeof *dx);
  for (int32_t b = 0; b < batch; ++b)
    for (size_t c = 0; c < ch; ++c) {
      long best = -1;
      size_t m = 0;
      double s = 0.0;
      for (size_t r = 0; r < n; ++r) {
        if (coords[r * cols] != b) continue;
        m++;
        s += (double)x[r * ch + c];
        if (best < 0 || x[r * ch + c] > x[(size_t)best * ch + c]) best = (long)r;
      }
      size_t bc = (size_t)b * ch + c;
      if (y)
        y[bc] = m == 0                 ? 0.0
                : type == REF_POOL_MAX ? (double)x[(size_t)best * ch + c]
                                       : s / (double)m;
      for (size_t r = 0; dx && r < n; ++r) {
        if (coords[r * cols] != b) continue;
        if (type == REF_POOL_AVG)
          dx[r * ch + c] = (double)dy[bc] / (double)m;
        else if ((long)r == best)
          dx[r * ch + c] = (double)dy[bc];
      }
    }
  return 0;
}
