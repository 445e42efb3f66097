/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_RULEBOOK_H
#define CLSPCONV_RULEBOOK_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clsp_conv_kind {
  CLSP_CONV_SUBMANIFOLD = 0, /* outputs at the input sites (odd kernel, s 1) */
  CLSP_CONV_REGULAR = 1,     /* strided conv: the coordinate map */
  CLSP_CONV_TRANSPOSED = 2,  /* the inverse coordinate map (upsampling) */
  CLSP_CONV_INVERSE = 3,     /* a regular conv's map reversed */
} clsp_conv_kind;

/*
 * Per-axis kernel geometry, axes in the order of the tensor's shape. Only
 * the first ndim entries are read. Kernel taps are numbered row-major with
 * the first axis slowest: tap t = ((t1 * k2) + t2) * k3 + t3 for D = 3.
 */
typedef struct clsp_conv_geometry {
  int32_t kernel[CLSP_MAX_DIMS];   /* >= 1 */
  int32_t stride[CLSP_MAX_DIMS];   /* >= 1 */
  int32_t padding[CLSP_MAX_DIMS];  /* >= 0 and < dilation * (kernel-1) + 1 */
  int32_t dilation[CLSP_MAX_DIMS]; /* >= 1 */
} clsp_conv_geometry;

/*
 * For every kernel tap, the (input row, output row) pairs of a convolution
 * and its output sites. Keep and reuse it: every submanifold layer on the
 * same sites shares one, an inverse conv reuses its regular conv's.
 */
typedef struct clsp_rulebook clsp_rulebook;

/*
 * Builds the rulebook of `kind` (SUBMANIFOLD, REGULAR or TRANSPOSED) for
 * input tensor `in` on the device. Output sites of a submanifold conv are
 * the input sites in their order; those of regular and transposed convs
 * come in a deterministic order (ascending packed coordinate key), the same
 * on every run and device.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, geometry out of range,
 * even kernel or stride != 1 for SUBMANIFOLD, INVERSE kind: use
 * clsp_rulebook_inverse), CLSP_ERROR_TOO_LARGE (output shape beyond the
 * key width), CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_rulebook_build(clsp_context *ctx, clsp_conv_kind kind,
                                         const clsp_conv_geometry *geometry,
                                         const clsp_tensor *in, clsp_rulebook **out);

/*
 * The rulebook of the inverse of a REGULAR conv: outputs are that conv's
 * input sites in their original order, inputs are its output sites. Shares
 * the pair lists of `regular` (which must outlive it).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, regular is not REGULAR).
 */
CLSP_API clsp_status clsp_rulebook_inverse(clsp_context *ctx,
                                           const clsp_rulebook *regular,
                                           clsp_rulebook **out);

/*
 * Validates `geometry` for a conv of `kind` (SUBMANIFOLD, REGULAR or
 * TRANSPOSED) on an input of spatial `in_shape` (ndim values) and writes
 * the output's spatial shape (ndim values; the rest set to 1). Host only,
 * no context: the same checks clsp_rulebook_build makes first.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, ndim outside 1..4, kernel,
 * stride or dilation < 1, padding outside [0, dilation*(kernel-1)+1), an
 * even kernel or stride != 1 for SUBMANIFOLD, a kernel wider than the
 * padded input, INVERSE kind), CLSP_ERROR_TOO_LARGE (output extent beyond
 * int32).
 */
CLSP_API clsp_status clsp_conv_output_shape(clsp_conv_kind kind, int ndim,
                                            const clsp_conv_geometry *geometry,
                                            const int32_t *in_shape, int32_t *out_shape);

typedef struct clsp_rulebook_info {
  clsp_conv_kind kind;
  int ndim;
  clsp_conv_geometry geometry;
  int32_t in_shape[CLSP_MAX_DIMS];
  int32_t out_shape[CLSP_MAX_DIMS];
  int32_t batch_size;
  size_t n_in;          /* input sites */
  size_t n_out;         /* output sites */
  size_t kernel_volume; /* number of taps */
  size_t n_pairs;       /* all (in, out, tap) pairs */
  double build_ms;      /* device time of the build (profiling queues),
                           else wall time */
} clsp_rulebook_info;

CLSP_API clsp_status clsp_rulebook_describe(const clsp_rulebook *rb,
                                            clsp_rulebook_info *out);

/* Pair counts per tap: writes kernel_volume values. */
CLSP_API clsp_status clsp_rulebook_pair_counts(const clsp_rulebook *rb, uint32_t *counts);

/*
 * Downloads the pairs: for tap t, pairs [start[t], start[t+1]) of
 * in_rows/out_rows. `start` takes kernel_volume + 1 values, the row arrays
 * n_pairs each; any pointer may be NULL. Within a tap pairs are ordered by
 * output row.
 */
CLSP_API clsp_status clsp_rulebook_download(clsp_context *ctx, const clsp_rulebook *rb,
                                            uint32_t *start, uint32_t *in_rows,
                                            uint32_t *out_rows);

/* Output site coordinates: n_out rows of 1 + ndim int32. */
CLSP_API clsp_status clsp_rulebook_download_out_coords(clsp_context *ctx,
                                                       const clsp_rulebook *rb,
                                                       int32_t *coords);

/*
 * Creates a tensor on the output sites of `rb` (in their order) with
 * `channels` features per site copied from `feats` (n_out * channels
 * floats; NULL for zeros). The tensor counts as being on those sites: it
 * can feed a rulebook built on them or the inverse of `rb`.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT, CLSP_ERROR_TOO_LARGE,
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_tensor_create_on_output(clsp_context *ctx,
                                                  const clsp_rulebook *rb,
                                                  size_t channels, const float *feats,
                                                  clsp_tensor **out);

/* Releases the rulebook. NULL is a no-op. */
CLSP_API void clsp_rulebook_destroy(clsp_rulebook *rb);

#ifdef __cplusplus
}
#endif
#endif
