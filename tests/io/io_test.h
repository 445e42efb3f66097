/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the io suite's files (tests/io): temporary files in a per-run
 * folder, little-endian fixture builders, error and point checks, and the
 * fixtures more than one format's tests use (the torture test). */
#ifndef CLSP_TESTS_IO_TEST_H
#define CLSP_TESTS_IO_TEST_H

#include <stddef.h>
#include <stdint.h>

/* Fails the current test with a formatted message (file name, seed...). */
#define CHECK(cond, ...)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      print_error("CHECK failed: %s\n  ", #cond);                                        \
      print_error(__VA_ARGS__);                                                          \
      print_error("\n");                                                                 \
      fail();                                                                            \
    }                                                                                    \
  } while (0)

/* cmocka group set-up/teardown: the temporary folder. */
int group_setup(void **state);
int group_teardown(void **state);

/* A path in the temporary folder (8 rotating buffers). */
const char *tmp_path(const char *name);
const char *write_bytes(const char *name, const void *data, size_t n);
const char *write_text(const char *name, const char *text);
unsigned char *read_all(const char *path, size_t *n);

/* Little-endian byte builder for binary fixtures. */
typedef struct {
  unsigned char b[8192];
  size_t n;
} bytes;

void put(bytes *o, const void *p, size_t n);
void put_uint(bytes *o, uint64_t v, int size);
void put_f32(bytes *o, float f);
void put_f64(bytes *o, double d);
void put_str(bytes *o, const char *s);

/* Asserts a failed call whose message names the file and the problem. */
void expect_error(int rc, const char *err, const char *path, const char *needle);
/* Asserts point i (4 floats) of pts. */
void expect_point(const float *pts, size_t i, float x, float y, float z, float in,
                  const char *path);
/* clsp_cloud_read() that must succeed with expect_n points. */
float *read_cloud_ok(const char *path, size_t expect_n);
/* clsp_cloud_read() that must fail with needle in the message. */
void cloud_expect_error(const char *path, const char *needle);

/* Fixtures (test_npy.c, test_pcd.c, test_ply.c). */
size_t numpy_reference(unsigned char *out, const char *dict);
extern const char *PCD_ASCII;
extern const char *PLY_ASCII;
void build_pcd_binary(bytes *o);
void build_ply_binary(bytes *o);

/* The tests, by file. */
void test_npy_roundtrip(void **state);
void test_npy_numpy_reference(void **state);
void test_npy_versions(void **state);
void test_npy_rank5(void **state);
void test_npy_malformed(void **state);
void test_npy_wide(void **state);
void test_kitti(void **state);
void test_bin_fields(void **state);
void test_pcd_ascii(void **state);
void test_pcd_rgb(void **state);
void test_pcd_binary(void **state);
void test_pcd_malformed(void **state);
void test_ply_ascii(void **state);
void test_ply_binary(void **state);
void test_ply_malformed(void **state);
void test_torture(void **state);
void test_scene(void **state);

#endif
