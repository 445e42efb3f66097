/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Point-cloud file readers for clsp.
 *
 * Every reader but clsp_cloud_read_bin() returns points as 4 floats per
 * point: x, y, z, intensity (intensity is 0 when the file has none).
 * *points is allocated with malloc (never NULL on success, even when
 * *n == 0); the caller frees it with free().  Points whose x, y or z is not finite are dropped, because
 * organized PCD files mark missing returns with NaN.
 *
 * Every function returns 0 on success and nonzero on error; on error a
 * message naming the file and the problem is written to err (when err is
 * not NULL), *points is NULL, *n is 0 and nothing is left allocated.
 */
#ifndef CLSP_IO_POINTCLOUD_H
#define CLSP_IO_POINTCLOUD_H

#include <stddef.h>

/* Picks the reader from the extension (.bin, .pcd, .ply; any case). */
int clsp_cloud_read(const char *path, float **points, size_t *n, char *err,
                    size_t errlen);

/* Most values per point clsp_cloud_read_bin() takes. */
#define CLSP_CLOUD_MAX_FIELDS 64

/* Raw .bin scan: little-endian float32 records of `fields` values (3 to
 * CLSP_CLOUD_MAX_FIELDS), x y z first (KITTI 4: x y z intensity; nuScenes
 * 5: + time; ScanNet 6: + r g b). *points holds *n x fields floats. A file
 * whose size is not a multiple of 4 x fields bytes is refused, naming its
 * size and the record; other non-finite values than x y z become 0. */
int clsp_cloud_read_bin(const char *path, int fields, float **points, size_t *n,
                        char *err, size_t errlen);

/* 1 when path ends in .bin (any case): the files --fields applies to. */
int clsp_cloud_is_bin(const char *path);

/* KITTI velodyne .bin: clsp_cloud_read_bin() with 4 fields. */
int clsp_cloud_read_kitti(const char *path, float **points, size_t *n, char *err,
                          size_t errlen);

/* PCD v0.7, DATA ascii or binary (binary_compressed is rejected).
 * Needs fields x y z; intensity is taken from an 'intensity' field, else
 * from 'rgb'/'rgba' as luminance in [0,1), else 0.  Intensity values are
 * passed through unscaled. */
int clsp_cloud_read_pcd(const char *path, float **points, size_t *n, char *err,
                        size_t errlen);

/* PLY 1.0, format ascii or binary_little_endian.  Uses element 'vertex'
 * with properties x y z and optional intensity / scalar_intensity. */
int clsp_cloud_read_ply(const char *path, float **points, size_t *n, char *err,
                        size_t errlen);

/* Writes points (4 floats each) as a KITTI .bin file. */
int clsp_cloud_write_kitti(const char *path, const float *points, size_t n, char *err,
                           size_t errlen);

#endif
