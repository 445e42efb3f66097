/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: the PCD reader. */
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
/* PCD */

const char *PCD_ASCII =
  "# .PCD v0.7 - Point Cloud Data file format\n"
  "VERSION 0.7\n"
  "FIELDS x y z intensity\n"
  "SIZE 4 4 4 4\n"
  "TYPE F F F F\n"
  "COUNT 1 1 1 1\n"
  "WIDTH 3\n"
  "HEIGHT 1\n"
  "VIEWPOINT 0 0 0 1 0 0 0\n"
  "POINTS 3\n"
  "DATA ascii\n"
  "1.5 -2 0.25 0.5\n"
  "3 4 5 0.75\n"
  "-1 -2 -3 0\n";

void test_pcd_ascii(void **state) {
  (void)state;
  const char *path = write_text("ascii.pcd", PCD_ASCII);
  float *pts = read_cloud_ok(path, 3);
  expect_point(pts, 0, 1.5f, -2.0f, 0.25f, 0.5f, path);
  expect_point(pts, 2, -1.0f, -2.0f, -3.0f, 0.0f, path);
  free(pts);

  /* Organized cloud: NaN marks a missing return and is dropped; CRLF. */
  path = write_text("organized.pcd",
                    "VERSION .7\r\nFIELDS x y z\r\nSIZE 4 4 4\r\n"
                    "TYPE F F F\r\nWIDTH 2\r\nHEIGHT 2\r\nDATA ascii\r\n"
                    "1 2 3\r\nnan nan nan\r\n4 5 6\r\n7 8 9\r\n");
  pts = read_cloud_ok(path, 3);
  expect_point(pts, 1, 4.0f, 5.0f, 6.0f, 0.0f, path);
  free(pts);

  /* Unknown fields with COUNT > 1 and integer types are skipped. */
  path = write_text("extra_ascii.pcd",
                    "FIELDS x hist y z label intensity\n"
                    "SIZE 4 4 4 4 2 4\nTYPE F F F F U F\n"
                    "COUNT 1 3 1 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\n"
                    "DATA ascii\n"
                    "1 9 9 9 2 3 7 0.5\n4 8 8 8 5 6 1 0.25\n");
  pts = read_cloud_ok(path, 2);
  expect_point(pts, 1, 4.0f, 5.0f, 6.0f, 0.25f, path);
  free(pts);
}

static float packed_rgb_float(uint32_t rgb) {
  float f;
  memcpy(&f, &rgb, 4);
  return f;
}

static float luminance(uint32_t rgb) {
  return (float)((0.299 * ((rgb >> 16) & 255) + 0.587 * ((rgb >> 8) & 255) +
                  0.114 * (rgb & 255)) /
                 256.0);
}

void test_pcd_rgb(void **state) {
  (void)state;
  char text[512];
  snprintf(text, sizeof text,
           "FIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
           "WIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n"
           "1 2 3 %.9g\n4 5 6 %.9g\n",
           (double)packed_rgb_float(0x00ff8000u), (double)packed_rgb_float(0x00ffffffu));
  const char *path = write_text("rgb_ascii.pcd", text);
  float *pts = read_cloud_ok(path, 2);
  expect_point(pts, 0, 1, 2, 3, luminance(0x00ff8000u), path);
  CHECK(pts[7] < 1.0f && pts[7] > 0.99f, "%s: white luminance %g", path, pts[7]);
  free(pts);

  /* rgba stored as unsigned integer text. */
  path = write_text("rgba_ascii.pcd",
                    "FIELDS x y z rgba\nSIZE 4 4 4 4\nTYPE F F F U\n"
                    "WIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3 4278190335\n");
  pts = read_cloud_ok(path, 1);
  expect_point(pts, 0, 1, 2, 3, luminance(0xff0000ffu), path);
  free(pts);
}

void build_pcd_binary(bytes *o) {
  o->n = 0;
  put_str(o,
          "# binary\nVERSION 0.7\nFIELDS x y z intensity\n"
          "SIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\nWIDTH 2\n"
          "HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA binary\n");
  float v[8] = {1, 2, 3, 0.5f, -4, -5, -6, 0.125f};
  for (int i = 0; i < 8; i++) put_f32(o, v[i]);
}

