/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the suites that run the clsp binary (cli_util.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli_util.h"

char tmpdir[256];

int setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clsp-cli-test-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

int teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

const char *path(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

void read_text(const char *name, char *buf, size_t cap) {
  buf[0] = 0;
  FILE *f = fopen(path(name), "rb");
  if (!f) return;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
}

/* Runs `ENV clsp ARGS` (env: "" or NAME=VALUE settings), stdout to
 * out.txt and stderr to err.txt; returns the exit status (1000 + n: signal
 * n), `log` gets stderr then stdout. */
int run_clsp_env(const char *env, const char *args, char *log, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s '%s' %s > '%s/out.txt' 2> '%s/err.txt'", env,
           CLSP_TOOL_PATH, args, tmpdir, tmpdir);
  int rc = system(cmd);
  read_text("err.txt", log, cap / 2);
  size_t n = strlen(log);
  read_text("out.txt", log + n, cap - n);
  return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 1000 + WTERMSIG(rc));
}

int run_clsp(const char *args, char *log, size_t cap) {
  return run_clsp_env("", args, log, cap);
}

void write_npy(const char *name, clsp_npy_dtype dt, int rank, size_t rows, size_t cols,
               const void *data) {
  char err[512];
  size_t shape[2] = {rows, cols};
  if (clsp_npy_write(path(name), dt, rank, shape, data, err, sizeof err) != 0)
    fail_msg("%s", err);
}

/* A .npy of any dtype and shape ("(2, 3)"), bytes of data as given
 * (clsp_npy_write writes float32/int32 of rank 1 and 2 only). */
void write_npy_raw(const char *name, const char *descr, const char *shape,
                   const void *data, size_t bytes) {
  char header[160];
  int n =
    snprintf(header, sizeof header,
             "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
  int pad = (64 - (10 + n + 1) % 64) % 64;
  FILE *f = fopen(path(name), "wb");
  assert_non_null(f);
  unsigned short hlen = (unsigned short)(n + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hlen & 0xff, f);
  fputc(hlen >> 8, f);
  fwrite(header, 1, (size_t)n, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(data, 1, bytes, f); /* little-endian hosts */
  fclose(f);
}

void write_npy3(const char *name, size_t a, size_t b, size_t c, const float *data) {
  char shape[64];
  snprintf(shape, sizeof shape, "(%zu, %zu, %zu)", a, b, c);
  write_npy_raw(name, "<f4", shape, data, a * b * c * sizeof(float));
}

void write_bytes(const char *name, const char *data, size_t n) {
  FILE *f = fopen(path(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

/* Valid inputs: 4 sites in an 8^3 grid, 2 -> 3 channels, 3^3 kernel. */
void write_valid_inputs(void) {
  static const int32_t coords[4][4] = {{0, 1, 1, 1},
                                       {0, 1, 2, 1},
                                       {0, 5, 5, 5},
                                       {0, 7, 0, 3}};
  static const float feats[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  float w[27 * 2 * 3];
  for (int i = 0; i < 27 * 2 * 3; i++) w[i] = (float)(i % 7) * 0.25f;
  write_npy("coords.npy", CLSP_NPY_I32, 2, 4, 4, coords);
  write_npy("feats.npy", CLSP_NPY_F32, 2, 4, 2, feats);
  write_npy3("weights.npy", 27, 2, 3, w);
}

/* The base command line with `extra` appended; `skip` drops one option
 * (and its value) from the base. */
const char *conv_args(const char *skip, const char *extra) {
  static char buf[4096];
  const char *opts[][2] = {
    {"--type", "subm"},
    {"--coords", path("coords.npy")},
    {"--feats", path("feats.npy")},
    {"--weights", path("weights.npy")},
    {"--shape", "8,8,8"},
    {"--batch", "1"},
    {"--kernel", "3"},
    {"--out-coords", path("oc.npy")},
    {"--out-feats", path("of.npy")},
  };
  int n = snprintf(buf, sizeof buf, "conv");
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (!skip || strcmp(skip, opts[i][0]))
      n += snprintf(buf + n, sizeof buf - (size_t)n, " %s '%s'", opts[i][0], opts[i][1]);
  snprintf(buf + n, sizeof buf - (size_t)n, " %s", extra ? extra : "");
  return buf;
}

/* The base subm layer on other --coords and --feats files, plus `extra`. */
const char *conv_on(const char *coords, const char *feats, const char *extra) {
  static char buf[4096];
  snprintf(buf, sizeof buf,
           "conv --type subm --coords '%s' --feats '%s' --weights '%s' "
           "--shape 8,8,8 --batch 1 --kernel 3 --out-coords '%s' "
           "--out-feats '%s' %s",
           path(coords), path(feats), path("weights.npy"), path("oc.npy"), path("of.npy"),
           extra);
  return buf;
}

void *read_npy_data(const char *name, clsp_npy_dtype dt, size_t *rows, size_t *cols) {
  char err[512];
  clsp_npy_array a;
  if (clsp_npy_read(path(name), &a, err, sizeof err) != 0) fail_msg("%s", err);
  assert_int_equal(a.dtype, dt);
  *rows = a.shape[0];
  *cols = a.rank > 1 ? a.shape[1] : 1;
  return a.data; /* the caller frees */
}
