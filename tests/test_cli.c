/* SPDX-License-Identifier: Apache-2.0 */
/* Bad inputs through the clsp binary (host suite): clsp conv and clsp bench
 * must exit non-zero with a message naming the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "io/npy.h"

static char tmpdir[256];

static int setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clsp-cli-test-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

/* Runs `clsp ARGS`, output to log.txt; returns the exit status and the log
 * in `log` (NUL-terminated). */
static int run_clsp(const char *args, char *log, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' %s > '%s/log.txt' 2>&1", CLSP_TOOL_PATH, args, tmpdir);
  int rc = system(cmd);
  log[0] = 0;
  FILE *f = fopen(path("log.txt"), "rb");
  if (f) {
    size_t n = fread(log, 1, cap - 1, f);
    log[n] = 0;
    fclose(f);
  }
  return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 1000 + WTERMSIG(rc));
}

/* Fails unless `clsp ARGS` exits with a non-zero status (not a signal) and
 * prints every NULL-terminated substring. */
static void expect_failure(const char *args, ...) {
  char log[16384];
  int rc = run_clsp(args, log, sizeof log);
  if (rc <= 0 || rc > 255)
    fail_msg("clsp %s: exit status %d (1000 + n: signal n), expected 1..255\n%s", args, rc, log);
  va_list ap;
  va_start(ap, args);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
    if (!strstr(log, s)) fail_msg("clsp %s: output does not mention '%s':\n%s", args, s, log);
  va_end(ap);
}
#define EXPECT_FAILURE(args, ...) expect_failure((args), __VA_ARGS__, (const char *)NULL)

static void write_npy(const char *name, clsp_npy_dtype dt, int rank, size_t rows, size_t cols,
                      const void *data) {
  char err[512];
  size_t shape[2] = {rows, cols};
  if (clsp_npy_write(path(name), dt, rank, shape, data, err, sizeof err) != 0)
    fail_msg("%s", err);
}

/* A rank-3 float32 .npy (clsp_npy_write writes rank 1 and 2 only). */
static void write_npy3(const char *name, size_t a, size_t b, size_t c, const float *data) {
  char header[128];
  int n = snprintf(header, sizeof header,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu, %zu), }", a,
                   b, c);
  int total = 10 + n + 1;
  int pad = (64 - total % 64) % 64;
  FILE *f = fopen(path(name), "wb");
  assert_non_null(f);
  unsigned short hlen = (unsigned short)(n + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hlen & 0xff, f);
  fputc(hlen >> 8, f);
  fwrite(header, 1, (size_t)n, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(data, sizeof(float), a * b * c, f);
  fclose(f);
}

