/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference voxelizers for KITTI-format point clouds: records of four
 * float32 values (x, y, z, intensity). */
#ifndef CLSP_REF_VOXEL_H
#define CLSP_REF_VOXEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct ref_voxels {
  size_t n;         /* number of unique voxels */
  int32_t *coords;  /* n x 4: (batch, v0, v1, v2), axis order per recipe */
  float *feats;     /* n x 4: mean (x, y, z, intensity) of the voxel's points */
  int32_t shape[3]; /* spatial shape, same axis order as coords */
} ref_voxels;

/* Read a KITTI velodyne .bin file.  *points is malloc'd (n x 4 floats).
 * Returns 0 ok, -1 on I/O error or a size not a multiple of 16 bytes. */
int ref_load_kitti_bin(const char *path, float **points, size_t *n);

/* General voxelizer.  Voxels are listed in order of first occurrence.
 *  range != NULL: range = {xmin, ymin, zmin, xmax, ymax, zmax}; per axis
 *    v = floorf((p - min) / size) in float32; the grid size is
 *    round((max - min) / size) computed in double; points with any v outside
 *    [0, grid) are dropped; shape = grid.
 *  range == NULL: v = rintf(p / size) in float32 (round half to even), then
 *    the per-axis minimum over all points is subtracted; shape = max + 1
 *    (-1 when some |v| >= 2^62 or is not finite, or an axis spans more
 *    than 2^31 - 1 voxels).
 *  zyx != 0 writes coords as (batch, z, y, x) (shape likewise), otherwise
 *  (batch, x, y, z).  Returns 0 ok, -1 on bad input or allocation failure. */
int ref_voxelize(const float *points, size_t n, const float voxel_size[3],
                 const float *range, int zyx, int32_t batch, ref_voxels *out);

/* ref_voxelize whose features are the mean of each voxel's first
 * `max_points` points by point index (0: all of them; OpenPCDet's
 * MAX_POINTS_PER_VOXEL then MeanVFE), summed in double. */
int ref_voxelize_first(const float *points, size_t n, const float voxel_size[3],
                       const float *range, int zyx, int32_t batch, size_t max_points,
                       ref_voxels *out);

/* OpenPCDet's KITTI SECOND: MAX_POINTS_PER_VOXEL 5. */
#define REF_SECOND_MAX_POINTS 5

/* SECOND: size (0.05, 0.05, 0.1), x [0, 70.4), y [-40, 40), z [-3, 1),
 * coords (batch, z, y, x), shape (41, 1600, 1408) -- z grid + 1 as SECOND's
 * sparse_shape does; means of each voxel's first REF_SECOND_MAX_POINTS
 * points. */
int ref_voxelize_second(const float *points, size_t n, int32_t batch, ref_voxels *out);

/* MinkUNet / TorchSparse: rintf(p / 0.05f), shifted to a zero minimum,
 * coords (batch, x, y, z), shape = max + 1. */
int ref_voxelize_minkunet(const float *points, size_t n, int32_t batch, ref_voxels *out);

void ref_voxels_free(ref_voxels *v);

#endif
