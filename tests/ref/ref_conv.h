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
int ref_conv_dense(int kind, const ref_geom *g, const int32_t *in_shape,
                   int32_t batch, size_t n_in, const int32_t *in_coords,
                   const float *in_feats, size_t cin, size_t n_out,
                   const int32_t *out_coords, size_t cout,
                   const float *weights, const float *bias, double *out);

/* ||out - ref||_2 / ||ref||_2; 0 if both are zero, +inf if only ref is. */
double ref_rel_error(const float *out, const double *ref, size_t n);

/* Layout converters to native [K][Cin][Cout] (K = product of kernel dims,
 * kernel dims row-major first axis slowest, as PyTorch/spconv store them). */
/* torch ConvNd weight [Cout][Cin][k...] */
void ref_weights_from_torch(const float *src, size_t kvol, size_t cin,
                            size_t cout, float *dst);
/* torch ConvTransposeNd weight [Cin][Cout][k...] */
void ref_weights_from_torch_transposed(const float *src, size_t kvol,
                                       size_t cin, size_t cout, float *dst);
/* spconv 2.x weight [Cout][k...][Cin] */
void ref_weights_from_spconv(const float *src, size_t kvol, size_t cin,
                             size_t cout, float *dst);

#endif
