/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in synthetic LiDAR scene for clsp demos and benchmarks.
 *
 * A 64-beam spinning sensor (HDL-64E-like: +2.0 to -24.8 degrees, denser
 * upper block) mounted 1.73 m above a street: road with lane markings,
 * kerbs and sidewalks, building facades with gaps and a cross street,
 * parked and moving cars and vans, street-light poles, trees and bushes.
 * Returns are ray-cast analytically, with range noise, range- and
 * incidence-dependent dropout and material-dependent intensity.
 *
 * Output is KITTI-style: 4 floats per point (x forward, y left, z up,
 * intensity in [0,1)), sensor at the origin so the road is at z ~ -1.73.
 * The result depends only on the seed (same seed, same bytes on the same
 * platform) and holds roughly 80k-130k points.
 */
#ifndef CLSP_SCENE_H
#define CLSP_SCENE_H

#include <stddef.h>
#include <stdint.h>

#define CLSP_SCENE_DEFAULT_SEED 1u

/* On success *points holds *n points (4 floats each), allocated with
 * malloc; release with clsp_scene_free() or free().  Returns 0 on success,
 * nonzero with a message in err on failure (only out of memory). */
int clsp_scene_generate(uint64_t seed, float **points, size_t *n, char *err,
                        size_t errlen);

void clsp_scene_free(float *points);

#endif
