/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: every reader on prefixes and mutations of valid files. */
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
#include "io/pointcloud.h"

/* ====================================================================== */
/* Robustness: every prefix and many byte mutations of valid files must be
 * either read or rejected cleanly (ASan/UBSan builds catch the rest). */

static int read_any(const char *path) {
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
  CHECK(rc == 0 || (err[0] != '\0' && pts == NULL), "%s: failed without a message", path);
  free(pts);
  return rc;
}

static void torture(const char *name, const unsigned char *data, size_t n) {
  static unsigned char buf[8192];
  uint64_t state = 0x1234567u;
  for (size_t len = 0; len < n; len++) read_any(write_bytes(name, data, len));
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

void test_torture(void **state) {
  (void)state;
  bytes o;
  build_pcd_binary(&o);
  torture("t_bin.pcd", o.b, o.n);
  build_ply_binary(&o);
  torture("t_bin.ply", o.b, o.n);
  torture("t_ascii.pcd", (const unsigned char *)PCD_ASCII, strlen(PCD_ASCII));
  torture("t_ascii.ply", (const unsigned char *)PLY_ASCII, strlen(PLY_ASCII));
  unsigned char ref[160];
  size_t n =
    numpy_reference(ref, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  memset(ref + n, 0, 24);
  torture("t.npy", ref, n + 24);
  torture("t.bin", ref, 32);
}
