/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: the .npy reader and writer. */
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
#include "io/npy.h"

/* ====================================================================== */
/* NPY */

static void npy_roundtrip(clsp_npy_dtype dt, int rank, size_t r, size_t c,
                          const char *name) {
  size_t count = r * (rank == 2 ? c : 1);
  uint32_t *src = malloc((count ? count : 1) * 4);
  for (size_t i = 0; i < count; i++) {
    if (dt == CLSP_NPY_F32) {
      float f = (float)i * 0.5f - 3.25f;
      memcpy(&src[i], &f, 4);
    } else {
      src[i] = (uint32_t)i * 7919u - 100000u; /* negatives too */
    }
  }
  char err[256] = "";
  size_t shape[2] = {r, c};
  const char *path = tmp_path(name);
  int rc = clsp_npy_write(path, dt, rank, shape, src, err, sizeof err);
  CHECK(rc == 0, "%s: write failed: %s", path, err);
  clsp_npy_array a;
  rc = clsp_npy_read(path, &a, err, sizeof err);
  CHECK(rc == 0, "%s: read failed: %s", path, err);
  CHECK(a.dtype == dt && a.rank == rank && a.shape[0] == r &&
          a.shape[1] == (rank == 2 ? c : 1),
        "%s: got dtype %d rank %d shape (%zu, %zu)", path, a.dtype, a.rank, a.shape[0],
        a.shape[1]);
  CHECK(a.data != NULL && memcmp(a.data, src, count * 4) == 0,
        "%s: data differs after round trip", path);
  clsp_npy_free(&a);
  CHECK(a.data == NULL, "%s: clsp_npy_free left data", path);
  free(src);
}

void test_npy_roundtrip(void **state) {
  (void)state;
  npy_roundtrip(CLSP_NPY_F32, 2, 3, 4, "f32_r2.npy");
  npy_roundtrip(CLSP_NPY_F32, 1, 17, 0, "f32_r1.npy");
  npy_roundtrip(CLSP_NPY_I32, 2, 100, 3, "i32_r2.npy");
  npy_roundtrip(CLSP_NPY_I32, 1, 5, 0, "i32_r1.npy");
  npy_roundtrip(CLSP_NPY_F32, 2, 0, 4, "f32_empty.npy");
  npy_roundtrip(CLSP_NPY_I32, 2, 123456, 4, "i32_big.npy");
}

/* Builds the exact bytes numpy.save writes (numpy >= 1.24, v1.0). */
size_t numpy_reference(unsigned char *out, const char *dict) {
  memset(out, ' ', 128);
  memcpy(out, "\x93NUMPY\x01\x00\x76\x00", 10); /* header length 118 */
  memcpy(out + 10, dict, strlen(dict));
  out[127] = '\n';
  return 128;
}

void test_npy_numpy_reference(void **state) {
  (void)state;
  unsigned char ref[256];
  /* np.save(f, np.array([[1, 2, 3], [4, 5, 6]], dtype='<f4')) */
  size_t n =
    numpy_reference(ref, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  for (int i = 0; i < 6; i++) {
    float f = (float)(i + 1);
    memcpy(ref + n + 4 * i, &f, 4);
  }
  const char *path = write_bytes("numpy_ref.npy", ref, n + 24);
  char err[256] = "";
  clsp_npy_array a;
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(a.dtype == CLSP_NPY_F32 && a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 3 &&
          ((float *)a.data)[5] == 6.0f,
        "%s: wrong array", path);

  /* Our writer must produce the same bytes. */
  const char *mine = tmp_path("numpy_ref_mine.npy");
  size_t shape[2] = {2, 3};
  CHECK(clsp_npy_write(mine, CLSP_NPY_F32, 2, shape, a.data, err, sizeof err) == 0,
        "%s: %s", mine, err);
  clsp_npy_free(&a);
  size_t got_n;
  unsigned char *got = read_all(mine, &got_n);
  CHECK(got_n == n + 24 && memcmp(got, ref, got_n) == 0,
        "%s: bytes differ from numpy's (size %zu vs %zu)", mine, got_n, n + 24);
  free(got);

  /* np.save(f, np.arange(3, dtype='<i4')) */
  n = numpy_reference(ref, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }");
  for (int i = 0; i < 3; i++) memcpy(ref + n + 4 * i, &i, 4);
  path = write_bytes("numpy_ref_i4.npy", ref, n + 12);
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(a.dtype == CLSP_NPY_I32 && a.rank == 1 && a.shape[0] == 3 && a.shape[1] == 1 &&
          ((int32_t *)a.data)[2] == 2,
        "%s: wrong array", path);
  clsp_npy_free(&a);
  size_t shape1[2] = {3, 0};
  int32_t vals[3] = {0, 1, 2};
  CHECK(clsp_npy_write(mine, CLSP_NPY_I32, 1, shape1, vals, err, sizeof err) == 0,
        "%s: %s", mine, err);
  got = read_all(mine, &got_n);
  CHECK(got_n == n + 12 && memcmp(got, ref, got_n) == 0,
        "%s: rank-1 bytes differ from numpy's", mine);
  free(got);
}

/* Old numpy (16-byte alignment, no growth padding), v2.0 and v3.0. */
void test_npy_versions(void **state) {
  (void)state;
  const char *dict =
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (2L,), }";
  for (int major = 1; major <= 3; major++) {
    bytes o = {.n = 0};
    size_t pre = major == 1 ? 10 : 12;
    size_t hlen = strlen(dict) + 1;
    hlen += (16 - (pre + hlen) % 16) % 16;
    put_str(&o, "\x93NUMPY");
    put_uint(&o, (uint64_t)major, 1);
    put_uint(&o, 0, 1);
    put_uint(&o, hlen, major == 1 ? 2 : 4);
    put_str(&o, dict);
    while (o.n < pre + hlen - 1) put_str(&o, " ");
    put_str(&o, "\n");
    put_f32(&o, 1.5f);
    put_f32(&o, -2.5f);
    char name[32], err[256] = "";
    snprintf(name, sizeof name, "v%d.npy", major);
    const char *path = write_bytes(name, o.b, o.n);
    clsp_npy_array a;
    CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
    CHECK(a.shape[0] == 2 && ((float *)a.data)[1] == -2.5f, "%s: wrong data", path);
    clsp_npy_free(&a);
  }
}

