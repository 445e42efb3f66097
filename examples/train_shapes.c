/* SPDX-License-Identifier: Apache-2.0 */
/* Trains the small sparse network of shapes_net.h with SGD and prints the
 * loss curve. Usage: train_shapes [--steps N] [--lr LR] [--seed S]
 * [--device SPEC] [--atomic]. Deterministic mode is on unless --atomic:
 * the same seed then prints the same curve bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shapes_net.h"

int main(int argc, char **argv) {
  shapes_config cfg = {1, 150, 0.5f, CLSP_CONV_DETERMINISTIC};
  const char *device = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--steps") && i + 1 < argc)
      cfg.steps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--lr") && i + 1 < argc)
      cfg.lr = strtof(argv[++i], NULL);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      cfg.seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--atomic"))
      cfg.flags = CLSP_CONV_ATOMIC;
    else {
      fprintf(stderr,
              "usage: train_shapes [--steps N] [--lr LR] [--seed S] [--device SPEC] "
              "[--atomic]\n");
      return 2;
    }
  }
  if (cfg.steps < 1) return 2;
  clsp_context_options o = {0};
  o.device = device;
  clsp_context *ctx = NULL;
  clsp_status st = clsp_context_create(&o, &ctx);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "train_shapes: no OpenCL context: %s\n", clsp_status_string(st));
    return 1;
  }
  float *loss = malloc((size_t)cfg.steps * sizeof *loss);
  st = loss ? shapes_train(ctx, &cfg, loss) : CLSP_ERROR_OUT_OF_HOST_MEMORY;
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "train_shapes: %s: %s\n", clsp_status_string(st),
            clsp_context_last_error(ctx));
  } else {
    for (int s = 0; s < cfg.steps; s++)
      if (s % 10 == 0 || s == cfg.steps - 1)
        printf("step %4d  loss %.6f (%a)\n", s, loss[s], loss[s]);
    printf("loss %.4f -> %.4f (%.1fx lower) on %s\n", loss[0], loss[cfg.steps - 1],
           loss[0] / loss[cfg.steps - 1], clsp_context_caps(ctx)->device_name);
  }
  free(loss);
  clsp_context_destroy(ctx);
  return st == CLSP_SUCCESS ? 0 : 1;
}
