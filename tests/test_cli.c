/* SPDX-License-Identifier: Apache-2.0 */
/* The clsp binary's conventions (host suite): bad inputs through clsp conv
 * and clsp bench exit with a message naming the problem; exit status 0 ok,
 * 1 failure (file, device, data), 2 usage, in every subcommand; usage
 * errors on stderr; --json -, --trace -, --stats - on stdout; numpy's
 * int64/float64 arrays; the hints (--weight-layout, --merge-duplicates).
 * And the training options end to end: clsp conv --grad-* and clsp pool
 * against the double-precision references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "io/npy.h"
#include "cli_util.h"
#include "ref_conv.h"
#include "ref_pool.h"

/* Fails unless `ENV clsp ARGS` exits with status `want` and prints every
 * NULL-terminated substring; usage errors (2) print nothing on stdout. */
static void expect_exit(int want, const char *env, const char *args, ...) {
  char log[32768], out[16384];
  int rc = run_clsp_env(env, args, log, sizeof log);
  if (rc != want)
    fail_msg("%s clsp %s: exit status %d (1000 + n: signal n), expected %d\n%s", env,
             args, rc, want, log);
  read_text("out.txt", out, sizeof out);
  if (want == 2 && out[0])
    fail_msg("clsp %s: a usage error printed on stdout:\n%s", args, out);
  va_list ap;
  va_start(ap, args);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
    if (!strstr(log, s))
      fail_msg("clsp %s: output does not mention '%s':\n%s", args, s, log);
  va_end(ap);
}
/* A failure (exit 1) and a usage error (exit 2), naming every string. */
#define EXPECT_FAILURE(args, ...)                                                        \
  expect_exit(1, "", (args), __VA_ARGS__, (const char *)NULL)
#define EXPECT_USAGE(args, ...)                                                          \
  expect_exit(2, "", (args), __VA_ARGS__, (const char *)NULL)

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
  static const char *const required[] = {"--type",    "--coords",     "--feats",
                                         "--weights", "--shape",      "--batch",
                                         "--kernel",  "--out-coords", "--out-feats"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "%s is required", required[i]);
    EXPECT_USAGE(conv_args(required[i], NULL), want);
  }
  EXPECT_USAGE(conv_args(NULL, "--kernel"), "--kernel needs a value");
  EXPECT_USAGE(conv_args(NULL, "--bogus 1"), "unknown option '--bogus'");
}

