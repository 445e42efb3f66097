/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the tuning file parser (src/core/tuning_text.c), which
 * every context runs on a file in the user's cache folder. Contract: no
 * crash; an accepted file gives a record that passes clsp__tuning_check,
 * and writing that record and parsing it again gives the same record. */
#include <stdint.h>
#include <string.h>
#include "fuzz_common.h"
#include "tuning_text.h"

static const clsp__tuning_key key = {"0.1.0", "Portable Computing Language",
                                     "OpenCL 3.0 PoCL", "cpu", "3.1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  clsp_tuning_params p = {1, 16, 4, 1, 64, {{0}}, 32, 0, 4}, q = p;
  char why[256], text[CLSP_TUNING_FILE_MAX];
  if (clsp__tuning_parse((const char *)data, size, &key, 256, &p, why, sizeof why) != 0) {
    if (memcmp(&p, &q, sizeof p) != 0) fuzz_fail("a rejected file changed the record");
    if (!why[0]) fuzz_fail("a rejected file without a reason");
    return 0;
  }
  if (clsp__tuning_check(&p, 256, why, sizeof why) != 0)
    fuzz_fail("an accepted record fails the check");
  size_t n = clsp__tuning_format(&key, &p, text, sizeof text);
  if (n == 0) fuzz_fail("an accepted record cannot be written");
  if (clsp__tuning_parse(text, n, &key, 256, &q, why, sizeof why) != 0 ||
      memcmp(&p, &q, sizeof p) != 0)
    fuzz_fail("a written record does not read back the same");
  return 0;
}
