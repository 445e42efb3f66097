/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_TENSOR_H
#define CLSPCONV_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of spatial axes. */
#define CLSP_MAX_DIMS 4

/*
 * A sparse tensor: n_sites active sites, each with integer coordinates
 * (batch, c1, ..., cD) stored as int32 rows of 1 + D values, in the axis
 * order of `shape` (3D LiDAR: (batch, z, y, x) with shape (D, H, W)), and
 * `channels` float32 features per site, row-major n_sites x channels.
 */
typedef struct clsp_tensor clsp_tensor;

enum clsp_tensor_flag {
  /* Sum the features of sites with equal coordinates into one site (as a
   * voxelizer does) instead of failing with CLSP_ERROR_DUPLICATE_COORDS.
   * The merged tensor keeps the first occurrence's position order. */
  CLSP_TENSOR_MERGE_DUPLICATES = 1u << 0,
  /* Skip the device-side duplicate check (the caller guarantees unique
   * coordinates, e.g. output of a clspconv convolution). */
  CLSP_TENSOR_TRUSTED_UNIQUE = 1u << 1,
};

typedef struct clsp_tensor_desc {
  int ndim;                     /* spatial axes D, 1..4 */
  int32_t shape[CLSP_MAX_DIMS]; /* spatial extent per axis, > 0 */
  int32_t batch_size;           /* > 0 */
  size_t n_sites;               /* may be 0 */
  size_t channels;              /* > 0 */
  uint32_t flags;               /* clsp_tensor_flag bits */
} clsp_tensor_desc;

/*
 * Creates a tensor on the context's device from host arrays, which are
 * copied (coords: n_sites * (1 + ndim) int32; feats: n_sites * channels
 * float, may be NULL to leave features zero). Coordinates are validated on
 * the device: negative or outside the shape, batch outside batch_size
 * (CLSP_ERROR_OUT_OF_RANGE, message names the first offending row and
 * value), duplicates (CLSP_ERROR_DUPLICATE_COORDS unless merged).
 * Other errors: CLSP_ERROR_INVALID_ARGUMENT, CLSP_ERROR_TOO_LARGE
 * (n_sites * channels or the packed key beyond the supported width),
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes. `*out` is NULL on error.
 */
CLSP_API clsp_status clsp_tensor_create(clsp_context *ctx, const clsp_tensor_desc *desc,
                                        const int32_t *coords, const float *feats,
                                        clsp_tensor **out);

/*
 * Wraps caller buffers without copying: `coords` holds at least
 * n_sites * (1 + ndim) int32, `feats` n_sites * channels float, both on
 * the context's cl_context. They are retained and released on destroy.
 * The same validation as clsp_tensor_create runs (merging is not offered:
 * CLSP_ERROR_INVALID_ARGUMENT with CLSP_TENSOR_MERGE_DUPLICATES). The
 * coordinates must not change while the tensor exists: rulebooks rely on
 * the validation (features may change freely).
 * Errors also: CLSP_ERROR_MISMATCH (buffer too small, other context).
 */
CLSP_API clsp_status clsp_tensor_wrap(clsp_context *ctx, const clsp_tensor_desc *desc,
                                      cl_mem coords, cl_mem feats, clsp_tensor **out);

/* Describes the tensor (n_sites after any merge). */
CLSP_API clsp_status clsp_tensor_describe(const clsp_tensor *t, clsp_tensor_desc *out);

/*
 * Copies coordinates and/or features back to the host (either pointer may
 * be NULL). Blocks until the data is there.
 */
CLSP_API clsp_status clsp_tensor_download(clsp_context *ctx, const clsp_tensor *t,
                                          int32_t *coords, float *feats);

/* The device buffers (not retained for the caller). */
CLSP_API clsp_status clsp_tensor_buffers(const clsp_tensor *t, cl_mem *coords,
                                         cl_mem *feats);

/* Releases the tensor. NULL is a no-op. */
CLSP_API void clsp_tensor_destroy(clsp_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