static void write_bytes(const char *name, const char *data, size_t n) {
  FILE *f = fopen(path(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

/* Valid inputs: 4 sites in an 8^3 grid, 2 -> 3 channels, 3^3 kernel. */
static void write_valid_inputs(void) {
  static const int32_t coords[4][4] = {{0, 1, 1, 1}, {0, 1, 2, 1}, {0, 5, 5, 5}, {0, 7, 0, 3}};
  static const float feats[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  float w[27 * 2 * 3];
  for (int i = 0; i < 27 * 2 * 3; i++) w[i] = (float)(i % 7) * 0.25f;
  write_npy("coords.npy", CLSP_NPY_I32, 2, 4, 4, coords);
  write_npy("feats.npy", CLSP_NPY_F32, 2, 4, 2, feats);
  write_npy3("weights.npy", 27, 2, 3, w);
}

/* The base command line with `extra` appended; `skip` drops one option
 * (and its value) from the base. */
static const char *conv_args(const char *skip, const char *extra) {
  static char buf[4096];
  const char *opts[][2] = {
    {"--type", "subm"},          {"--coords", path("coords.npy")},
    {"--feats", path("feats.npy")}, {"--weights", path("weights.npy")},
    {"--shape", "8,8,8"},        {"--batch", "1"},
    {"--kernel", "3"},           {"--out-coords", path("oc.npy")},
    {"--out-feats", path("of.npy")},
  };
  int n = snprintf(buf, sizeof buf, "conv");
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (!skip || strcmp(skip, opts[i][0]))
      n += snprintf(buf + n, sizeof buf - (size_t)n, " %s '%s'", opts[i][0], opts[i][1]);
  snprintf(buf + n, sizeof buf - (size_t)n, " %s", extra ? extra : "");
  return buf;
}

static void test_conv_valid_baseline(void **state) {
  (void)state;
  write_valid_inputs();
  char log[16384];
  int rc = run_clsp(conv_args(NULL, NULL), log, sizeof log);
  if (rc != 0) fail_msg("the valid baseline failed (%d):\n%s", rc, log);
}

static void test_conv_missing_options(void **state) {
  (void)state;
  write_valid_inputs();
  static const char *const required[] = {"--type", "--coords", "--feats", "--weights",
                                         "--shape", "--batch", "--kernel", "--out-coords",
                                         "--out-feats"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "%s is required", required[i]);
    EXPECT_FAILURE(conv_args(required[i], NULL), want);
  }
  EXPECT_FAILURE(conv_args(NULL, "--kernel"), "--kernel needs a value");
  EXPECT_FAILURE(conv_args(NULL, "--bogus 1"), "unknown option '--bogus'");
}

static void test_conv_bad_values(void **state) {
  (void)state;
  write_valid_inputs();
  EXPECT_FAILURE(conv_args("--type", "--type dense"), "--type 'dense'",
                 "subm, conv, transposed or inverse");
  EXPECT_FAILURE(conv_args("--kernel", "--kernel 0"), "--kernel '0'", ">= 1");
  EXPECT_FAILURE(conv_args("--type", "--type conv --stride 0"), "--stride '0'", ">= 1");
  EXPECT_FAILURE(conv_args("--type", "--type conv --padding -1"), "--padding '-1'", ">= 0");
  EXPECT_FAILURE(conv_args("--shape", "--shape 8,8,8,8,8"), "--shape '8,8,8,8,8'",
                 "1 to 4 values");
  EXPECT_FAILURE(conv_args("--kernel", "--kernel 3,3"), "--kernel '3,3'", "1 or 3 values");
  EXPECT_FAILURE(conv_args("--batch", "--batch 0"), "--batch '0'");
  EXPECT_FAILURE(conv_args("--type", "--type inverse"), "--target-coords",
                 "for --type inverse", "is required");
  /* Padding beyond the kernel extent: the library's geometry check. */
  EXPECT_FAILURE(conv_args("--type", "--type conv --padding 3"), "padding 3",
                 "invalid argument");
}

static void test_conv_bad_files(void **state) {
  (void)state;
  write_valid_inputs();
  static const float fcoords[4][4] = {{0}};
  write_npy("fcoords.npy", CLSP_NPY_F32, 2, 4, 4, fcoords);
  char a[4096];
  snprintf(a, sizeof a, "--coords '%s'", path("fcoords.npy"));
  EXPECT_FAILURE(conv_args("--coords", a), "fcoords.npy", "dtype is float32, expected int32");
  /* Coordinates with the wrong number of columns. */
  static const int32_t c3[4][3] = {{0}};
  write_npy("c3.npy", CLSP_NPY_I32, 2, 4, 3, c3);
  snprintf(a, sizeof a, "--coords '%s'", path("c3.npy"));
  EXPECT_FAILURE(conv_args("--coords", a), "c3.npy", "N x 4 int32");
  /* Feats rows != coords rows. */
  static const float f5[5][2] = {{0}};
  write_npy("f5.npy", CLSP_NPY_F32, 2, 5, 2, f5);
  snprintf(a, sizeof a, "--feats '%s'", path("f5.npy"));
  EXPECT_FAILURE(conv_args("--feats", a), "f5.npy", "N = 4 rows");
  /* Weights of rank 2. */
  static const float w2[27][6] = {{0}};
  write_npy("w2.npy", CLSP_NPY_F32, 2, 27, 6, w2);
  snprintf(a, sizeof a, "--weights '%s'", path("w2.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "w2.npy", "weights of rank 2");
  /* Weights Cin = 5, feats C = 2. */
  static float w5[27 * 5 * 3];
  write_npy3("w5.npy", 27, 5, 3, w5);
  snprintf(a, sizeof a, "--weights '%s'", path("w5.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "w5.npy", "Cin = 5", "2 channels");
  /* Weights with the wrong number of taps for --kernel. */
  write_npy3("w9.npy", 9, 2, 3, w5);
  snprintf(a, sizeof a, "--weights '%s'", path("w9.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "w9.npy", "9 kernel taps", "gives 27");
  /* A truncated .npy: the valid feats file less its last 4 bytes. */
  FILE *f = fopen(path("feats.npy"), "rb");
  assert_non_null(f);
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  write_bytes("trunc.npy", buf, n - 4);
  snprintf(a, sizeof a, "--feats '%s'", path("trunc.npy"));
  EXPECT_FAILURE(conv_args("--feats", a), "trunc.npy", "truncated");
  write_bytes("trunc_header.npy", buf, 20);
  snprintf(a, sizeof a, "--feats '%s'", path("trunc_header.npy"));
  EXPECT_FAILURE(conv_args("--feats", a), "trunc_header.npy", "truncated .npy header");
  /* A file that does not exist. */
  snprintf(a, sizeof a, "--weights '%s'", path("missing.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "missing.npy", "cannot open");
}

static void test_conv_coords_outside_shape(void **state) {
  (void)state;
  write_valid_inputs();
  /* Row 2 = (0, 5, 5, 5) lies outside a 4^3 grid: the library's
   * OUT_OF_RANGE message is printed. */
  EXPECT_FAILURE(conv_args("--shape", "--shape 4,4,4"), "coordinate out of range",
                 "coords row 2", "coordinate 5 outside [0, 4)");
  EXPECT_FAILURE(conv_args("--batch", "--batch 1 --shape 8,8,2"), "coordinate out of range",
                 "coords row 2");
}

static void test_bench_bad_inputs(void **state) {
  (void)state;
  EXPECT_FAILURE("bench --net resnet", "--net 'resnet'", "second or minkunet");
  write_bytes("bad.bin", "0123456789", 10);
  char a[1024];
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("bad.bin"));
  EXPECT_FAILURE(a, "bad.bin");
  const char pcd[] = "# .PCD v0.7\nVERSION 0.7\nFIELDS x y\nSIZE 4 4\nTYPE F F\n"
                     "COUNT 1 1\nWIDTH 3\nHEIGHT 1\nPOINTS 3\nDATA binary\n\x01\x02";
  write_bytes("bad.pcd", pcd, sizeof pcd - 1);
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("bad.pcd"));
  EXPECT_FAILURE(a, "bad.pcd");
  const char ply[] = "ply\nformat binary_little_endian 1.0\nelement vertex 100\n"
                     "property float x\nproperty float y\nproperty float z\nend_header\n"
                     "\x00\x00\x80\x3f";
  write_bytes("bad.ply", ply, sizeof ply - 1);
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("bad.ply"));
  EXPECT_FAILURE(a, "bad.ply");
  write_bytes("garbage.ply", "not a ply file at all\n", 22);
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("garbage.ply"));
  EXPECT_FAILURE(a, "garbage.ply");
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("missing.pcd"));
  EXPECT_FAILURE(a, "missing.pcd", "cannot open");
}

/* clsp run: missing options, unreadable or non-ONNX models, voxels that do
 * not fit the model (with the shared SECOND bundle when present). */
static void test_run_bad_inputs(void **state) {
  (void)state;
  char a[2048];
  EXPECT_FAILURE("run", "required");
  write_valid_inputs();
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'", path("missing.onnx"),
           path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "missing.onnx");
  write_bytes("junk.onnx", "\x08\x07\x12\xff\xff junk", 11);
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'", path("junk.onnx"),
           path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "not an ONNX");
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s' --repeat 0",
           path("junk.onnx"), path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "--repeat");
  char model[1024];
  snprintf(model, sizeof model, "%s/second-scn/second.scn.onnx", CLSP_MODELS_DEFAULT_DIR);
  FILE *f = fopen(model, "rb");
  if (!f) return; /* the rest needs ../shared */
  fclose(f);
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'", model,
           path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "feats.npy", "4 channels");
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'", model,
           path("feats.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "int32");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_bad_inputs),
    cmocka_unit_test(test_conv_valid_baseline),
    cmocka_unit_test(test_conv_missing_options),
    cmocka_unit_test(test_conv_bad_values),
    cmocka_unit_test(test_conv_bad_files),
    cmocka_unit_test(test_conv_coords_outside_shape),
    cmocka_unit_test(test_bench_bad_inputs),
  };
  if (setup() != 0) return 1;
  int rc = HARNESS_RUN("cli", tests, 0);
  teardown();
  return rc;
}
