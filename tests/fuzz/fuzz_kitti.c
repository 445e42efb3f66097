/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: clsp_cloud_read_kitti() on arbitrary bytes, then the same file through
 * the extension dispatch of clsp_cloud_read(), then as records of 3 to 7 fields
 * (clsp_cloud_read_bin, --fields; the count from the first byte). */
#include "fuzz_common.h"
#include "io/pointcloud.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input("fuzz_kitti", ".bin", data, size);
  char err[512] = "";
  float *pts = (float *)1;
  size_t n = 1;
  int rc = clsp_cloud_read_kitti(path, &pts, &n, err, sizeof err);
  fuzz_check_cloud(rc, pts, n, err);

  err[0] = '\0';
  rc = clsp_cloud_read(path, &pts, &n, err, sizeof err);
  fuzz_check_cloud(rc, pts, n, err);

  int fields = 3 + (size ? data[0] % 5 : 0);
  err[0] = '\0';
  rc = clsp_cloud_read_bin(path, fields, &pts, &n, err, sizeof err);
  fuzz_check_fields(rc, pts, n, fields, err);
  return 0;
}
