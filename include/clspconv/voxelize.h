/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_VOXELIZE_H
#define CLSPCONV_VOXELIZE_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Point-to-voxel on the device: points (x, y, z, intensity) -> one site per
 * occupied voxel whose 4 features are the mean of its points' 4 values
 * (spconv's point-to-voxel with mean features), or of its first K points
 * in input order (max_points_per_voxel = K: OpenPCDet's
 * MAX_POINTS_PER_VOXEL followed by MeanVFE).
 *
 * Two quantisations:
 *  - range (SECOND, OpenPCDet): per axis v = floor((p - min) / size),
 *    evaluated in float32 exactly so (float subtract, float divide, floor);
 *    a point is kept iff 0 <= v < grid on every axis, grid =
 *    round((max - min) / size). Coordinates (batch, z, y, x); shape
 *    (grid_z + 1, grid_y, grid_x): the z extent is padded by one as
 *    OpenPCDet's sparse_shape is.
 *  - round (MinkUNet, TorchSparse): v = rint(p / size) in float32 (round
 *    half to even), minus the per-axis minimum over all points; every
 *    point is kept. Coordinates (batch, x, y, z); shape = max + 1.
 *
 * Sites come in order of first occurrence in the point list (the voxel of
 * point 0 first), the same on every run and device.
 *
 * Any extent: far outliers (real scans have them) only widen the grid.
 * Grids of fewer than 2^32 - 1 cells use 32-bit voxel keys; larger ones
 * 64-bit keys, found by a 64-bit hash where the device has 64-bit atomics
 * and by a sort of the keys where it has not (same sites, same order,
 * same bits; CLSP_CONTEXT_FORCE_HASH32 takes the sort path everywhere).
 * The limits are those of the tensors the result feeds: every axis
 * within int32 coordinates, and the shape (with the batch) within the
 * rulebook's 63-bit packed coordinate key, i.e. the sum over the axes of
 * ceil(log2(extent)) plus ceil(log2(batch + 1)) at most 63 (e.g. +-100 km
 * at 5 cm on two axes and +-1 km on the third).
 */
typedef enum clsp_voxel_recipe {
  CLSP_VOXEL_SECOND = 0,   /* range mode, size (0.05, 0.05, 0.1) m over x
                              [0, 70.4), y [-40, 40), z [-3, 1):
                              shape (41, 1600, 1408); defaults give
                              max_points_per_voxel 5 (OpenPCDet's KITTI
                              SECOND) */
  CLSP_VOXEL_MINKUNET = 1, /* round mode, size 0.05 m on every axis */
  CLSP_VOXEL_RANGE = 2,    /* range mode with voxel_size and range below */
  CLSP_VOXEL_ROUND = 3,    /* round mode with voxel_size below */
} clsp_voxel_recipe;

typedef struct clsp_voxelize_options {
  clsp_voxel_recipe recipe;
  float voxel_size[3];          /* x, y, z in metres (RANGE, ROUND), > 0 */
  float range[6];               /* x0, y0, z0, x1, y1, z1 (RANGE): min < max */
  int32_t batch;                /* batch index written into every site, >= 0;
                           the tensor's batch_size is batch + 1 */
  int32_t max_points_per_voxel; /* 0: every point of a voxel contributes
                           to its mean. K > 0: only its first K points in
                           input (file) order do, the others are ignored
                           (OpenPCDet's MAX_POINTS_PER_VOXEL); the sites
                           do not change. At most 2^30. The same points
                           count on every device and run (selected by
                           index on the device, no atomics). */
} clsp_voxelize_options;

/* Fills `o` with the preset of `recipe` (sizes and range of SECOND or
 * MinkUNet; zeros for RANGE and ROUND), batch 0, max_points_per_voxel 5
 * for SECOND (OpenPCDet's KITTI recipe), else 0. The SECOND and MINKUNET
 * recipes take sizes and range from the preset whatever `options` holds;
 * batch and max_points_per_voxel always come from `options`. */
CLSP_API clsp_status clsp_voxelize_defaults(clsp_voxel_recipe recipe,
                                            clsp_voxelize_options *o);

/* Device stages of one voxelization, for timings. */
typedef enum clsp_voxel_stage {
  CLSP_VOXEL_STAGE_KEYS = 0,    /* quantise, bounds (round: min/max pass) */
  CLSP_VOXEL_STAGE_HASH = 1,    /* hash insert (or key sort), first
                                   occurrence */
  CLSP_VOXEL_STAGE_COMPACT = 2, /* prefix sums, site coordinates, buckets */
  CLSP_VOXEL_STAGE_MEAN = 3,    /* per-voxel feature means (first K
                                   points selected there) */
  CLSP_VOXEL_STAGE_COUNT = 4,
} clsp_voxel_stage;

typedef struct clsp_voxelize_stats {
  size_t n_points;                         /* points given */
  size_t n_kept;                           /* points inside the range (round: all) */
  size_t n_voxels;                         /* sites produced */
  double stage_ms[CLSP_VOXEL_STAGE_COUNT]; /* device time (profiling
                                              queue), else 0 */
  double device_ms;                        /* sum of the stages */
  double wall_ms;                          /* host wall time of the call */
} clsp_voxelize_stats;

/*
 * Voxelizes `n` points from host memory (`points`: n x 4 floats). Creates
 * `*out` (4 channels, ndim 3, unique sites). `stats` may be NULL; when
 * given, the call waits for the device to report the stage timings.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, sizes <= 0, empty range,
 * batch < 0 or 2^31 - 1, max_points_per_voxel < 0 or > 2^30; round
 * mode: a non-finite point),
 * CLSP_ERROR_TOO_LARGE (more than 2^30 points; an axis of 2^31 - 1 voxels
 * or more, or one where p / size overflows float, named with its extent;
 * a shape beyond the 63-bit coordinate key, named with the shape),
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes. `*out` is NULL on error.
 */
CLSP_API clsp_status clsp_voxelize(clsp_context *ctx,
                                   const clsp_voxelize_options *options,
                                   const float *points, size_t n, clsp_tensor **out,
                                   clsp_voxelize_stats *stats);

/* The same for points already on the device: `points` holds at least
 * n x 4 floats on the context's cl_context (read only). */
CLSP_API clsp_status clsp_voxelize_buffer(clsp_context *ctx,
                                          const clsp_voxelize_options *options,
                                          cl_mem points, size_t n, clsp_tensor **out,
                                          clsp_voxelize_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
