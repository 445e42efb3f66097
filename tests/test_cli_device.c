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
#include "model_util.h"
#include "ref_conv.h"

/* The shared bundle's npy file `file` (fails the test when unreadable). */
static void bundle_npy(const char *file, clsp_npy_array *a) {
  char p[1024], err[512];
  model_path(p, sizeof p, "second-scn", file);
  if (clsp_npy_read(p, a, err, sizeof err) != 0) fail_msg("%s", err);
}

/* Issue 11's command: clsp run on the raw KITTI scan with OpenPCDet's
 * SECOND recipe (first 5 points of a voxel; the model rounds its
 * FLOAT16 input), the dense output within 1e-4 of spconv's (densify.py's
 * reference). The whole frame: not under CLSP_TEST_SMALL (simulators; the
 * model suite checks a crop there). */
static void test_cli_run_scan(void **state) {
  (void)state;
  char model[1024], scan[1024], args[4096], log[32768];
  if (harness_small()) HARNESS_SKIP("CLSP_TEST_SMALL: whole frame left to full runs");
  if (!model_path(model, sizeof model, "second-scn", "second.scn.onnx") ||
      !model_path(scan, sizeof scan, "../kitti", "000008.bin"))
    HARNESS_SKIP("bundle or %s absent (../shared not mounted)", scan);
  snprintf(args, sizeof args,
           "run '%s' --device %s --input '%s' --voxel-size 0.05,0.05,0.1 --range "
           "0,-40,-3,70.4,40,1 --max-points 5 --out '%s'",
           model, harness_device_spec(), scan, path("scan_out.npy"));
  int rc = run_clsp(args, log, sizeof log);
  fputs(log, stderr);
  if (rc != 0) fail_msg("clsp %s: exit %d\n%s", args, rc, log);
  clsp_npy_array out, oc, of;
  char err[512];
  if (clsp_npy_read(path("scan_out.npy"), &out, err, sizeof err) != 0)
    fail_msg("%s", err);
  bundle_npy("expected_out_coords.npy", &oc);
  bundle_npy("expected_out_feats.npy", &of);
  const int32_t dhw[3] = {2, 200, 176}; /* the ScatterDense input's shape */
  size_t count = 1;
  for (int k = 0; k < out.rank; k++) count *= out.shape[k];
  assert_int_equal(count, (size_t)256 * 200 * 176);
  float *ref = model_densify(oc.data, of.data, oc.shape[0], of.shape[1], dhw, 1);
  double e = model_rel_l2(out.data, ref, count);
  print_message("  clsp run --input 000008.bin --max-points 5: rel. L2 vs spconv %.3g\n",
                e);
  if (!(e <= 1e-4)) fail_msg("clsp run on the raw scan: rel. L2 %.3g > 1e-4", e);
  free(ref);
  clsp_npy_free(&out);
  clsp_npy_free(&oc);
  clsp_npy_free(&of);
}

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
    cmocka_unit_test(test_cli_run_scan),
  };
  if (setup() != 0) return 1;
  int rc = HARNESS_RUN("cli_device", tests, 1);
  teardown();
  return rc;
}
