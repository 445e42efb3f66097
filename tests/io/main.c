/* SPDX-License-Identifier: Apache-2.0 */
/* The io suite: file readers and writers (one file per format) and the synthetic scene. */
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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_npy_roundtrip), cmocka_unit_test(test_npy_numpy_reference),
    cmocka_unit_test(test_npy_versions),  cmocka_unit_test(test_npy_rank5),
    cmocka_unit_test(test_npy_malformed), cmocka_unit_test(test_npy_wide),
    cmocka_unit_test(test_kitti),         cmocka_unit_test(test_bin_fields),
    cmocka_unit_test(test_pcd_ascii),     cmocka_unit_test(test_pcd_rgb),
    cmocka_unit_test(test_pcd_binary),    cmocka_unit_test(test_pcd_malformed),
    cmocka_unit_test(test_ply_ascii),     cmocka_unit_test(test_ply_binary),
    cmocka_unit_test(test_ply_malformed), cmocka_unit_test(test_torture),
    cmocka_unit_test(test_scene),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