static void test_conv_bad_values(void **state) {
  (void)state;
  write_valid_inputs();
  EXPECT_USAGE(conv_args("--type", "--type dense"), "--type 'dense'",
               "subm, conv, transposed or inverse");
  EXPECT_USAGE(conv_args("--kernel", "--kernel 0"), "--kernel '0'", ">= 1");
  EXPECT_USAGE(conv_args("--type", "--type conv --stride 0"), "--stride '0'", ">= 1");
  EXPECT_USAGE(conv_args("--type", "--type conv --padding -1"), "--padding '-1'", ">= 0");
  EXPECT_USAGE(conv_args("--shape", "--shape 8,8,8,8,8"), "--shape '8,8,8,8,8'",
               "1 to 4 values");
  EXPECT_USAGE(conv_args("--kernel", "--kernel 3,3"), "--kernel '3,3'", "1 or 3 values");
  EXPECT_USAGE(conv_args("--batch", "--batch 0"), "--batch '0'");
  EXPECT_USAGE(conv_args("--type", "--type inverse"), "--target-coords",
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
  EXPECT_FAILURE(conv_args("--coords", a), "fcoords.npy",
                 "dtype is float32, expected int32");
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
  EXPECT_FAILURE(conv_args("--batch", "--batch 1 --shape 8,8,2"),
                 "coordinate out of range", "coords row 2");
}

static void test_bench_bad_inputs(void **state) {
  (void)state;
  EXPECT_USAGE("bench --net resnet", "--net 'resnet'", "second or minkunet");
  write_bytes("bad.bin", "0123456789", 10);
  char a[1024];
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("bad.bin"));
  EXPECT_FAILURE(a, "bad.bin");
  const char pcd[] =
    "# .PCD v0.7\nVERSION 0.7\nFIELDS x y\nSIZE 4 4\nTYPE F F\n"
    "COUNT 1 1\nWIDTH 3\nHEIGHT 1\nPOINTS 3\nDATA binary\n\x01\x02";
  write_bytes("bad.pcd", pcd, sizeof pcd - 1);
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("bad.pcd"));
  EXPECT_FAILURE(a, "bad.pcd");
  const char ply[] =
    "ply\nformat binary_little_endian 1.0\nelement vertex 100\n"
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
  EXPECT_USAGE("run", "required");
  write_valid_inputs();
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'",
           path("missing.onnx"), path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "missing.onnx");
  write_bytes("junk.onnx", "\x08\x07\x12\xff\xff junk", 11);
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s'",
           path("junk.onnx"), path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_FAILURE(a, "not an ONNX");
  snprintf(a, sizeof a, "run '%s' --coords '%s' --feats '%s' --out '%s' --repeat 0",
           path("junk.onnx"), path("coords.npy"), path("feats.npy"), path("out.npy"));
  EXPECT_USAGE(a, "--repeat");
  snprintf(a, sizeof a,
           "run '%s' --input '%s' --voxel-size 1,1,1 --range 0,0,0,1,1,1 --out '%s' "
           "--max-points -1",
           path("junk.onnx"), path("r.bin"), path("out.npy"));
  EXPECT_USAGE(a, "--max-points '-1'");
  snprintf(a, sizeof a,
           "run '%s' --input '%s' --voxel-size 1,1,1 --range 0,0,0,1,1,1 --out '%s' "
           "--max-points 5x",
           path("junk.onnx"), path("r.bin"), path("out.npy"));
  EXPECT_USAGE(a, "--max-points '5x'");
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
  /* --fields: a ragged .bin names its size; a field count the model's
   * input does not take names the --fields that does. */
  float rec[5 * 3] = {1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5};
  write_bytes("ragged5.bin", (const char *)rec, sizeof rec - 4);
  snprintf(a, sizeof a,
           "run '%s' --input '%s' --fields 4 --voxel-size 1,1,1 --range 0,0,0,9,9,9 "
           "--out "
           "'%s'",
           model, path("ragged5.bin"), path("out.npy"));
  EXPECT_FAILURE(a, "ragged5.bin", "56 bytes", "not a multiple of 16");
  snprintf(a, sizeof a,
           "run '%s' --input '%s' --fields 5 --voxel-size 1,1,1 --range 0,0,0,9,9,9 "
           "--out "
           "'%s'",
           model, path("ragged5.bin"), path("out.npy"));
  EXPECT_FAILURE(a, "has 4 channels", "--fields 4");
}

/* Every subcommand: a usage error exits 2 (stderr only), a runtime error
 * exits 1, --help exits 0. */
