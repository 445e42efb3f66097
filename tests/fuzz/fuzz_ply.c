/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: clsp_cloud_read_ply() on arbitrary bytes, then the same file through
 * the extension dispatch of clsp_cloud_read(). */
#include "fuzz_common.h"
#include "io/pointcloud.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input("fuzz_ply", ".ply", data, size);
  char err[512] = "";
  float *pts = (float *)1;
  size_t n = 1;
  int rc = clsp_cloud_read_ply(path, &pts, &n, err, sizeof err);
  fuzz_check_cloud(rc, pts, n, err);

  err[0] = '\0';
  rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
  fuzz_check_cloud(rc, pts, n, err);
  return 0;
}