void test_pcd_binary(void **state) {
  (void)state;
  bytes o;
  build_pcd_binary(&o);
  const char *path = write_bytes("binary.pcd", o.b, o.n);
  float *pts = read_cloud_ok(path, 2);
  expect_point(pts, 1, -4, -5, -6, 0.125f, path);
  free(pts);

  /* F8 coordinates, unaligned 43-byte records, unknown fields of every
     * size, and packed rgb when no intensity field exists. */
  o.n = 0;
  put_str(&o,
          "FIELDS x y z normal_x label descriptor rgb curvature flag\n"
          "SIZE 8 8 8 4 2 4 4 8 1\nTYPE F F F F U F U F U\n"
          "COUNT 1 1 1 1 1 3 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\n"
          "DATA binary\n");
  for (int i = 0; i < 2; i++) {
    put_f64(&o, 10.5 + i);
    put_f64(&o, -20.25);
    put_f64(&o, 0.125 * i);
    put_f32(&o, 9.0f);
    put_uint(&o, 65535, 2);
    put_f32(&o, 7.0f), put_f32(&o, 7.0f), put_f32(&o, 7.0f);
    put_uint(&o, i ? 0x00336699u : 0u, 4);
    put_f64(&o, 1e300);
    put_uint(&o, 0xab, 1);
  }
  path = write_bytes("binary_extra.pcd", o.b, o.n);
  pts = read_cloud_ok(path, 2);
  expect_point(pts, 0, 10.5f, -20.25f, 0.0f, 0.0f, path);
  expect_point(pts, 1, 11.5f, -20.25f, 0.125f, luminance(0x00336699u), path);
  free(pts);
}

void test_pcd_malformed(void **state) {
  (void)state;
  cloud_expect_error(write_text("nodata.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 1\n"),
                     "no DATA line");
  cloud_expect_error(write_text("nodata2.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 1\n1 2 3\n"),
                     "missing DATA");
  bytes o = {.n = 0};
  put_str(&o,
          "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1000000000\n"
          "HEIGHT 1\nPOINTS 1000000000\nDATA binary\n");
  for (int i = 0; i < 6; i++) put_f32(&o, 1.0f);
  cloud_expect_error(write_bytes("lying.pcd", o.b, o.n),
                     "header says POINTS 1000000000 but the file holds 2 "
                     "points");
  cloud_expect_error(write_text("lying_ascii.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 5\nDATA ascii\n1 2 3\n4 5 6\n"),
                     "header says POINTS 5 but the file holds 2 points");
  cloud_expect_error(write_text("badtype.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F X\n"
                                "POINTS 1\nDATA ascii\n1 2 3\n"),
                     "unsupported TYPE X");
  cloud_expect_error(write_text("compressed.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 1\nDATA binary_compressed\n"
                                "\x10\x00\x00\x00"),
                     "unsupported");
  cloud_expect_error(write_text("noz.pcd",
                                "FIELDS x y intensity\nSIZE 4 4 4\n"
                                "TYPE F F F\nPOINTS 1\nDATA ascii\n1 2 3\n"),
                     "no field 'z'");
  cloud_expect_error(write_text("mismatch.pcd",
                                "FIELDS x y z\nSIZE 4 4\nTYPE F F F\n"
                                "POINTS 1\nDATA ascii\n1 2 3\n"),
                     "same number");
  cloud_expect_error(write_text("shortline.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 2\nDATA ascii\n1 2 3\n4 5\n"),
                     "line 7");
  cloud_expect_error(write_text("badnum.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "POINTS 1\nDATA ascii\n1 2 zz\n"),
                     "bad value 'zz'");
  cloud_expect_error(write_text("wh.pcd",
                                "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                                "WIDTH 3\nPOINTS 1\nDATA ascii\n1 2 3\n"),
                     "does not match POINTS");
}