/* Writes a v1.0 file with the given dict text and data byte count. */
static const char *npy_with_header(const char *name, const char *dict,
                                   size_t data_bytes) {
  static unsigned char buf[4096];
  size_t hlen = strlen(dict) + 1;
  hlen += (64 - (10 + hlen) % 64) % 64;
  memset(buf, ' ', 10 + hlen);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  memcpy(buf + 10, dict, strlen(dict));
  buf[10 + hlen - 1] = '\n';
  memset(buf + 10 + hlen, 0, data_bytes);
  return write_bytes(name, buf, 10 + hlen + data_bytes);
}

static void npy_expect_error(const char *path, const char *needle) {
  char err[256] = "";
  clsp_npy_array a;
  int rc = clsp_npy_read(path, &a, err, sizeof err);
  CHECK(a.data == NULL, "%s: data left allocated after error", path);
  expect_error(rc, err, path, needle);
}

/* Kernel weights of a 3D conv are rank 5: [Cout][Cin][kz][ky][kx]. */
void test_npy_rank5(void **state) {
  (void)state;
  const char *path = npy_with_header("rank5.npy",
                                     "{'descr': '<f4', 'fortran_order': "
                                     "False, 'shape': (2, 1, 1, 1, 3), }",
                                     24);
  char err[256] = "";
  clsp_npy_array a;
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(a.rank == 5 && a.shape[0] == 2 && a.shape[1] == 1 && a.shape[4] == 3 &&
          a.shape[5] == 1,
        "%s: got rank %d", path, a.rank);
  clsp_npy_free(&a);
}

