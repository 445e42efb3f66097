/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: the PLY reader. */
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
/* PLY */

const char *PLY_ASCII =
  "ply\nformat ascii 1.0\ncomment made by hand\n"
  "element vertex 3\nproperty float x\nproperty float y\n"
  "property float z\nproperty uchar red\nproperty float intensity\n"
  "element face 1\nproperty list uchar int vertex_indices\n"
  "end_header\n"
  "1 2 3 255 0.5\n4 5 6 0 0.25\n-1 -2 -3 10 0\n3 0 1 2\n";

void test_ply_ascii(void **state) {
  (void)state;
  const char *path = write_text("ascii.ply", PLY_ASCII);
  float *pts = read_cloud_ok(path, 3);
  expect_point(pts, 0, 1, 2, 3, 0.5f, path);
  expect_point(pts, 2, -1, -2, -3, 0, path);
  free(pts);

  /* An element with a list property before the vertices, float32
     * spellings, scalar_intensity and CRLF line ends. */
  path = write_text("ascii_pre.PLY",
                    "ply\r\nformat ascii 1.0\r\nobj_info scanner\r\n"
                    "element material 2\r\nproperty list uchar float coeffs\r\n"
                    "property uchar id\r\nelement vertex 2\r\nproperty float32 x\r\n"
                    "property float32 y\r\nproperty float64 z\r\n"
                    "property float32 scalar_intensity\r\nend_header\r\n"
                    "3 0.1 0.2 0.3 7\r\n0 8\r\n1 2 3 0.5\r\n4 5 6 0.25\r\n");
  pts = read_cloud_ok(path, 2);
  expect_point(pts, 1, 4, 5, 6, 0.25f, path);
  free(pts);
}

void build_ply_binary(bytes *o) {
  o->n = 0;
  put_str(o,
          "ply\nformat binary_little_endian 1.0\ncomment test\n"
          "element vertex 2\nproperty float x\nproperty float y\n"
          "property float z\nproperty float intensity\n"
          "element face 1\nproperty list uchar int vertex_indices\n"
          "end_header\n");
  float v[8] = {1, 2, 3, 0.5f, -4, -5, -6, 0.75f};
  for (int i = 0; i < 8; i++) put_f32(o, v[i]);
  put_uint(o, 3, 1), put_uint(o, 0, 4), put_uint(o, 1, 4);
  put_uint(o, 1, 4);
}

void test_ply_binary(void **state) {
  (void)state;
  bytes o;
  build_ply_binary(&o);
  const char *path = write_bytes("binary.ply", o.b, o.n);
  float *pts = read_cloud_ok(path, 2);
  expect_point(pts, 1, -4, -5, -6, 0.75f, path);
  free(pts);

  /* Doubles, extra properties, and an element with lists before the
     * vertices that has to be skipped in binary. */
  o.n = 0;
  put_str(&o,
          "ply\nformat binary_little_endian 1.0\n"
          "element camera 2\nproperty list uchar int idx\n"
          "property float f\nelement vertex 2\nproperty uchar red\n"
          "property double x\nproperty double y\nproperty double z\n"
          "property short label\nend_header\n");
  put_uint(&o, 2, 1), put_uint(&o, 5, 4), put_uint(&o, 6, 4);
  put_f32(&o, 1.0f);
  put_uint(&o, 0, 1), put_f32(&o, 2.0f);
  for (int i = 0; i < 2; i++) {
    put_uint(&o, 200, 1);
    put_f64(&o, 0.5 + i), put_f64(&o, -1.25), put_f64(&o, 100.0);
    put_uint(&o, 0xffff, 2);
  }
  path = write_bytes("binary_double.ply", o.b, o.n);
  pts = read_cloud_ok(path, 2);
  expect_point(pts, 1, 1.5f, -1.25f, 100.0f, 0.0f, path);
  free(pts);
}

void test_ply_malformed(void **state) {
  (void)state;
  const char *hdr =
    "ply\nformat binary_little_endian 1.0\n"
    "element vertex 10\nproperty float x\n"
    "property float y\nproperty float z\nend_header\n";
  bytes o = {.n = 0};
  put_str(&o, hdr);
  for (int i = 0; i < 7; i++) put_f32(&o, 1.0f);
  cloud_expect_error(write_bytes("trunc.ply", o.b, o.n),
                     "header says 10 vertices but the file holds 2");
  cloud_expect_error(write_text("trunc_ascii.ply",
                                "ply\nformat ascii 1.0\nelement vertex 3\n"
                                "property float x\nproperty float y\n"
                                "property float z\nend_header\n"
                                "1 2 3\n4 5 6\n"),
                     "vertex 2 of 3");
  cloud_expect_error(write_text("huge_ascii.ply",
                                "ply\nformat ascii 1.0\n"
                                "element vertex 1000000000000\n"
                                "property float x\nproperty float y\n"
                                "property float z\nend_header\n1 2 3\n"),
                     "header says 1000000000000 vertices");
  cloud_expect_error(write_text("bigendian.ply",
                                "ply\nformat binary_big_endian 1.0\n"
                                "element vertex 0\nproperty float x\n"
                                "end_header\n"),
                     "big-endian");
  cloud_expect_error(write_text("nox.ply",
                                "ply\nformat ascii 1.0\nelement vertex 1\n"
                                "property float y\nproperty float z\n"
                                "end_header\n1 2\n"),
                     "no scalar property 'x'");
  cloud_expect_error(write_text("noend.ply",
                                "ply\nformat ascii 1.0\nelement vertex 1\n"
                                "property float x\n"),
                     "no end_header");
  cloud_expect_error(write_text("notply.ply", "solid cube\n"), "not a PLY");
  cloud_expect_error(write_text("badprop.ply",
                                "ply\nformat ascii 1.0\nelement vertex 1\n"
                                "property quaternion x\nend_header\n"),
                     "bad property line");
  /* A list element before the vertices whose counts run off the end. */
  o.n = 0;
  put_str(&o,
          "ply\nformat binary_little_endian 1.0\n"
          "element junk 1000000\nproperty list uint float v\n"
          "element vertex 1\nproperty float x\nproperty float y\n"
          "property float z\nend_header\n");
  put_uint(&o, 0xffffffffu, 4);
  cloud_expect_error(write_bytes("junk.ply", o.b, o.n), "ends inside element 'junk'");
}
