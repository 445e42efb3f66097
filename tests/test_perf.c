/* SPDX-License-Identifier: Apache-2.0 */
/* Performance probes: the FMA peak kernel (cl/peak.cl) against a plain-C
 * double reference of its chains, and clsp_device_fma_peak's contract
 * (a positive, cached result; argument errors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "pipeline.h"

#define ITEMS 96u
#define CHAINS CLSP_PEAK_CHAINS

/* One work-item's stored value: CHAINS chains a <- a*s + c from
 * a_j = (g & 7) * 1e-3 + j * 1e-3, summed as the kernel sums them. */
static double reference(unsigned g, unsigned iters, double s) {
  double a[CHAINS], c = 1e-3f;
  a[0] = (double)(float)((float)(g & 7) * 1e-3f);
  for (int j = 1; j < CHAINS; j++) a[j] = a[j - 1] + c;
  for (unsigned i = 0; i < iters; i++)
    for (int j = 0; j < CHAINS; j++) a[j] = a[j] * s + c;
  double sum = 0;
  for (int j = 0; j < CHAINS; j++) sum += a[j];
  return sum;
}

static void check_width(clsp_context *ctx, clsp_kernel_id k, const char *name,
                        unsigned width) {
  size_t n = (size_t)ITEMS * width;
  cl_uint iters = 37, items = ITEMS;
  cl_float s = 0.999f;
  cl_mem out = NULL;
  float *host = malloc(n * sizeof *host);
  assert_non_null(host);
  for (size_t i = 0; i < n; i++) host[i] = NAN; /* poison */
  assert_int_equal(clsp__buffer_create(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                       n * sizeof *host, host, "peak test", &out),
                   CLSP_SUCCESS);
  assert_int_equal(CLSP_RUN(ctx, k, clsp_items(ITEMS), NULL, CLSP_A(out), CLSP_A(items),
                            CLSP_A(iters), CLSP_A(s)),
                   CLSP_SUCCESS);
  assert_int_equal(clEnqueueReadBuffer(ctx->queue, out, CL_TRUE, 0, n * sizeof *host,
                                       host, 0, NULL, NULL),
                   CL_SUCCESS);
  for (unsigned g = 0; g < ITEMS; g++) {
    double ref = reference(g, iters, (double)s);
    for (unsigned lane = 0; lane < width; lane++) {
      double err = fabs((double)host[g * width + lane] - ref) / fabs(ref);
      if (!(err < 1e-5))
        fail_msg("%s item %u lane %u: %.9g, reference %.9g (%s)", name, g, lane,
                 (double)host[g * width + lane], ref, harness_device_label());
    }
  }
  clsp__buffer_release(ctx, &out);
  free(host);
}

static void test_peak_kernel(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  check_width(ctx, CLSP_K_FMA_PEAK_8, "clsp_fma_peak_8", 8);
  check_width(ctx, CLSP_K_FMA_PEAK_16, "clsp_fma_peak_16", 16);
}

static void test_peak_api(void **state) {
  (void)state;
  clsp_context *ctx = harness_ctx();
  double g = 0, again = 0;
  assert_int_equal(clsp_device_fma_peak(NULL, &g), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_device_fma_peak(ctx, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  /* Simulators run the calibration for minutes: contract only on others. */
  if (harness_small())
    HARNESS_SKIP("FMA peak measurement is not run with CLSP_TEST_SMALL");
  assert_int_equal(clsp_device_fma_peak(ctx, &g), CLSP_SUCCESS);
  assert_true(g > 0 && isfinite(g));
  assert_int_equal(clsp_device_fma_peak(ctx, &again), CLSP_SUCCESS);
  assert_true(again == g); /* cached per device */
  printf("FMA peak of %s: %.1f GFLOP/s\n", harness_device_label(), g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_peak_kernel),
    cmocka_unit_test(test_peak_api),
  };
  return HARNESS_RUN("perf", tests, 1);
}
