/* SPDX-License-Identifier: Apache-2.0 */
/* The training example end to end (issue 12): the small sparse network of
 * examples/shapes_net.h trained with SGD on voxelized primitives. The loss
 * falls at least 10x within 60 steps, and in deterministic mode the same
 * seed gives the same loss curve bit for bit. Small runs (llvmpipe)
 * train 4 steps and check only the bit-identical curve; the simulator is
 * skipped (a step took minutes there; its kernels are the backward and
 * pool suites'). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "shapes_net.h"

#define STEPS 60

static float *train(const shapes_config *cfg) {
  clsp_context *ctx = harness_ctx();
  float *loss = malloc((size_t)cfg->steps * sizeof *loss);
  assert_non_null(loss);
  clsp_status st = shapes_train(ctx, cfg, loss);
  if (st != CLSP_SUCCESS)
    fail_msg("shapes_train: %s: %s", clsp_status_string(st),
             clsp_context_last_error(ctx));
  return loss;
}

static void test_loss_falls_and_repeats(void **state) {
  (void)state;
  if (strstr(harness_device_label(), "Oclgrind"))
    HARNESS_SKIP(
      "a training step takes minutes on the simulator; the backward and pool "
      "suites run its kernels there");
  shapes_config cfg = {harness_seed(), harness_small() ? 4 : STEPS, 0.5f,
                       CLSP_CONV_DETERMINISTIC};
  float *a = train(&cfg), *b = train(&cfg);
  int last = cfg.steps - 1;
  printf("shapes: loss %.4f -> %.4f (%.1fx) in %d steps, seed %llu, %s\n", a[0], a[last],
         a[0] / a[last], cfg.steps, (unsigned long long)cfg.seed, harness_device_label());
  for (int s = 0; s < cfg.steps; s++)
    if (memcmp(&a[s], &b[s], sizeof *a))
      fail_msg("step %d: loss %a then %a: not bit-identical (seed %llu, %s)", s, a[s],
               b[s], (unsigned long long)cfg.seed, harness_device_label());
  if (!harness_small() && !(a[last] * 10.0f <= a[0]))
    fail_msg("loss fell only from %g to %g in %d steps (seed %llu, %s)", a[0], a[last],
             cfg.steps, (unsigned long long)cfg.seed, harness_device_label());
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_loss_falls_and_repeats),
  };
  return HARNESS_RUN("train_example", tests, 1);
}
