/* Tests for the clsp file readers/writers and the synthetic scene. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/npy.h"
#include "io/pointcloud.h"
#include "scene/scene.h"

static char g_dir[512];

/* Fails the current test with a formatted message (file name, seed...). */
#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            print_error("CHECK failed: %s\n  ", #cond);                      \
            print_error(__VA_ARGS__);                                         \
            print_error("\n");                                                \
            fail();                                                           \
        }                                                                     \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Temporary files */

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/clsp_test_io_XXXXXX",
             base && *base ? base : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (!d)
        return -1;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(g_dir);
}

static const char *tmp_path(const char *name)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", g_dir, name);
    return p;
}

static const char *write_bytes(const char *name, const void *data, size_t n)
{
    const char *path = tmp_path(name);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL, "cannot create %s", path);
    CHECK(fwrite(data, 1, n, fp) == n, "cannot write %s", path);
    fclose(fp);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    CHECK(buf && fread(buf, 1, (size_t)size, fp) == (size_t)size,
          "cannot read %s", path);
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

/* Little-endian byte builder for binary fixtures. */
typedef struct {
    unsigned char b[8192];
    size_t n;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
    CHECK(o->n + n <= sizeof o->b, "fixture buffer too small");
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_uint(bytes *o, uint64_t v, int size)
{
    for (int i = 0; i < size; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(o, &c, 1);
    }
}

static void put_f32(bytes *o, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_uint(o, u, 4);
}

static void put_f64(bytes *o, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_uint(o, u, 8);
}

static void put_str(bytes *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Asserts a failed call whose message names the file and the problem. */
static void expect_error(int rc, const char *err, const char *path,
                         const char *needle)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    CHECK(rc != 0, "%s: expected failure, got success", path);
    CHECK(strstr(err, base) != NULL, "%s: message lacks file name: '%s'",
          path, err);
    CHECK(strstr(err, needle) != NULL, "%s: message lacks '%s': '%s'", path,
          needle, err);
    if (getenv("TEST_IO_VERBOSE"))
        printf("    expected error: %s\n", err);
}

static void expect_point(const float *pts, size_t i, float x, float y,
                         float z, float in, const char *path)
{
    const float *p = pts + 4 * i;
    CHECK(fabsf(p[0] - x) < 1e-6f && fabsf(p[1] - y) < 1e-6f &&
              fabsf(p[2] - z) < 1e-6f && fabsf(p[3] - in) < 1e-6f,
          "%s: point %zu is (%g %g %g %g), expected (%g %g %g %g)", path, i,
          p[0], p[1], p[2], p[3], x, y, z, in);
}

/* ====================================================================== */
/* NPY */

static void npy_roundtrip(clsp_npy_dtype dt, int rank, size_t r, size_t c,
                          const char *name)
{
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
          "%s: got dtype %d rank %d shape (%zu, %zu)", path, a.dtype, a.rank,
          a.shape[0], a.shape[1]);
    CHECK(a.data != NULL && memcmp(a.data, src, count * 4) == 0,
          "%s: data differs after round trip", path);
    clsp_npy_free(&a);
    CHECK(a.data == NULL, "%s: clsp_npy_free left data", path);
    free(src);
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    npy_roundtrip(CLSP_NPY_F32, 2, 3, 4, "f32_r2.npy");
    npy_roundtrip(CLSP_NPY_F32, 1, 17, 0, "f32_r1.npy");
    npy_roundtrip(CLSP_NPY_I32, 2, 100, 3, "i32_r2.npy");
    npy_roundtrip(CLSP_NPY_I32, 1, 5, 0, "i32_r1.npy");
    npy_roundtrip(CLSP_NPY_F32, 2, 0, 4, "f32_empty.npy");
    npy_roundtrip(CLSP_NPY_I32, 2, 123456, 4, "i32_big.npy");
}

/* Builds the exact bytes numpy.save writes (numpy >= 1.24, v1.0). */
static size_t numpy_reference(unsigned char *out, const char *dict)
{
    memset(out, ' ', 128);
    memcpy(out, "\x93NUMPY\x01\x00\x76\x00", 10); /* header length 118 */
    memcpy(out + 10, dict, strlen(dict));
    out[127] = '\n';
    return 128;
}

