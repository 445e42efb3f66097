/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: raw float32 .bin scans (KITTI, --fields N) and the extension dispatch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_test.h"
#include "io/pointcloud.h"

/* ====================================================================== */
/* KITTI .bin */

void test_kitti(void **state) {
  (void)state;
  bytes o = {.n = 0};
  float vals[8] = {1.0f, 2.0f, -1.5f, 0.25f, 10.0f, -20.0f, 0.5f, 0.0f};
  for (int i = 0; i < 8; i++) put_f32(&o, vals[i]);
  const char *path = write_bytes("scan.BIN", o.b, o.n);
  char err[256] = "";
  float *pts;
  size_t n;
  CHECK(clsp_cloud_read(path, &pts, &n, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(n == 2, "%s: %zu points", path, n);
  expect_point(pts, 1, 10.0f, -20.0f, 0.5f, 0.0f, path);
  free(pts);

  /* Writer round trip. */
  const char *out = tmp_path("written.bin");
  CHECK(clsp_cloud_write_kitti(out, vals, 2, err, sizeof err) == 0, "%s: %s", out, err);
  CHECK(clsp_cloud_read_kitti(out, &pts, &n, err, sizeof err) == 0 && n == 2, "%s: %s",
        out, err);
  expect_point(pts, 0, 1.0f, 2.0f, -1.5f, 0.25f, out);
  free(pts);

  path = write_bytes("odd.bin", o.b, 20);
  int rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
  CHECK(pts == NULL && n == 0, "%s: output not cleared", path);
  expect_error(rc, err, path, "not a multiple of 16 (4 float32 values per point");

  path = write_bytes("cloud.xyz", o.b, 16);
  expect_error(clsp_cloud_read(path, &pts, &n, err, sizeof err), err, path,
               "unknown point-cloud extension");
}

/* N float32 values per point (3: xyz; 5: nuScenes; 6: ScanNet): values
 * come back in order, rows with a non-finite x, y or z are dropped, and a
 * file that is not a whole number of records is refused naming the file,
 * its size and the record. */
void test_bin_fields(void **state) {
  (void)state;
  static const int fields[] = {3, 4, 5, 6};
  char err[256] = "", name[32], needle[96];
  for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
    int nf = fields[k];
    bytes o = {.n = 0};
    for (int p = 0; p < 3; p++)
      for (int f = 0; f < nf; f++)
        put_f32(&o, p == 1 && f == 1 ? NAN : (float)(10 * p + f) + 0.5f);
    snprintf(name, sizeof name, "f%d.bin", nf);
    const char *path = write_bytes(name, o.b, o.n);
    float *pts;
    size_t n;
    CHECK(clsp_cloud_read_bin(path, nf, &pts, &n, err, sizeof err) == 0, "%s: %s", path,
          err);
    CHECK(n == 2, "%s: %zu points, expected 2 (one has a NaN y)", path, n);
    for (int f = 0; f < nf; f++)
      CHECK(pts[f] == (float)f + 0.5f && pts[nf + f] == (float)(20 + f) + 0.5f,
            "%s: field %d is %g, %g", path, f, pts[f], pts[nf + f]);
    free(pts);

    snprintf(name, sizeof name, "ragged%d.bin", nf);
    path = write_bytes(name, o.b, o.n - 4);
    pts = (float *)&err;
    int rc = clsp_cloud_read_bin(path, nf, &pts, &n, err, sizeof err);
    CHECK(pts == NULL && n == 0, "%s: output not cleared", path);
    snprintf(needle, sizeof needle, "size %zu bytes is not a multiple of %d (%d float32",
             o.n - 4, 4 * nf, nf);
    expect_error(rc, err, path, needle);
  }
  float *pts;
  size_t n;
  const char *path = tmp_path("f2.bin");
  expect_error(clsp_cloud_read_bin(path, 2, &pts, &n, err, sizeof err), err, path,
               "2 fields per point: expected 3 to");
}
