/* SPDX-License-Identifier: Apache-2.0 */
/* Voxelization of scans with any number of float32 fields per point
 * (--fields N), over the public clsp_voxelize(), which takes 4 values per
 * point: MeanVFE-style voxel features, the mean of every field of the
 * voxel's points (x y z first), so N fields give N channels. */
#ifndef CLSP_TOOL_VOX_FIELDS_H
#define CLSP_TOOL_VOX_FIELDS_H

#include <stddef.h>
#include "clspconv/clspconv.h"

#define VOX_FIELDS_MAX 64

/* Voxelizes n points of `fields` floats each (3 to VOX_FIELDS_MAX) into
 * *out (fields channels, unique sites in first-occurrence order, as
 * clsp_voxelize). Fields after the 4th take one more clsp_voxelize pass
 * each (x y z and that field); the sites of every pass are the same, and
 * stats (may be NULL) sums their device times. Returns a clsp_status;
 * *out is NULL on error (the context's last error says why). */
clsp_status vox_fields_run(clsp_context *ctx, const clsp_voxelize_options *o,
                           const float *points, size_t n, int fields, clsp_tensor **out,
                           clsp_voxelize_stats *stats);

/* --fields VALUE of command `tool` ("clsp run"): *fields = 3..64, or 2
 * (usage error) after a message naming the value. */
int vox_fields_parse(const char *tool, const char *value, int *fields);

/* --fields N other than 4 applies to .bin scans only (PCD and PLY name
 * their fields, the built-in scene has 4): 0, or 2 after a message. */
int vox_fields_check(const char *tool, int fields, const char *input);

#endif
