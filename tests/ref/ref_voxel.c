/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference voxelizers: per-point voxel index, then sort to group equal
 * voxels, then restore first-occurrence order. */
#include "ref_voxel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ref_load_kitti_bin(const char *path, float **points, size_t *n) {
  FILE *f = fopen(path, "rb");
  size_t cap = 0, len = 0;
  unsigned char *buf = NULL;
  if (!f || !points || !n) {
    if (f) fclose(f);
    return -1;
  }
  for (;;) { /* read in chunks: no reliance on ftell */
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) break;
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f) || !feof(f) || len % (4 * sizeof(float)) != 0;
  fclose(f);
  if (bad) {
    free(buf);
    return -1;
  }
  *points = (float *)(void *)buf; /* malloc'd memory is suitably aligned */
  *n = len / (4 * sizeof(float));
  return 0;
}

/* A point tagged with its voxel (x, y, z order) and its index. 64-bit
 * indices: round mode accepts points at any distance whose voxel index
 * fits (|rint(p / size)| < 2^62) and whose extent fits int32. */
typedef struct tagged {
  int64_t v[3];
  size_t idx;
} tagged;

static int cmp_tagged(const void *pa, const void *pb) {
  const tagged *a = pa, *b = pb;
  for (int j = 0; j < 3; ++j)
    if (a->v[j] != b->v[j]) return a->v[j] < b->v[j] ? -1 : 1;
  return (a->idx > b->idx) - (a->idx < b->idx);
}

/* A voxel group: first point index and [begin, end) in the sorted tags. */
typedef struct group {
  size_t first, begin, end;
} group;

static int cmp_group(const void *pa, const void *pb) {
  const group *a = pa, *b = pb;
  return (a->first > b->first) - (a->first < b->first);
}

/* Range mode: floorf((p - min) / size) in float32; 0 if outside the grid. */
static int voxel_in_range(const float *pt, const float *size, const float *range,
                          const int32_t *grid, int64_t *v) {
  for (int a = 0; a < 3; ++a) {
    float q = (pt[a] - range[a]) / size[a];
    float f = floorf(q);
    if (!(f >= 0.0f && f < (float)grid[a])) /* also drops NaN */
      return 0;
    v[a] = (int64_t)f;
  }
  return 1;
}

/* Tag points with voxel indices; returns the number kept, or -1. */
static long tag_points(const float *points, size_t n, const float *size,
                       const float *range, tagged *tags, int32_t *shape) {
  size_t m = 0;
  if (range) {
    for (int a = 0; a < 3; ++a) {
      double cells = ((double)range[3 + a] - range[a]) / (double)size[a];
      double r = floor(cells + 0.5);
      if (!(r >= 1.0 && r < 1e9)) return -1;
      shape[a] = (int32_t)r;
    }
    for (size_t j = 0; j < n; ++j)
      if (voxel_in_range(points + 4 * j, size, range, shape, tags[m].v))
        tags[m++].idx = j;
    return (long)m;
  }
  int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (size_t j = 0; j < n; ++j) {
    for (int a = 0; a < 3; ++a) {
      float r = rintf(points[4 * j + a] / size[a]);
      if (!(fabsf(r) < 4611686018427387904.0f)) /* 2^62, NaN, inf */
        return -1;
      tags[j].v[a] = (int64_t)r;
      if (j == 0 || tags[j].v[a] < lo[a]) lo[a] = tags[j].v[a];
      if (j == 0 || tags[j].v[a] > hi[a]) hi[a] = tags[j].v[a];
    }
    tags[j].idx = j;
  }
  for (size_t j = 0; j < n; ++j)
    for (int a = 0; a < 3; ++a) tags[j].v[a] -= lo[a];
  for (int a = 0; a < 3; ++a) {
    if (hi[a] - lo[a] >= INT32_MAX) /* coordinates are int32 */
      return -1;
    shape[a] = n ? (int32_t)(hi[a] - lo[a] + 1) : 0;
  }
  return (long)n;
}

/* Write voxel g (mean of its first max_points points, all if 0) into row
 * r of out. A group's tags are sorted by point index. */
