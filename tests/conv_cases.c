/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the convolution and pooling suites (conv_cases.h). */
#include "conv_cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ref_geom conv_case_geom(const conv_case *c) {
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

void conv_case_describe(const conv_case *c, char *buf, size_t cap) {
  static const char *kinds[] = {"subm", "regular", "transposed", "inverse"};
  int n = snprintf(buf, cap, "%s %dD cin %zu cout %zu bias %d k/s/p/d", kinds[c->kind],
                   c->ndim, c->cin, c->cout, c->bias);
  ref_geom g = conv_case_geom(c);
  for (int a = 0; a < c->ndim && n > 0 && (size_t)n < cap; a++)
    n += snprintf(buf + n, cap - (size_t)n, " %d/%d/%d/%d", g.kernel[a], g.stride[a],
                  g.padding[a], g.dilation[a]);
}

void conv_case_grid(int ndim, int32_t *grid, size_t *n) {
  static const int32_t big[4][4] = {{200}, {40, 37}, {19, 18, 17}, {9, 8, 7, 6}};
  static const int32_t small[4][4] = {{40}, {13, 11}, {9, 8, 7}, {5, 5, 4, 4}};
  static const size_t nbig[4] = {60, 400, 1500, 400}, nsmall[4] = {20, 50, 120, 60};
  memcpy(grid, harness_small() ? small[ndim - 1] : big[ndim - 1], 4 * sizeof(int32_t));
  *n = harness_small() ? nsmall[ndim - 1] : nbig[ndim - 1];
}

int32_t *conv_case_sites(harness_rng *rng, int nd, const int32_t *grid, int32_t batch,
                         uint32_t keep_per_mille, size_t *n) {
  size_t cells = (size_t)batch;
  for (int a = 0; a < nd; a++) cells *= (size_t)grid[a];
  int32_t *c = malloc((cells + 1) * (size_t)(nd + 1) * sizeof *c);
  assert_non_null(c);
  *n = 0;
  for (size_t v = 0; v < cells; v++) {
    if (harness_below(rng, 1000) >= keep_per_mille) continue;
    int32_t *row = c + (*n)++ * (size_t)(nd + 1);
    size_t r = v;
    for (int a = nd - 1; a >= 0; a--) {
      row[1 + a] = (int32_t)(r % (size_t)grid[a]);
      r /= (size_t)grid[a];
    }
    row[0] = (int32_t)r;
  }
  return c;
}
