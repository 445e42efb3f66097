/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference sparse pooling (test oracle only), double precision.
 *
 * Windows are those of a conv of `kind` (normally REF_REGULAR) evaluated at
 * the given output sites by the dense formula of ref_conv.c: output o pools
 * the ACTIVE inputs its taps read.
 *  max: y[o,c] = max over the window's inputs of x[i,c]; dx: dy[o,c] goes
 *       to the input holding the max, on exact ties to the lowest row.
 *  avg: y[o,c] = mean over the window's inputs; dx[i,c] += dy[o,c] / n_o.
 *  An empty window gives 0 and no gradient.
 * Global pooling: the same per batch item over all its sites.
 */
#ifndef CLSP_REF_POOL_H
#define CLSP_REF_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "ref_conv.h"

enum { REF_POOL_MAX = 0, REF_POOL_AVG = 1 };

/* y: n_out x ch (may be NULL); dx: n_in x ch (may be NULL, else dy must be
 * given, n_out x ch). Returns 0 ok, -1 on invalid arguments or allocation
 * failure. */
int ref_pool(int type, int kind, const ref_geom *g, const int32_t *in_shape,
             int32_t batch, size_t n_in, const int32_t *in_coords, const float *x,
             size_t ch, size_t n_out, const int32_t *out_coords, const float *dy,
             double *y, double *dx);

/* y: batch x ch (may be NULL); dx: n x ch (may be NULL, else dy given,
 * batch x ch). Returns 0 ok, -1 on invalid arguments. */
int ref_global_pool(int type, int ndim, int32_t batch, size_t n, const int32_t *coords,
                    const float *x, size_t ch, const float *dy, double *y, double *dx);

#endif
