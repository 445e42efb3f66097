/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: clsp_npy_read() on arbitrary bytes. */
#include "fuzz_common.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input("fuzz_npy", ".npy", data, size);
  char err[512] = "";
  clsp_npy_array a;
  memset(&a, 0xa5, sizeof a);
  int rc = clsp_npy_read(path, &a, err, sizeof err);
  if (rc != 0) {
    if (a.data != NULL) fuzz_fail("failed read left data behind");
    if (err[0] == '\0') fuzz_fail("failed read without a message");
    return 0;
  }
  if (a.data == NULL) fuzz_fail("successful read returned NULL data");
  if (a.dtype != CLSP_NPY_F32 && a.dtype != CLSP_NPY_I32 && a.dtype != CLSP_NPY_I64 &&
      a.dtype != CLSP_NPY_F64)
    fuzz_fail("unexpected dtype");
  if (a.rank < 1 || a.rank > CLSP_NPY_MAX_RANK) fuzz_fail("rank out of range");
  size_t count = 1;
  for (int i = 0; i < CLSP_NPY_MAX_RANK; i++) {
    if (i >= a.rank && a.shape[i] != 1) fuzz_fail("shape past rank is not 1");
    count *= a.shape[i];
  }
  /* The data must hold every element: ASan flags a short buffer. */
  volatile unsigned char sink = 0;
  const unsigned char *bytes = a.data;
  for (size_t i = 0; i < count * clsp_npy_elem_size(a.dtype); i++) sink ^= bytes[i];
  (void)sink;
  size_t bad = 0;
  if (clsp_npy_narrow(&a, &bad) == 0 && a.dtype != CLSP_NPY_F32 &&
      a.dtype != CLSP_NPY_I32)
    fuzz_fail("narrowed array is not 32-bit");
  clsp_npy_free(&a);
  if (a.data != NULL) fuzz_fail("clsp_npy_free left data");
  return 0;
}