static void test_exit_codes(void **state) {
  (void)state;
  write_valid_inputs();
  EXPECT_USAGE("", "usage: clsp COMMAND");
  EXPECT_USAGE("nosuchcommand", "unknown command 'nosuchcommand'");
  EXPECT_USAGE("info --bogus", "unknown option '--bogus'");
  EXPECT_USAGE("warmup --bogus", "unknown option '--bogus'");
  EXPECT_USAGE("conv --bogus", "unknown option '--bogus'");
  EXPECT_USAGE("bench --bogus x", "unknown option '--bogus'");
  EXPECT_USAGE("bench --repeat x", "--repeat 'x'");
  EXPECT_USAGE("bench --fields 2", "--fields '2'", "3..64");
  EXPECT_USAGE("bench --layer subm:4:16:2", "--layer 'subm:4:16:2'");
  EXPECT_USAGE("bench --json - --trace -", "cannot both write to stdout");
  EXPECT_USAGE("bench --fields 5", "--fields 5 applies to .bin scans");
  EXPECT_USAGE("tune --bogus x", "--bogus");
  EXPECT_USAGE("tune --fields 65", "--fields '65'", "3..64");
  EXPECT_USAGE("tune --fields 5", "--fields 5 applies to .bin scans");
  EXPECT_USAGE(
    "run m.onnx --input s.bin --voxel-size 1,1,1 --range 0,0,0,1,1,1 --out o.npy "
    "--fields x",
    "--fields 'x'", "3..64");
  EXPECT_USAGE(
    "run m.onnx --input s.pcd --voxel-size 1,1,1 --range 0,0,0,1,1,1 --out o.npy "
    "--fields 5",
    "--fields 5 applies to .bin scans");
  EXPECT_USAGE("run m.onnx --coords c.npy --feats f.npy --out o.npy --stats - --trace -",
               "cannot both write to stdout");
  EXPECT_USAGE("tune --repeat 0", "--repeat '0'", "1..100");
  EXPECT_USAGE("tune --net resnet", "--net 'resnet'");
  expect_exit(1, "CLSP_DEVICE=nosuchdevice", "info --select", "CLSP_DEVICE=nosuchdevice",
              "selects no device", (const char *)NULL);
  EXPECT_FAILURE("warmup --device nosuchdevice", "--device 'nosuchdevice'", "clsp info");
  EXPECT_FAILURE("bench --device nosuchdevice --repeat 1", "--device 'nosuchdevice'");
  EXPECT_FAILURE("tune --device nosuchdevice --repeat 1", "--device 'nosuchdevice'");
  char a[4096];
  snprintf(a, sizeof a, "--weights '%s'", path("missing.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "missing.npy", "cannot open");
  snprintf(a, sizeof a, "bench --input '%s'", path("missing.bin"));
  EXPECT_FAILURE(a, "missing.bin", "cannot open");
  static const char *const helps[] = {"--help",      "info --help",  "warmup --help",
                                      "conv --help", "bench --help", "tune --help"};
  for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
    expect_exit(0, "", helps[i], "usage: clsp", (const char *)NULL);
}

/* CLSP_DEVICE names nothing: the message names the value and lists the
 * devices that exist (each line "  P:D  platform / device"). */
static void test_info_select_lists_devices(void **state) {
  (void)state;
  char log[16384];
  assert_int_equal(run_clsp_env("CLSP_DEVICE=nosuchdevice", "info --select", log,
                                sizeof log),
                   1);
  if (!strstr(log, "nosuchdevice") ||
      !(strstr(log, "the devices are") || strstr(log, "there is no OpenCL device")))
    fail_msg("info --select does not name the value and the devices:\n%s", log);
  if (strstr(log, "the devices are") && !strstr(log, "  0:0  "))
    fail_msg("no device listed:\n%s", log);
}

/* .bin scans that are not a whole number of --fields records. */
static void test_bench_ragged_fields(void **state) {
  (void)state;
  static const float pts[6] = {1, 2, 3, 4, 5, 6};
  write_bytes("r.bin", (const char *)pts, sizeof pts);
  char a[1024];
  snprintf(a, sizeof a, "bench --input '%s' --fields 5 --repeat 1", path("r.bin"));
  EXPECT_FAILURE(a, "r.bin", "size 24 bytes", "multiple of 20",
                 "5 float32 values per point");
  snprintf(a, sizeof a, "bench --input '%s' --repeat 1", path("r.bin"));
  EXPECT_FAILURE(a, "r.bin", "size 24 bytes", "multiple of 16");
}

/* --json -, --trace - and --stats - write their document to stdout and
 * nothing else (the table goes to stderr). */
/* clsp run --stats - / --trace - on the shared SECOND bundle: the
 * document alone on stdout, the summary on stderr, no file named "-". */
static void run_documents_on_stdout(void) {
  char model[1024], a[4096], log[65536], out[65536];
  snprintf(model, sizeof model, "%s/second-scn", CLSP_MODELS_DEFAULT_DIR);
  FILE *f = fopen(model, "rb");
  if (!f) return; /* needs ../shared */
  fclose(f);
  static const char *const docs[] = {"--stats -", "--trace -"};
  for (int k = 0; k < 2; k++) {
    snprintf(a, sizeof a,
             "run '%s/second.scn.onnx' --coords '%s/input_coords.npy' --feats "
             "'%s/input_feats.npy' --out '%s' %s",
             model, model, model, path("bev.npy"), docs[k]);
    int rc = run_clsp(a, log, sizeof log);
    if (rc != 0) fail_msg("clsp %s: exit %d\n%s", a, rc, log);
    read_text("out.txt", out, sizeof out);
    size_t n = strlen(out);
    if (n < 2 || out[0] != '{' || out[n - 2] != '}' ||
        !strstr(out, k ? "\"traceEvents\"" : "\"layers\"") ||
        strstr(out, "voxels, batch"))
      fail_msg("clsp %s: stdout is not just the document:\n%.400s", a, out);
    read_text("err.txt", log, sizeof log);
    if (!strstr(log, "voxels, batch"))
      fail_msg("clsp %s: the summary is not on stderr:\n%s", a, log);
    f = fopen("-", "rb");
    if (f) {
      fclose(f);
      remove("-");
      fail_msg("clsp %s: wrote a file named '-'", a);
    }
  }
}

static void test_documents_on_stdout(void **state) {
  (void)state;
  float pts[400 * 4];
  for (int i = 0; i < 400; i++) {
    pts[4 * i] = 10.0f + 0.01f * (float)(i % 37);
    pts[4 * i + 1] = 0.013f * (float)(i % 53);
    pts[4 * i + 2] = -1.0f + 0.007f * (float)(i % 11);
    pts[4 * i + 3] = 0.5f;
  }
  write_bytes("small.bin", (const char *)pts, sizeof pts);
  static const char *const docs[] = {"--json -", "--trace -"};
  for (int k = 0; k < 2; k++) {
    char a[1024], log[65536], out[32768];
    snprintf(a, sizeof a, "bench --input '%s' --layer subm:4:4:3 --repeat 1 %s",
             path("small.bin"), docs[k]);
    int rc = run_clsp(a, log, sizeof log);
    if (rc != 0) fail_msg("clsp %s: exit %d\n%s", a, rc, log);
    read_text("out.txt", out, sizeof out);
    size_t n = strlen(out);
    if (n < 2 || out[0] != '{' || out[n - 2] != '}' || out[n - 1] != '\n' ||
        !strstr(out, k ? "\"traceEvents\"" : "\"voxels\": ") ||
        strstr(out, "clsp bench:"))
      fail_msg("clsp %s: stdout is not just the document:\n%s", a, out);
    read_text("err.txt", log, sizeof log);
    if (!strstr(log, "GFLOP/s"))
      fail_msg("clsp %s: the table is not on stderr:\n%s", a, log);
  }
  write_valid_inputs();
  char log[32768], out[16384];
  assert_int_equal(run_clsp(conv_args(NULL, "--stats -"), log, sizeof log), 0);
  read_text("out.txt", out, sizeof out);
  if (out[0] != '{' || !strstr(out, "\"pairs_total\": "))
    fail_msg("clsp conv --stats -: stdout is not the JSON:\n%s", out);
  run_documents_on_stdout();
}

/* numpy's default dtypes: int64 coordinates that fit int32 and float64
 * features give the same output as int32/float32 (a note for float64);
 * an int64 coordinate beyond int32 is refused naming its row. */
static void test_conv_wide_dtypes(void **state) {
  (void)state;
  write_valid_inputs();
  char log[32768], base[4096], wide[4096], a[4096];
  assert_int_equal(run_clsp(conv_args(NULL, "--deterministic"), log, sizeof log), 0);
  read_text("of.npy", base, sizeof base);
  unlink(path("of.npy"));
  static const int64_t c64[4][4] = {{0, 1, 1, 1},
                                    {0, 1, 2, 1},
                                    {0, 5, 5, 5},
                                    {0, 7, 0, 3}};
  static const double f64[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  write_npy_raw("c64.npy", "<i8", "(4, 4)", c64, sizeof c64);
  write_npy_raw("f64.npy", "<f8", "(4, 2)", f64, sizeof f64);
  expect_exit(0, "", conv_on("c64.npy", "f64.npy", "--deterministic"),
              "note:", "f64.npy is float64; converted to float32", (const char *)NULL);
  read_text("of.npy", wide, sizeof wide);
  assert_memory_equal(base, wide, 128 + 4 * 3 * 4);
  static const int64_t far[4][4] = {{0, 1, 1, 1},
                                    {0, 1, 2, 1},
                                    {0, 5, 5, 4294967301LL},
                                    {0, 7, 0, 3}};
  write_npy_raw("c64far.npy", "<i8", "(4, 4)", far, sizeof far);
  snprintf(a, sizeof a, "--coords '%s'", path("c64far.npy"));
  EXPECT_FAILURE(conv_args("--coords", a), "c64far.npy", "row 2, column 3",
                 "4294967301 does not fit int32");
}

/* Weights given in another layout than --weight-layout says: the hint
 * names the one they fit. */
static void test_conv_weight_layout_hint(void **state) {
  (void)state;
  write_valid_inputs();
  static float w[3 * 2 * 27]; /* torch [Cout][Cin][k][k][k] */
  write_npy_raw("wt.npy", "<f4", "(3, 2, 3, 3, 3)", w, sizeof w);
  char a[4096];
  snprintf(a, sizeof a, "--weights '%s'", path("wt.npy"));
  EXPECT_FAILURE(conv_args("--weights", a), "wt.npy", "hint", "--weight-layout torch");
  snprintf(a, sizeof a, "--weights '%s' --weight-layout torch", path("wt.npy"));
  expect_exit(0, "", conv_args("--weights", a), "sites", (const char *)NULL);
}

/* Duplicate coordinates: refused with the option that merges them named;
 * --merge-duplicates sum adds the features into the first occurrence. */
static void test_conv_merge_duplicates(void **state) {
  (void)state;
  write_valid_inputs();
  char log[32768], base[4096], merged[4096];
  assert_int_equal(run_clsp(conv_args(NULL, "--deterministic"), log, sizeof log), 0);
  read_text("of.npy", base, sizeof base);
  unlink(path("of.npy"));
  /* rows 1 and 4 are the same site; their features sum to the baseline's
   * row 1 (3, 4) */
  static const int32_t dc[5][4] = {{0, 1, 1, 1},
                                   {0, 1, 2, 1},
                                   {0, 5, 5, 5},
                                   {0, 7, 0, 3},
                                   {0, 1, 2, 1}};
  static const float df[5][2] = {{1, 2}, {1, 1}, {5, 6}, {7, 8}, {2, 3}};
  write_npy("dc.npy", CLSP_NPY_I32, 2, 5, 4, dc);
  write_npy("df.npy", CLSP_NPY_F32, 2, 5, 2, df);
  EXPECT_FAILURE(conv_on("dc.npy", "df.npy", ""), "duplicate",
                 "--merge-duplicates sum|first");
  expect_exit(0, "",
              conv_on("dc.npy", "df.npy", "--merge-duplicates sum --deterministic"),
              "5 rows -> 4 sites", (const char *)NULL);
  read_text("of.npy", merged, sizeof merged);
  assert_memory_equal(base, merged, 128 + 4 * 3 * 4);
  EXPECT_USAGE(conv_on("dc.npy", "df.npy", "--merge-duplicates avg"),
               "--merge-duplicates 'avg'", "sum or first");
}

/* ---- training options (issue 12) ---- */

/* 54 sites of a 6^3 grid, 2 channels; values without ties. */
static size_t write_train_inputs(int32_t *coords, float *feats) {
  size_t n = 0;
  for (int z = 0; z < 6; z++)
    for (int y = 0; y < 6; y++)
      for (int x = 0; x < 6; x++) {
        if ((x * 7 + y * 3 + z * 5) % 4) continue;
        int32_t *c = coords + 4 * n;
        c[0] = 0, c[1] = z, c[2] = y, c[3] = x;
        feats[2 * n] = (float)(n % 11) * 0.17f - 0.9f + (float)n * 1e-3f;
        feats[2 * n + 1] = (float)((n * 5) % 13) * -0.11f + 0.6f - (float)n * 1e-3f;
        n++;
      }
  write_npy("tc.npy", CLSP_NPY_I32, 2, n, 4, coords);
  write_npy("tf.npy", CLSP_NPY_F32, 2, n, 2, feats);
  return n;
}

static float *ramp(size_t n, float scale) {
  float *v = malloc((n + 1) * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) v[i] = (float)((i * 37) % 29) * scale - 0.5f;
  return v;
}

static void run_ok(const char *args) {
  char log[16384];
  int rc = run_clsp(args, log, sizeof log);
  if (rc != 0) fail_msg("clsp %s: exit %d\n%s", args, rc, log);
}

static void expect_close(const char *what, const float *got, const double *want,
                         size_t n) {
  double e = ref_rel_error(got, want, n);
  if (!(e < 1e-5)) fail_msg("%s: rel error %.3g against the reference", what, e);
}

/* clsp conv --type conv and --type inverse with every --grad-* output. */
static void test_conv_grad_outputs(void **state) {
  (void)state;
  int32_t coords[216 * 4];
  float feats[216 * 2];
  size_t n = write_train_inputs(coords, feats), rows, cols, oc_rows;
  float *w = ramp(27 * 2 * 3, 0.03f), *bias = ramp(3, 0.2f);
  write_npy3("tw.npy", 27, 2, 3, w);
  write_npy("tb.npy", CLSP_NPY_F32, 1, 3, 1, bias);
  char base[4096], a[8192];
  snprintf(base, sizeof base,
           "conv --type conv --coords '%s' --feats '%s' --weights '%s' "
           "--bias '%s' --shape 6,6,6 --batch 1 --kernel 3 --stride 2 --padding 1 "
           "--out-coords '%s' --out-feats '%s' --deterministic",
           path("tc.npy"), path("tf.npy"), path("tw.npy"), path("tb.npy"), path("oc.npy"),
           path("of.npy"));
  run_ok(base);
  int32_t *oc = read_npy_data("oc.npy", CLSP_NPY_I32, &oc_rows, &cols);
  float *dy = ramp(oc_rows * 3, 0.05f);
  write_npy("dy.npy", CLSP_NPY_F32, 2, oc_rows, 3, dy);
  snprintf(a, sizeof a,
           "%s --grad-out '%s' --grad-feats '%s' --grad-weights '%s' "
           "--grad-bias '%s'",
           base, path("dy.npy"), path("dx.npy"), path("dw.npy"), path("db.npy"));
  run_ok(a);
  float *dx = read_npy_data("dx.npy", CLSP_NPY_F32, &rows, &cols);
  assert_true(rows == n && cols == 2);
  float *dw = read_npy_data("dw.npy", CLSP_NPY_F32, &rows, &cols);
  assert_true(rows == 27 && cols == 6);
  float *db = read_npy_data("db.npy", CLSP_NPY_F32, &rows, &cols);
  assert_true(rows == 3);
  ref_geom g = {3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  int32_t shape[3] = {6, 6, 6};
  double rdx[216 * 2], rdw[27 * 6], rdb[3];
  assert_int_equal(ref_conv_backward(REF_REGULAR, &g, shape, 1, n, coords, feats, 2,
                                     oc_rows, oc, dy, 3, w, rdx, rdw, rdb),
                   0);
  expect_close("clsp conv --grad-feats", dx, rdx, n * 2);
  expect_close("clsp conv --grad-weights", dw, rdw, 27 * 6);
  expect_close("clsp conv --grad-bias", db, rdb, 3);
  free(dx), free(dw), free(db), free(dy), free(w), free(bias);
  /* The inverse, fed --coords in reversed order: DX follows that order. */
  int32_t *rev = malloc(oc_rows * 4 * sizeof *rev);
  float *xf = ramp(oc_rows * 3, 0.04f), *wi = ramp(27 * 3 * 2, 0.02f),
        *dyi = ramp(n * 2, 0.07f);
  assert_non_null(rev);
  for (size_t r = 0; r < oc_rows; r++)
    memcpy(rev + 4 * r, oc + 4 * (oc_rows - 1 - r), 16);
  write_npy("rev.npy", CLSP_NPY_I32, 2, oc_rows, 4, rev);
  write_npy("xi.npy", CLSP_NPY_F32, 2, oc_rows, 3, xf);
  write_npy3("wi.npy", 27, 3, 2, wi);
  write_npy("dyi.npy", CLSP_NPY_F32, 2, n, 2, dyi);
  snprintf(a, sizeof a,
           "conv --type inverse --coords '%s' --feats '%s' --weights '%s' "
           "--shape 3,3,3 --batch 1 --kernel 3 --stride 2 --padding 1 --target-coords "
           "'%s' "
           "--target-shape 6,6,6 --out-coords '%s' --out-feats '%s' --grad-out '%s' "
           "--grad-feats '%s'",
           path("rev.npy"), path("xi.npy"), path("wi.npy"), path("tc.npy"),
           path("ioc.npy"), path("iof.npy"), path("dyi.npy"), path("dxi.npy"));
  run_ok(a);
  float *dxi = read_npy_data("dxi.npy", CLSP_NPY_F32, &rows, &cols);
  assert_true(rows == oc_rows && cols == 3);
  int32_t in_shape[3] = {3, 3, 3};
  double *rdxi = malloc(oc_rows * 3 * sizeof *rdxi);
  assert_non_null(rdxi);
  assert_int_equal(ref_conv_backward(REF_INVERSE, &g, in_shape, 1, oc_rows, rev, xf, 3, n,
                                     coords, dyi, 2, wi, rdxi, NULL, NULL),
                   0);
  expect_close("clsp conv --type inverse --grad-feats", dxi, rdxi, oc_rows * 3);
  EXPECT_USAGE(conv_args(NULL, "--grad-feats x.npy"), "need --grad-out");
  snprintf(a, sizeof a, "%s --grad-out '%s' --grad-feats '%s'", base, path("dyi.npy"),
           path("dx.npy"));
  EXPECT_FAILURE(a, "dyi.npy", "the forward's output rows");
  free(oc), free(rev), free(xf), free(wi), free(dyi), free(dxi), free(rdxi);
}

/* clsp pool forward and backward, max and avg. */
static void test_pool_outputs(void **state) {
  (void)state;
  int32_t coords[216 * 4];
  float feats[216 * 2];
  size_t n = write_train_inputs(coords, feats), rows, cols, n_out;
  static const char *const types[2] = {"max", "avg"};
  ref_geom g = {3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  int32_t shape[3] = {6, 6, 6};
  for (int t = 0; t < 2; t++) {
    char base[4096], a[8192];
    snprintf(base, sizeof base,
             "pool --type %s --coords '%s' --feats '%s' --shape 6,6,6 "
             "--batch 1 --kernel 3 --stride 2 --padding 1 --out-coords '%s' "
             "--out-feats '%s'",
             types[t], path("tc.npy"), path("tf.npy"), path("poc.npy"), path("pof.npy"));
    run_ok(base);
    int32_t *oc = read_npy_data("poc.npy", CLSP_NPY_I32, &n_out, &cols);
    float *dy = ramp(n_out * 2, 0.05f);
    write_npy("pdy.npy", CLSP_NPY_F32, 2, n_out, 2, dy);
    snprintf(a, sizeof a, "%s --grad-out '%s' --grad-feats '%s'", base, path("pdy.npy"),
             path("pdx.npy"));
    run_ok(a);
    float *y = read_npy_data("pof.npy", CLSP_NPY_F32, &rows, &cols);
    float *dx = read_npy_data("pdx.npy", CLSP_NPY_F32, &rows, &cols);
    assert_true(rows == n && cols == 2);
    double *ry = malloc(n_out * 2 * sizeof *ry), rdx[216 * 2];
    assert_non_null(ry);
    assert_int_equal(ref_pool(t, REF_REGULAR, &g, shape, 1, n, coords, feats, 2, n_out,
                              oc, dy, ry, rdx),
                     0);
    expect_close("clsp pool --out-feats", y, ry, n_out * 2);
    expect_close("clsp pool --grad-feats", dx, rdx, n * 2);
    free(oc), free(dy), free(y), free(dx), free(ry);
  }
  char bad[1024];
  snprintf(bad, sizeof bad,
           "pool --type median --coords '%s' --feats '%s' --shape 6,6,6 "
           "--batch 1 --kernel 3 --out-coords x.npy --out-feats y.npy",
           path("tc.npy"), path("tf.npy"));
  EXPECT_USAGE(bad, "--type 'median'", "max or avg");
  EXPECT_USAGE("pool --type max", "--coords is required");
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
    cmocka_unit_test(test_exit_codes),
    cmocka_unit_test(test_info_select_lists_devices),
    cmocka_unit_test(test_bench_ragged_fields),
    cmocka_unit_test(test_documents_on_stdout),
    cmocka_unit_test(test_conv_wide_dtypes),
    cmocka_unit_test(test_conv_weight_layout_hint),
    cmocka_unit_test(test_conv_merge_duplicates),
    cmocka_unit_test(test_conv_grad_outputs),
    cmocka_unit_test(test_pool_outputs),
  };
  if (setup() != 0) return 1;
  int rc = HARNESS_RUN("cli", tests, 0);
  teardown();
  return rc;
}