void test_npy_malformed(void **state) {
  (void)state;
  const char *good_f4 =
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (3, 4), }";
  npy_expect_error(write_bytes("short.npy", "\x93NUMPY\x01", 7), "too short");
  npy_expect_error(write_bytes("badmagic.npy",
                               "\x93NUMPZ\x01\x00\x76\x00"
                               "{}                 ",
                               29),
                   "bad magic");
  /* Header length says 118 bytes but only a few follow. */
  npy_expect_error(write_bytes("trunc_header.npy", "\x93NUMPY\x01\x00\x76\x00{'descr'",
                               18),
                   "truncated .npy header");
  npy_expect_error(npy_with_header("trunc_data.npy", good_f4, 40), "needs 48 bytes");
  npy_expect_error(npy_with_header("trailing.npy", good_f4, 52), "trailing");
  npy_expect_error(npy_with_header("big_endian.npy",
                                   "{'descr': '>f4', 'fortran_order': "
                                   "False, 'shape': (3,), }",
                                   12),
                   "big-endian");
  npy_expect_error(npy_with_header("f2.npy",
                                   "{'descr': '<f2', 'fortran_order': "
                                   "False, 'shape': (3,), }",
                                   6),
                   "'<f2'");
  npy_expect_error(npy_with_header("i8_short.npy",
                                   "{'descr': '<i8', 'fortran_order': "
                                   "False, 'shape': (3,), }",
                                   12),
                   "needs 24 bytes");
  npy_expect_error(npy_with_header("fortran.npy",
                                   "{'descr': '<f4', 'fortran_order': "
                                   "True, 'shape': (3, 4), }",
                                   48),
                   "fortran_order");
  npy_expect_error(npy_with_header("rank3.npy",
                                   "{'descr': '<i4', 'fortran_order': "
                                   "False, 'shape': (2, 2, 2, 2, 2, 2, 2), }",
                                   32),
                   "rank 7");
  npy_expect_error(npy_with_header("rank0.npy",
                                   "{'descr': '<i4', 'fortran_order': "
                                   "False, 'shape': (), }",
                                   4),
                   "rank 0");
  /* A lying shape must be rejected before anything is allocated. */
  npy_expect_error(npy_with_header("huge.npy",
                                   "{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': (1000000000000, 4), }",
                                   16),
                   "the file holds 16");
  npy_expect_error(npy_with_header("overflow.npy",
                                   "{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': (4294967296, "
                                   "4294967296), }",
                                   16),
                   "overflows");
  npy_expect_error(npy_with_header("nokey.npy", "{'descr': '<f4', 'shape': (3,), }", 12),
                   "'fortran_order'");
  npy_expect_error(npy_with_header("extrakey.npy",
                                   "{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': (3,), 'x': 1}",
                                   12),
                   "unexpected key");
  npy_expect_error(npy_with_header("garbage.npy",
                                   "{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': (3,)} junk",
                                   12),
                   "malformed");
  npy_expect_error(npy_with_header("unterminated.npy",
                                   "{'descr': '<f4, 'fortran_order': ", 12),
                   "malformed");
  npy_expect_error(tmp_path("does_not_exist.npy"), "cannot open");
}

/* numpy's defaults, int64 and float64: read as they are, then narrowed to
 * int32 / float32 when every value fits (else the first that does not). */
void test_npy_wide(void **state) {
  (void)state;
  const char *dict_i8 =
    "{'descr': '<i8', 'fortran_order': False, "
    "'shape': (2, 2), }";
  unsigned char ref[200];
  size_t h = numpy_reference(ref, dict_i8);
  bytes o = {.n = 0};
  put(&o, ref, h);
  const int64_t vals[4] = {0, -7, 2147483647, -2147483647 - 1};
  for (int i = 0; i < 4; i++) put_uint(&o, (uint64_t)vals[i], 8);
  const char *path = write_bytes("i8.npy", o.b, o.n);
  char err[256] = "";
  clsp_npy_array a;
  size_t bad = 99;
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(a.dtype == CLSP_NPY_I64 && a.shape[0] == 2 && a.shape[1] == 2, "%s: dtype %d",
        path, a.dtype);
  CHECK(clsp_npy_narrow(&a, &bad) == 0 && a.dtype == CLSP_NPY_I32, "%s", path);
  const int32_t *v = a.data;
  CHECK(v[0] == 0 && v[1] == -7 && v[2] == INT32_MAX && v[3] == INT32_MIN,
        "%s: %d %d %d %d", path, v[0], v[1], v[2], v[3]);
  clsp_npy_free(&a);

  o.n = h; /* the same header, a value past int32 in element 3 */
  const int64_t far[4] = {1, 2, 3, 2147483648LL};
  for (int i = 0; i < 4; i++) put_uint(&o, (uint64_t)far[i], 8);
  path = write_bytes("i8_far.npy", o.b, o.n);
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(clsp_npy_narrow(&a, &bad) != 0 && bad == 3, "%s: bad %zu", path, bad);
  clsp_npy_free(&a);

  h = numpy_reference(ref,
                      "{'descr': '<f8', 'fortran_order': False, "
                      "'shape': (3,), }");
  o.n = 0;
  put(&o, ref, h);
  put_f64(&o, 1.5);
  put_f64(&o, -0.1);
  put_f64(&o, 1e300);
  path = write_bytes("f8.npy", o.b, o.n);
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0 && a.dtype == CLSP_NPY_F64,
        "%s: %s", path, err);
  CHECK(clsp_npy_narrow(&a, &bad) != 0 && bad == 2, "%s: 1e300 accepted", path);
  clsp_npy_free(&a);
  o.n -= 8;
  put_f64(&o, 3.25);
  path = write_bytes("f8_ok.npy", o.b, o.n);
  CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(clsp_npy_narrow(&a, &bad) == 0 && a.dtype == CLSP_NPY_F32, "%s", path);
  const float *f = a.data;
  CHECK(f[0] == 1.5f && f[1] == -0.1f && f[2] == 3.25f, "%s: %g %g %g", path, f[0], f[1],
        f[2]);
  clsp_npy_free(&a);
}
