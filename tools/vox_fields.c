/* SPDX-License-Identifier: Apache-2.0 */
/* --fields N voxelization over the public 4-value clsp_voxelize(): see
 * vox_fields.h. The library takes x, y, z and one more value per point;
 * a pass per extra field gives that field's voxel means on the same sites
 * (quantisation and order depend on x y z only). */
#include "vox_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/pointcloud.h"

int vox_fields_parse(const char *tool, const char *value, int *fields) {
  char *end;
  long f = strtol(value, &end, 10);
  if (end == value || *end || f < 3 || f > VOX_FIELDS_MAX) {
    fprintf(stderr,
            "%s: --fields '%s': expected an integer in 3..%d (float32 values per point, "
            "x y z first)\n",
            tool, value, VOX_FIELDS_MAX);
    return 2;
  }
  *fields = (int)f;
  return 0;
}

int vox_fields_check(const char *tool, int fields, const char *input) {
  if (fields == 4 || (input && clsp_cloud_is_bin(input))) return 0;
  fprintf(stderr, "%s: --fields %d applies to .bin scans; %s\n", tool, fields,
          input ? "PCD and PLY files name their own fields"
                : "the built-in scene has 4 (x y z intensity)");
  return 2;
}

/* Points as (x, y, z, field f) rows; f < 0 gives 0 (xyz-only scans). */
static void pack_pass(const float *pts, size_t n, int fields, int f, float *out) {
  for (size_t i = 0; i < n; i++) {
    const float *p = pts + i * (size_t)fields;
    float *q = out + 4 * i;
    q[0] = p[0];
    q[1] = p[1];
    q[2] = p[2];
    q[3] = f >= 0 ? p[f] : 0.0f;
  }
}

static void add_stats(clsp_voxelize_stats *sum, const clsp_voxelize_stats *s, int first) {
  if (first) {
    *sum = *s;
    return;
  }
  for (int k = 0; k < CLSP_VOXEL_STAGE_COUNT; k++) sum->stage_ms[k] += s->stage_ms[k];
  sum->device_ms += s->device_ms;
  sum->wall_ms += s->wall_ms;
}

/* What the passes build: the sites (first pass) and the N-channel means. */
typedef struct fields_acc {
  clsp_tensor_desc desc;
  int32_t *coords;
  float *feats, *pass_feats, *packed;
  int channels;
} fields_acc;

/* One pass for field f (< 0: none): the x y z means on the first pass,
 * feats[:, f] on every pass; later passes must give the same site count. */
static clsp_status one_pass(clsp_context *ctx, const clsp_voxelize_options *o,
                            const float *pts, size_t n, int fields, int f, int pass,
                            fields_acc *a, clsp_voxelize_stats *stats) {
  pack_pass(pts, n, fields, f, a->packed);
  clsp_tensor *t = NULL;
  clsp_voxelize_stats s;
  clsp_status st = clsp_voxelize(ctx, o, a->packed, n, &t, stats ? &s : NULL);
  if (st != CLSP_SUCCESS) return st;
  clsp_tensor_desc d;
  clsp_tensor_describe(t, &d);
  if (pass == 0) {
    a->desc = d;
    size_t rows = d.n_sites ? d.n_sites : 1;
    a->coords = malloc(rows * (size_t)(1 + d.ndim) * sizeof(int32_t));
    a->feats = malloc(rows * (size_t)a->channels * sizeof(float));
    a->pass_feats = malloc(rows * 4 * sizeof(float));
    if (!a->coords || !a->feats || !a->pass_feats) st = CLSP_ERROR_OUT_OF_HOST_MEMORY;
  } else if (d.n_sites != a->desc.n_sites) {
    st = CLSP_ERROR_MISMATCH; /* cannot happen: sites depend on x y z only */
  }
  if (st == CLSP_SUCCESS)
    st = clsp_tensor_download(ctx, t, pass == 0 ? a->coords : NULL, a->pass_feats);
  clsp_tensor_destroy(t);
  if (st != CLSP_SUCCESS) return st;
  for (size_t i = 0; i < d.n_sites; i++) {
    float *row = a->feats + i * (size_t)a->channels;
    if (pass == 0) memcpy(row, a->pass_feats + 4 * i, 3 * sizeof(float));
    if (f >= 0) row[f] = a->pass_feats[4 * i + 3];
  }
  if (stats) add_stats(stats, &s, pass == 0);
  return CLSP_SUCCESS;
}

clsp_status vox_fields_run(clsp_context *ctx, const clsp_voxelize_options *o,
                           const float *points, size_t n, int fields, clsp_tensor **out,
                           clsp_voxelize_stats *stats) {
  *out = NULL;
  if (fields == 4) return clsp_voxelize(ctx, o, points, n, out, stats);
  if (fields < 3 || fields > VOX_FIELDS_MAX) return CLSP_ERROR_INVALID_ARGUMENT;
  fields_acc a = {.channels = fields};
  a.packed = malloc((n ? n : 1) * 4 * sizeof(float));
  clsp_status st = a.packed ? CLSP_SUCCESS : CLSP_ERROR_OUT_OF_HOST_MEMORY;
  int passes = fields == 3 ? 1 : fields - 3;
  for (int p = 0; p < passes && st == CLSP_SUCCESS; p++)
    st = one_pass(ctx, o, points, n, fields, fields == 3 ? -1 : 3 + p, p, &a, stats);
  if (st == CLSP_SUCCESS) {
    a.desc.channels = (size_t)fields;
    a.desc.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
    st = clsp_tensor_create(ctx, &a.desc, a.coords, a.feats, out);
  }
  free(a.packed);
  free(a.coords);
  free(a.feats);
  free(a.pass_feats);
  return st;
}
