/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the io suite: temporary files, byte builders, checks. */
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
#include <dirent.h>
#include <unistd.h>
#include "io/pointcloud.h"

static char g_dir[512];

/* Temporary files */

int group_setup(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/clsp_test_io_XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(g_dir) ? 0 : -1;
}

int group_teardown(void **state) {
  (void)state;
  DIR *d = opendir(g_dir);
  if (!d) return -1;
  struct dirent *e;
  char path[1024];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  return rmdir(g_dir);
}

const char *tmp_path(const char *name) {
  static char paths[8][1024];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof paths[0], "%s/%s", g_dir, name);
  return p;
}

const char *write_bytes(const char *name, const void *data, size_t n) {
  const char *path = tmp_path(name);
  FILE *fp = fopen(path, "wb");
  CHECK(fp != NULL, "cannot create %s", path);
  CHECK(fwrite(data, 1, n, fp) == n, "cannot write %s", path);
  fclose(fp);
  return path;
}

const char *write_text(const char *name, const char *text) {
  return write_bytes(name, text, strlen(text));
}

unsigned char *read_all(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  CHECK(fp != NULL, "cannot open %s", path);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)size + 1);
  CHECK(buf && fread(buf, 1, (size_t)size, fp) == (size_t)size, "cannot read %s", path);
  fclose(fp);
  *n = (size_t)size;
  return buf;
}

void put(bytes *o, const void *p, size_t n) {
  CHECK(o->n + n <= sizeof o->b, "fixture buffer too small");
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

void put_uint(bytes *o, uint64_t v, int size) {
  for (int i = 0; i < size; i++) {
    unsigned char c = (unsigned char)(v >> (8 * i));
    put(o, &c, 1);
  }
}

void put_f32(bytes *o, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put_uint(o, u, 4);
}

void put_f64(bytes *o, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  put_uint(o, u, 8);
}

void put_str(bytes *o, const char *s) { put(o, s, strlen(s)); }

/* Asserts a failed call whose message names the file and the problem. */
void expect_error(int rc, const char *err, const char *path, const char *needle) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  CHECK(rc != 0, "%s: expected failure, got success", path);
  CHECK(strstr(err, base) != NULL, "%s: message lacks file name: '%s'", path, err);
  CHECK(strstr(err, needle) != NULL, "%s: message lacks '%s': '%s'", path, needle, err);
  if (getenv("TEST_IO_VERBOSE")) printf("    expected error: %s\n", err);
}

void expect_point(const float *pts, size_t i, float x, float y, float z, float in,
                  const char *path) {
  const float *p = pts + 4 * i;
  CHECK(fabsf(p[0] - x) < 1e-6f && fabsf(p[1] - y) < 1e-6f && fabsf(p[2] - z) < 1e-6f &&
          fabsf(p[3] - in) < 1e-6f,
        "%s: point %zu is (%g %g %g %g), expected (%g %g %g %g)", path, i, p[0], p[1],
        p[2], p[3], x, y, z, in);
}

float *read_cloud_ok(const char *path, size_t expect_n) {
  char err[256] = "";
  float *pts;
  size_t n;
  CHECK(clsp_cloud_read(path, &pts, &n, err, sizeof err) == 0, "%s: %s", path, err);
  CHECK(n == expect_n, "%s: read %zu points, expected %zu", path, n, expect_n);
  return pts;
}

void cloud_expect_error(const char *path, const char *needle) {
  char err[256] = "";
  float *pts = (float *)&err; /* must be reset to NULL */
  size_t n = 99;
  int rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
  CHECK(pts == NULL && n == 0, "%s: output not cleared on error", path);
  expect_error(rc, err, path, needle);
}
