/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the libFuzzer targets: the readers take a path, so each
 * input is written to one temporary file per process (created on the first
 * input, rewritten for every later one, removed at exit). */
#ifndef CLSP_FUZZ_COMMON_H
#define CLSP_FUZZ_COMMON_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_path[256];

static inline void fuzz_remove_file(void) {
  if (fuzz_path[0]) unlink(fuzz_path);
}

/* Aborts (a crash libFuzzer reports with the input) with a message. */
static inline void fuzz_fail(const char *what) {
  fprintf(stderr, "fuzz contract violated: %s\n", what);
  abort();
}

/* Writes data to the per-process file named with `ext` (".pcd", ...) and
 * returns its path. */
static inline const char *fuzz_write_input(const char *target, const char *ext,
                                           const uint8_t *data, size_t size) {
  if (!fuzz_path[0]) {
    const char *dir = getenv("TMPDIR");
    snprintf(fuzz_path, sizeof fuzz_path, "%s/clsp_%s_%ld%s", dir && *dir ? dir : "/tmp",
             target, (long)getpid(), ext);
    atexit(fuzz_remove_file);
  }
  int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) fuzz_fail("cannot create the temporary input file");
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) fuzz_fail("cannot write the temporary input file");
    done += (size_t)w;
  }
  close(fd);
  return fuzz_path;
}

/* Checks the point-cloud reader contract of io/pointcloud.h for points of
 * `fields` floats and touches every returned value so that ASan sees any
 * short allocation. */
static inline void fuzz_check_fields(int rc, float *pts, size_t n, int fields,
                                     const char *err) {
  if (rc != 0) {
    if (pts != NULL || n != 0) fuzz_fail("failed read left points behind");
    if (err[0] == '\0') fuzz_fail("failed read without a message");
    return;
  }
  if (pts == NULL) fuzz_fail("successful read returned NULL points");
  volatile float sink = 0.0f;
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 3; k++) {
      float v = pts[(size_t)fields * i + (size_t)k];
      if (!(v == v) || v - v != 0.0f) fuzz_fail("non-finite coordinate returned");
    }
    for (int k = 3; k < fields; k++) sink += pts[(size_t)fields * i + (size_t)k];
  }
  (void)sink;
  free(pts);
}

/* The 4-float readers (x, y, z, intensity). */
static inline void fuzz_check_cloud(int rc, float *pts, size_t n, const char *err) {
  fuzz_check_fields(rc, pts, n, 4, err);
}

#endif