static void test_npy_numpy_reference(void **state)
{
    (void)state;
    unsigned char ref[256];
    /* np.save(f, np.array([[1, 2, 3], [4, 5, 6]], dtype='<f4')) */
    size_t n = numpy_reference(
        ref, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    for (int i = 0; i < 6; i++) {
        float f = (float)(i + 1);
        memcpy(ref + n + 4 * i, &f, 4);
    }
    const char *path = write_bytes("numpy_ref.npy", ref, n + 24);
    char err[256] = "";
    clsp_npy_array a;
    CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
    CHECK(a.dtype == CLSP_NPY_F32 && a.rank == 2 && a.shape[0] == 2 &&
              a.shape[1] == 3 && ((float *)a.data)[5] == 6.0f,
          "%s: wrong array", path);

    /* Our writer must produce the same bytes. */
    const char *mine = tmp_path("numpy_ref_mine.npy");
    size_t shape[2] = {2, 3};
    CHECK(clsp_npy_write(mine, CLSP_NPY_F32, 2, shape, a.data, err,
                         sizeof err) == 0,
          "%s: %s", mine, err);
    clsp_npy_free(&a);
    size_t got_n;
    unsigned char *got = read_all(mine, &got_n);
    CHECK(got_n == n + 24 && memcmp(got, ref, got_n) == 0,
          "%s: bytes differ from numpy's (size %zu vs %zu)", mine, got_n,
          n + 24);
    free(got);

    /* np.save(f, np.arange(3, dtype='<i4')) */
    n = numpy_reference(
        ref, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }");
    for (int i = 0; i < 3; i++)
        memcpy(ref + n + 4 * i, &i, 4);
    path = write_bytes("numpy_ref_i4.npy", ref, n + 12);
    CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path, err);
    CHECK(a.dtype == CLSP_NPY_I32 && a.rank == 1 && a.shape[0] == 3 &&
              a.shape[1] == 1 && ((int32_t *)a.data)[2] == 2,
          "%s: wrong array", path);
    clsp_npy_free(&a);
    size_t shape1[2] = {3, 0};
    int32_t vals[3] = {0, 1, 2};
    CHECK(clsp_npy_write(mine, CLSP_NPY_I32, 1, shape1, vals, err,
                         sizeof err) == 0,
          "%s: %s", mine, err);
    got = read_all(mine, &got_n);
    CHECK(got_n == n + 12 && memcmp(got, ref, got_n) == 0,
          "%s: rank-1 bytes differ from numpy's", mine);
    free(got);
}

/* Old numpy (16-byte alignment, no growth padding), v2.0 and v3.0. */
static void test_npy_versions(void **state)
{
    (void)state;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, "
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
        while (o.n < pre + hlen - 1)
            put_str(&o, " ");
        put_str(&o, "\n");
        put_f32(&o, 1.5f);
        put_f32(&o, -2.5f);
        char name[32], err[256] = "";
        snprintf(name, sizeof name, "v%d.npy", major);
        const char *path = write_bytes(name, o.b, o.n);
        clsp_npy_array a;
        CHECK(clsp_npy_read(path, &a, err, sizeof err) == 0, "%s: %s", path,
              err);
        CHECK(a.shape[0] == 2 && ((float *)a.data)[1] == -2.5f,
              "%s: wrong data", path);
        clsp_npy_free(&a);
    }
}

