/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference sparse convolution, evaluated like a dense PyTorch conv at
 * each requested output site (double accumulation).  Independent of the
 * rulebook references: inputs are found by binary search over sorted input
 * coordinates, so no dense grid is ever allocated (works for KITTI shapes).
 *
 * Weights use the native layout W[K][Cin][Cout] (tap t as in ref_rulebook.h),
 * bias float[Cout] or NULL.  Formulas per axis (zero where no active input):
 *  kind 0 (submanifold): out[o] = b + sum_t W[t]^T X[o + (t - (k-1)/2) d]
 *                        (stride must be 1; padding ignored)
 *  kind 1 (regular):     out[o] = b + sum_t W[t]^T X[o s - p + t d]
 *  kind 2 (transposed):  out[o] = b + sum_t W[t]^T X[i] where i s - p + t d = o
 *  kind 3 (inverse):     same formula as kind 2, with the REGULAR conv's
 *                        geometry g; in_shape/in_coords describe the tensor
 *                        fed to the inverse (the regular conv's output shape
 *                        and sites) and out_coords are the regular conv's
 *                        input sites.  W[t] is indexed by the forward tap t.
 */
#ifndef CLSP_REF_CONV_H
#define CLSP_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "ref_rulebook.h"

/* out: n_out x cout doubles, row r for out_coords row r.  Input coords must
 * be unique, within [0, batch) x [0, in_shape).  Returns 0 ok, -1 on invalid
 * arguments or allocation failure. */
int ref_conv_dense(int kind, const ref_geom *g, const int32_t *in_shape, int32_t batch,
                   size_t n_in, const int32_t *in_coords, const float *in_feats,
                   size_t cin, size_t n_out, const int32_t *out_coords, size_t cout,
                   const float *weights, const float *bias, double *out);

/* Gradients of ref_conv_dense for the loss L = sum(out * d_out) (d_out:
 * n_out x cout floats, rows for out_coords): d_in (n_in x cin), d_weights
 * (kvol x cin x cout, native layout) and d_bias (cout), doubles, each
 * optional (NULL). Dense definition: d_in[i] += W[t] d_out[o] and
 * d_weights[t] += x[i] d_out[o]^T for every (i, o, t) the forward formula
 * connects; d_bias = sum of d_out rows. Returns 0 ok, -1 as above. */
int ref_conv_backward(int kind, const ref_geom *g, const int32_t *in_shape, int32_t batch,
                      size_t n_in, const int32_t *in_coords, const float *in_feats,
                      size_t cin, size_t n_out, const int32_t *out_coords,
                      const float *d_out, size_t cout, const float *weights, double *d_in,
                      double *d_weights, double *d_bias);

/* The input rows a conv's output site reads, by the dense formula: an
 * index of the input sites, then rows[t] = the row read at tap t, or -1
 * (kvol values). The index returns NULL on invalid arguments or duplicate
 * coordinates. Used by the pooling reference. */
typedef struct ref_site_index ref_site_index;
ref_site_index *ref_site_index_new(int kind, const ref_geom *g, const int32_t *in_shape,
                                   int32_t batch, size_t n_in, const int32_t *in_coords);
void ref_site_index_free(ref_site_index *ix);
void ref_window_rows(int kind, const ref_geom *g, const int32_t *in_shape,
                     const ref_site_index *ix, const int32_t *o, long *rows);

/* ||out - ref||_2 / ||ref||_2; 0 if both are zero, +inf if only ref is. */
double ref_rel_error(const float *out, const double *ref, size_t n);
/* The same against another float output: ||out - other|| / ||other||. */
double ref_rel_diff(const float *out, const float *other, size_t n);

/* Layout converters to native [K][Cin][Cout] (K = product of kernel dims,
 * kernel dims row-major first axis slowest, as PyTorch/spconv store them). */
/* torch ConvNd weight [Cout][Cin][k...] */
void ref_weights_from_torch(const float *src, size_t kvol, size_t cin, size_t cout,
                            float *dst);
/* torch ConvTransposeNd weight [Cin][Cout][k...] */
void ref_weights_from_torch_transposed(const float *src, size_t kvol, size_t cin,
                                       size_t cout, float *dst);
/* spconv 2.x weight [Cout][k...][Cin] */
void ref_weights_from_spconv(const float *src, size_t kvol, size_t cin, size_t cout,
                             float *dst);

#endif