static void emit_voxel(const float *points, const tagged *tags, const group *g, int zyx,
                       int32_t batch, size_t max_points, ref_voxels *out, size_t r) {
  double sum[4] = {0, 0, 0, 0};
  const int64_t *v = tags[g->begin].v;
  size_t end = g->end;
  if (max_points && end - g->begin > max_points) end = g->begin + max_points;
  for (size_t j = g->begin; j < end; ++j)
    for (int c = 0; c < 4; ++c) sum[c] += points[4 * tags[j].idx + c];
  int32_t *co = out->coords + 4 * r;
  co[0] = batch;
  for (int a = 0; a < 3; ++a) co[1 + a] = (int32_t)(zyx ? v[2 - a] : v[a]);
  for (int c = 0; c < 4; ++c)
    out->feats[4 * r + c] = (float)(sum[c] / (double)(end - g->begin));
}

int ref_voxelize(const float *points, size_t n, const float voxel_size[3],
                 const float *range, int zyx, int32_t batch, ref_voxels *out) {
  return ref_voxelize_first(points, n, voxel_size, range, zyx, batch, 0, out);
}

int ref_voxelize_first(const float *points, size_t n, const float voxel_size[3],
                       const float *range, int zyx, int32_t batch, size_t max_points,
                       ref_voxels *out) {
  int32_t shape[3];
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  if ((n && !points) || !voxel_size || batch < 0) return -1;
  for (int a = 0; a < 3; ++a)
    if (!(voxel_size[a] > 0.0f)) return -1;
  tagged *tags = malloc((n ? n : 1) * sizeof *tags);
  group *groups = malloc((n ? n : 1) * sizeof *groups);
  long kept =
    (tags && groups) ? tag_points(points, n, voxel_size, range, tags, shape) : -1;
  size_t ng = 0;
  if (kept >= 0) {
    qsort(tags, (size_t)kept, sizeof *tags, cmp_tagged);
    for (size_t j = 0; j < (size_t)kept; ++j) {
      if (j == 0 || memcmp(tags[j].v, tags[j - 1].v, sizeof tags[j].v)) {
        groups[ng].first = tags[j].idx; /* smallest idx: sorted by idx */
        groups[ng].begin = j;
        ++ng;
      }
      groups[ng - 1].end = j + 1;
    }
    qsort(groups, ng, sizeof *groups, cmp_group);
    out->coords = malloc((ng ? ng : 1) * 4 * sizeof *out->coords);
    out->feats = malloc((ng ? ng : 1) * 4 * sizeof *out->feats);
  }
  int rc = (kept >= 0 && out->coords && out->feats) ? 0 : -1;
  if (rc == 0) {
    out->n = ng;
    for (size_t r = 0; r < ng; ++r)
      emit_voxel(points, tags, &groups[r], zyx, batch, max_points, out, r);
    for (int a = 0; a < 3; ++a) out->shape[a] = zyx ? shape[2 - a] : shape[a];
  } else {
    ref_voxels_free(out);
  }
  free(tags);
  free(groups);
  return rc;
}

int ref_voxelize_second(const float *points, size_t n, int32_t batch, ref_voxels *out) {
  static const float size[3] = {0.05f, 0.05f, 0.1f};
  static const float range[6] = {0.0f, -40.0f, -3.0f, 70.4f, 40.0f, 1.0f};
  int rc =
    ref_voxelize_first(points, n, size, range, 1, batch, REF_SECOND_MAX_POINTS, out);
  if (rc == 0) out->shape[0] += 1; /* SECOND pads z by one: sparse_shape (41, ...) */
  return rc;
}

int ref_voxelize_minkunet(const float *points, size_t n, int32_t batch, ref_voxels *out) {
  static const float size[3] = {0.05f, 0.05f, 0.05f};
  return ref_voxelize(points, n, size, NULL, 0, batch, out);
}

void ref_voxels_free(ref_voxels *v) {
  if (!v) return;
  free(v->coords);
  free(v->feats);
  memset(v, 0, sizeof *v);
}