/* Writes a v1.0 file with the given dict text and data byte count. */
static const char *npy_with_header(const char *name, const char *dict,
                                   size_t data_bytes)
{
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

static void npy_expect_error(const char *path, const char *needle)
{
    char err[256] = "";
    clsp_npy_array a;
    int rc = clsp_npy_read(path, &a, err, sizeof err);
    CHECK(a.data == NULL, "%s: data left allocated after error", path);
    expect_error(rc, err, path, needle);
}

/* Kernel weights of a 3D conv are rank 5: [Cout][Cin][kz][ky][kx]. */
static void test_npy_rank5(void **state)
{
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

static void test_npy_malformed(void **state)
{
    (void)state;
    const char *good_f4 = "{'descr': '<f4', 'fortran_order': False, "
                          "'shape': (3, 4), }";
    npy_expect_error(write_bytes("short.npy", "\x93NUMPY\x01", 7),
                     "too short");
    npy_expect_error(write_bytes("badmagic.npy", "\x93NUMPZ\x01\x00\x76\x00"
                                                 "{}                 ",
                                 29),
                     "bad magic");
    /* Header length says 118 bytes but only a few follow. */
    npy_expect_error(write_bytes("trunc_header.npy",
                                 "\x93NUMPY\x01\x00\x76\x00{'descr'", 18),
                     "truncated .npy header");
    npy_expect_error(npy_with_header("trunc_data.npy", good_f4, 40),
                     "needs 48 bytes");
    npy_expect_error(npy_with_header("trailing.npy", good_f4, 52),
                     "trailing");
    npy_expect_error(npy_with_header("big_endian.npy",
                                     "{'descr': '>f4', 'fortran_order': "
                                     "False, 'shape': (3,), }",
                                     12),
                     "big-endian");
    npy_expect_error(npy_with_header("f8.npy",
                                     "{'descr': '<f8', 'fortran_order': "
                                     "False, 'shape': (3,), }",
                                     24),
                     "'<f8'");
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
    npy_expect_error(npy_with_header("nokey.npy",
                                     "{'descr': '<f4', 'shape': (3,), }", 12),
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

/* ====================================================================== */
/* KITTI .bin */

static void test_kitti(void **state)
{
    (void)state;
    bytes o = {.n = 0};
    float vals[8] = {1.0f, 2.0f, -1.5f, 0.25f, 10.0f, -20.0f, 0.5f, 0.0f};
    for (int i = 0; i < 8; i++)
        put_f32(&o, vals[i]);
    const char *path = write_bytes("scan.BIN", o.b, o.n);
    char err[256] = "";
    float *pts;
    size_t n;
    CHECK(clsp_cloud_read(path, &pts, &n, err, sizeof err) == 0, "%s: %s",
          path, err);
    CHECK(n == 2, "%s: %zu points", path, n);
    expect_point(pts, 1, 10.0f, -20.0f, 0.5f, 0.0f, path);
    free(pts);

    /* Writer round trip. */
    const char *out = tmp_path("written.bin");
    CHECK(clsp_cloud_write_kitti(out, vals, 2, err, sizeof err) == 0,
          "%s: %s", out, err);
    CHECK(clsp_cloud_read_kitti(out, &pts, &n, err, sizeof err) == 0 &&
              n == 2,
          "%s: %s", out, err);
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

/* ====================================================================== */
/* PCD */

static const char *PCD_ASCII =
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

static float *read_cloud_ok(const char *path, size_t expect_n)
{
    char err[256] = "";
    float *pts;
    size_t n;
    CHECK(clsp_cloud_read(path, &pts, &n, err, sizeof err) == 0, "%s: %s",
          path, err);
    CHECK(n == expect_n, "%s: read %zu points, expected %zu", path, n,
          expect_n);
    return pts;
}

static void cloud_expect_error(const char *path, const char *needle)
{
    char err[256] = "";
    float *pts = (float *)&err; /* must be reset to NULL */
    size_t n = 99;
    int rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
    CHECK(pts == NULL && n == 0, "%s: output not cleared on error", path);
    expect_error(rc, err, path, needle);
}

static void test_pcd_ascii(void **state)
{
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

static float packed_rgb_float(uint32_t rgb)
{
    float f;
    memcpy(&f, &rgb, 4);
    return f;
}

static float luminance(uint32_t rgb)
{
    return (float)((0.299 * ((rgb >> 16) & 255) + 0.587 * ((rgb >> 8) & 255) +
                    0.114 * (rgb & 255)) /
                   256.0);
}

static void test_pcd_rgb(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             "FIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
             "WIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n"
             "1 2 3 %.9g\n4 5 6 %.9g\n",
             (double)packed_rgb_float(0x00ff8000u),
             (double)packed_rgb_float(0x00ffffffu));
    const char *path = write_text("rgb_ascii.pcd", text);
    float *pts = read_cloud_ok(path, 2);
    expect_point(pts, 0, 1, 2, 3, luminance(0x00ff8000u), path);
    CHECK(pts[7] < 1.0f && pts[7] > 0.99f, "%s: white luminance %g", path,
          pts[7]);
    free(pts);

    /* rgba stored as unsigned integer text. */
    path = write_text("rgba_ascii.pcd",
                      "FIELDS x y z rgba\nSIZE 4 4 4 4\nTYPE F F F U\n"
                      "WIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3 4278190335\n");
    pts = read_cloud_ok(path, 1);
    expect_point(pts, 0, 1, 2, 3, luminance(0xff0000ffu), path);
    free(pts);
}

static void build_pcd_binary(bytes *o)
{
    o->n = 0;
    put_str(o, "# binary\nVERSION 0.7\nFIELDS x y z intensity\n"
               "SIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\nWIDTH 2\n"
               "HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA binary\n");
    float v[8] = {1, 2, 3, 0.5f, -4, -5, -6, 0.125f};
    for (int i = 0; i < 8; i++)
        put_f32(o, v[i]);
}

static void test_pcd_binary(void **state)
{
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
    put_str(&o, "FIELDS x y z normal_x label descriptor rgb curvature flag\n"
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
    expect_point(pts, 1, 11.5f, -20.25f, 0.125f, luminance(0x00336699u),
                 path);
    free(pts);
}

static void test_pcd_malformed(void **state)
{
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
    put_str(&o, "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1000000000\n"
                "HEIGHT 1\nPOINTS 1000000000\nDATA binary\n");
    for (int i = 0; i < 6; i++)
        put_f32(&o, 1.0f);
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

/* ====================================================================== */
/* PLY */

static const char *PLY_ASCII =
    "ply\nformat ascii 1.0\ncomment made by hand\n"
    "element vertex 3\nproperty float x\nproperty float y\n"
    "property float z\nproperty uchar red\nproperty float intensity\n"
    "element face 1\nproperty list uchar int vertex_indices\n"
    "end_header\n"
    "1 2 3 255 0.5\n4 5 6 0 0.25\n-1 -2 -3 10 0\n3 0 1 2\n";

static void test_ply_ascii(void **state)
{
    (void)state;
    const char *path = write_text("ascii.ply", PLY_ASCII);
    float *pts = read_cloud_ok(path, 3);
    expect_point(pts, 0, 1, 2, 3, 0.5f, path);
    expect_point(pts, 2, -1, -2, -3, 0, path);
    free(pts);

    /* An element with a list property before the vertices, float32
     * spellings, scalar_intensity and CRLF line ends. */
    path = write_text(
        "ascii_pre.PLY",
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

static void build_ply_binary(bytes *o)
{
    o->n = 0;
    put_str(o, "ply\nformat binary_little_endian 1.0\ncomment test\n"
               "element vertex 2\nproperty float x\nproperty float y\n"
               "property float z\nproperty float intensity\n"
               "element face 1\nproperty list uchar int vertex_indices\n"
               "end_header\n");
    float v[8] = {1, 2, 3, 0.5f, -4, -5, -6, 0.75f};
    for (int i = 0; i < 8; i++)
        put_f32(o, v[i]);
    put_uint(o, 3, 1), put_uint(o, 0, 4), put_uint(o, 1, 4);
    put_uint(o, 1, 4);
}

static void test_ply_binary(void **state)
{
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
    put_str(&o, "ply\nformat binary_little_endian 1.0\n"
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

static void test_ply_malformed(void **state)
{
    (void)state;
    const char *hdr = "ply\nformat binary_little_endian 1.0\n"
                      "element vertex 10\nproperty float x\n"
                      "property float y\nproperty float z\nend_header\n";
    bytes o = {.n = 0};
    put_str(&o, hdr);
    for (int i = 0; i < 7; i++)
        put_f32(&o, 1.0f);
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
    put_str(&o, "ply\nformat binary_little_endian 1.0\n"
                "element junk 1000000\nproperty list uint float v\n"
                "element vertex 1\nproperty float x\nproperty float y\n"
                "property float z\nend_header\n");
    put_uint(&o, 0xffffffffu, 4);
    cloud_expect_error(write_bytes("junk.ply", o.b, o.n),
                       "ends inside element 'junk'");
}

/* ====================================================================== */
/* Robustness: every prefix and many byte mutations of valid files must be
 * either read or rejected cleanly (ASan/UBSan builds catch the rest). */

static int read_any(const char *path)
{
    char err[256] = "";
    if (strstr(path, ".npy")) {
        clsp_npy_array a;
        int rc = clsp_npy_read(path, &a, err, sizeof err);
        clsp_npy_free(&a);
        return rc;
    }
    float *pts;
    size_t n;
    int rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
    CHECK(rc == 0 || (err[0] != '\0' && pts == NULL),
          "%s: failed without a message", path);
    free(pts);
    return rc;
}

static void torture(const char *name, const unsigned char *data, size_t n)
{
    static unsigned char buf[8192];
    uint64_t state = 0x1234567u;
    for (size_t len = 0; len < n; len++)
        read_any(write_bytes(name, data, len));
    for (int k = 0; k < 300; k++) {
        memcpy(buf, data, n);
        for (int j = 0; j < 3; j++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(state >> 33) % n;
            buf[at] = (unsigned char)(state >> 17);
        }
        read_any(write_bytes(name, buf, n));
    }
}

static void test_torture(void **state)
{
    (void)state;
    bytes o;
    build_pcd_binary(&o);
    torture("t_bin.pcd", o.b, o.n);
    build_ply_binary(&o);
    torture("t_bin.ply", o.b, o.n);
    torture("t_ascii.pcd", (const unsigned char *)PCD_ASCII,
            strlen(PCD_ASCII));
    torture("t_ascii.ply", (const unsigned char *)PLY_ASCII,
            strlen(PLY_ASCII));
    unsigned char ref[160];
    size_t n = numpy_reference(
        ref, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    memset(ref + n, 0, 24);
    torture("t.npy", ref, n + 24);
    torture("t.bin", ref, 32);
}

/* ====================================================================== */
/* Synthetic scene */

static int in_second_range(const float *p)
{
    return p[0] >= 0.0f && p[0] < 70.4f && p[1] >= -40.0f && p[1] < 40.0f &&
           p[2] >= -3.0f && p[2] < 1.0f;
}

static void check_scene(uint64_t seed, float *pts, size_t n)
{
    CHECK(n >= 80000 && n <= 130000, "seed %llu: %zu points",
          (unsigned long long)seed, n);
    size_t inside = 0, ground = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = pts + 4 * i;
        CHECK(isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]) &&
                  p[3] >= 0.0f && p[3] < 1.0f,
              "seed %llu: point %zu is (%g %g %g %g)",
              (unsigned long long)seed, i, p[0], p[1], p[2], p[3]);
        CHECK(sqrtf(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) < 125.0f,
              "seed %llu: point %zu beyond range", (unsigned long long)seed,
              i);
        inside += in_second_range(p);
        ground += fabsf(p[2] + 1.73f) < 0.1f;
    }
    CHECK(inside >= n / 4, "seed %llu: only %zu of %zu points in the SECOND "
          "range", (unsigned long long)seed, inside, n);
    CHECK(ground >= n / 5, "seed %llu: only %zu ground points",
          (unsigned long long)seed, ground);
}

static void test_scene(void **state)
{
    (void)state;
    char err[256] = "";
    float *a, *b, *first = NULL;
    size_t na, nb, nfirst = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        CHECK(clsp_scene_generate(seed, &a, &na, err, sizeof err) == 0,
              "seed %llu: %s", (unsigned long long)seed, err);
        check_scene(seed, a, na);
        CHECK(clsp_scene_generate(seed, &b, &nb, err, sizeof err) == 0,
              "seed %llu: %s", (unsigned long long)seed, err);
        CHECK(na == nb && memcmp(a, b, na * 16) == 0,
              "seed %llu: two runs differ", (unsigned long long)seed);
        clsp_scene_free(b);
        if (seed == 1) {
            first = a;
            nfirst = na;
            continue;
        }
        CHECK(na != nfirst || memcmp(a, first, na * 16) != 0,
              "seeds 1 and %llu give identical scenes",
              (unsigned long long)seed);
        clsp_scene_free(a);
    }
    clsp_scene_free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_numpy_reference),
        cmocka_unit_test(test_npy_versions),
        cmocka_unit_test(test_npy_rank5),
        cmocka_unit_test(test_npy_malformed),
        cmocka_unit_test(test_kitti),
        cmocka_unit_test(test_pcd_ascii),
        cmocka_unit_test(test_pcd_rgb),
        cmocka_unit_test(test_pcd_binary),
        cmocka_unit_test(test_pcd_malformed),
        cmocka_unit_test(test_ply_ascii),
        cmocka_unit_test(test_ply_binary),
        cmocka_unit_test(test_ply_malformed),
        cmocka_unit_test(test_torture),
        cmocka_unit_test(test_scene),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
