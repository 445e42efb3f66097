/* SPDX-License-Identifier: Apache-2.0 */
/* clsp conv on each matrix device: subm, regular and transposed layers
 * through the CLI, against the double-precision dense reference. Under the
 * oclgrind cell the clsp child runs on the simulator too (it inherits
 * oclgrind's preload), and its stderr is copied into this suite's output,
 * where the matrix looks for oclgrind reports: the CLI path stays checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "cli_util.h"
#include "ref_conv.h"

/* One layer of `type` (stride 2 and padding 1 for the strided kinds) on
 * write_valid_inputs' 4 sites, 2 -> 3 channels, on this suite's device. */
static void run_layer(const char *type, int kind) {
  write_valid_inputs();
  int strided = kind != REF_SUBM;
  char args[4096], log[32768];
  snprintf(args, sizeof args,
           "conv --device %s --type %s --coords '%s' --feats '%s' --weights '%s' "
           "--shape 8,8,8 --batch 1 --kernel 3 %s --out-coords '%s' --out-feats '%s'",
           harness_device_spec(), type, path("coords.npy"), path("feats.npy"),
           path("weights.npy"), strided ? "--stride 2 --padding 1" : "", path("oc.npy"),
           path("of.npy"));
  int rc = run_clsp(args, log, sizeof log);
  fputs(log, stderr); /* oclgrind's reports of the child, for the matrix */
  if (rc != 0) fail_msg("clsp %s: exit %d\n%s", args, rc, log);
  size_t n_in, cin, w_rows, w_cols, n_out, cols, f_rows, cout;
  int32_t *ic = read_npy_data("coords.npy", CLSP_NPY_I32, &n_in, &cols);
  float *x = read_npy_data("feats.npy", CLSP_NPY_F32, &f_rows, &cin);
  int32_t *oc = read_npy_data("oc.npy", CLSP_NPY_I32, &n_out, &cols);
  float *y = read_npy_data("of.npy", CLSP_NPY_F32, &f_rows, &cout);
  float w[27 * 2 * 3];
  for (int i = 0; i < 27 * 2 * 3; i++) w[i] = (float)(i % 7) * 0.25f; /* as written */
  (void)w_rows;
  (void)w_cols;
  assert_int_equal(f_rows, n_out);
  assert_true(n_out > 0);
  const int32_t shape[3] = {8, 8, 8};
  ref_geom g = {3, {3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
  for (int a = 0; a < 3; a++) {
    g.stride[a] = strided ? 2 : 1;
    g.padding[a] = 1;
  }
  double *want = malloc(n_out * cout * sizeof *want);
  assert_non_null(want);
  assert_int_equal(ref_conv_dense(kind, &g, shape, 1, n_in, ic, x, cin, n_out, oc, cout,
                                  w, NULL, want),
                   0);
  double e = ref_rel_error(y, want, n_out * cout);
  if (!(e < 1e-5)) fail_msg("clsp conv --type %s: rel. error %.3g", type, e);
  free(ic);
  free(x);
  free(oc);
  free(y);
  free(want);
}

static void test_cli_subm(void **state) {
  (void)state;
  run_layer("subm", REF_SUBM);
}

static void test_cli_regular(void **state) {
  (void)state;
  run_layer("conv", REF_REGULAR);
}

static void test_cli_transposed(void **state) {
  (void)state;
  run_layer("transposed", REF_TRANSPOSED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cli_subm),
    cmocka_unit_test(test_cli_regular),
    cmocka_unit_test(test_cli_transposed),
  };
  if (setup() != 0) return 1;
  int rc = HARNESS_RUN("cli_device", tests, 1);
  teardown();
  return rc;
}
