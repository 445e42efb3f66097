/* SPDX-License-Identifier: Apache-2.0 */
/* Raw float32 scans (.bin: KITTI, nuScenes, ...): N little-endian float32
 * values per point, x y z first; and the extension dispatch. */
#include "io/io_internal.h"
#include "io/pointcloud.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float load_f32(const unsigned char *p) { return (float)io_load_value(p, VT_F32); }

/* Decodes the records; rows whose x, y or z is not finite are dropped
 * (missing returns), other non-finite values become 0. */
static int bin_load(const char *path, FILE *fp, uint64_t records, int fields, float *out,
                    size_t *kept, char *err, size_t errlen) {
  unsigned char rec[4 * CLSP_CLOUD_MAX_FIELDS];
  size_t bytes = 4 * (size_t)fields, k = 0;
  for (uint64_t i = 0; i < records; i++) {
    if (fread(rec, 1, bytes, fp) != bytes) {
      io_set_err(err, errlen, "%s: read error at point %llu", path,
                 (unsigned long long)i);
      return -1;
    }
    float *p = out + k * (size_t)fields;
    for (int f = 0; f < fields; f++) {
      float v = load_f32(rec + 4 * f);
      p[f] = isfinite(v) ? v : 0.0f;
    }
    if (isfinite(load_f32(rec)) && isfinite(load_f32(rec + 4)) &&
        isfinite(load_f32(rec + 8)))
      k++;
  }
  *kept = k;
  return 0;
}

int clsp_cloud_read_bin(const char *path, int fields, float **points, size_t *n,
                        char *err, size_t errlen) {
  *points = NULL;
  *n = 0;
  if (fields < 3 || fields > CLSP_CLOUD_MAX_FIELDS) {
    io_set_err(err, errlen, "%s: %d fields per point: expected 3 to %d", path, fields,
               CLSP_CLOUD_MAX_FIELDS);
    return -1;
  }
  FILE *fp;
  uint64_t size, record = 4 * (uint64_t)fields;
  if (io_open_regular(path, &fp, &size, err, errlen)) return -1;
  if (size % record != 0) {
    io_set_err(err, errlen,
               "%s: size %llu bytes is not a multiple of %llu (%d float32 "
               "values per point, x y z first)",
               path, (unsigned long long)size, (unsigned long long)record, fields);
    fclose(fp);
    return -1;
  }
  float *pts = size < SIZE_MAX ? malloc(size ? (size_t)size : 1) : NULL;
  int rc = pts ? 0 : -1;
  if (rc)
    io_set_err(err, errlen, "%s: out of memory", path);
  else
    rc = bin_load(path, fp, size / record, fields, pts, n, err, errlen);
  fclose(fp);
  if (rc) {
    free(pts);
    *n = 0;
    return -1;
  }
  *points = pts;
  return 0;
}

int clsp_cloud_read_kitti(const char *path, float **points, size_t *n, char *err,
                          size_t errlen) {
  return clsp_cloud_read_bin(path, 4, points, n, err, errlen);
}

int clsp_cloud_write_kitti(const char *path, const float *points, size_t n, char *err,
                           size_t errlen) {
  FILE *fp = io_create(path, err, errlen);
  if (!fp) return -1;
  int bad = 0;
  for (size_t i = 0; i < 4 * n && !bad; i++) {
    uint32_t b;
    memcpy(&b, &points[i], 4);
    unsigned char le[4] = {(unsigned char)b, (unsigned char)(b >> 8),
                           (unsigned char)(b >> 16), (unsigned char)(b >> 24)};
    bad = fwrite(le, 1, 4, fp) != 4;
  }
  return io_finish_write(fp, bad, path, err, errlen);
}

static int ext_is(const char *path, const char *ext) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash : path, '.');
  return dot && io_str_ieq(dot, ext);
}

int clsp_cloud_is_bin(const char *path) { return ext_is(path, ".bin"); }

int clsp_cloud_read(const char *path, float **points, size_t *n, char *err,
                    size_t errlen) {
  if (ext_is(path, ".bin")) return clsp_cloud_read_kitti(path, points, n, err, errlen);
  if (ext_is(path, ".pcd")) return clsp_cloud_read_pcd(path, points, n, err, errlen);
  if (ext_is(path, ".ply")) return clsp_cloud_read_ply(path, points, n, err, errlen);
  *points = NULL;
  *n = 0;
  io_set_err(err, errlen,
             "%s: unknown point-cloud extension (expected .bin, .pcd or "
             ".ply)",
             path);
  return -1;
}
