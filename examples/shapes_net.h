/* SPDX-License-Identifier: Apache-2.0 */
/* A small sparse network trained with SGD on voxelized primitives (cube
 * shells, sphere shells, line segments): the end-to-end training example
 * (examples/train_shapes.c) and its test (tests/test_train_example.c).
 *
 * Network: SubM k3 1->8 + bias, ReLU, regular k3 s2 p1 8->16 + bias, ReLU,
 * global average pooling per sample, a dense 16->3 layer on the host,
 * softmax cross-entropy. Convolutions, ReLU, pooling and their backward
 * passes run on the device through the public API; the 16->3 layer and the
 * ReLU masks of the backward are host code. */
#ifndef CLSP_EXAMPLE_SHAPES_NET_H
#define CLSP_EXAMPLE_SHAPES_NET_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"

typedef struct shapes_config {
  uint64_t seed;  /* data and initial weights */
  int steps;      /* SGD steps (full batch) */
  float lr;       /* learning rate */
  uint32_t flags; /* conv flags, e.g. CLSP_CONV_DETERMINISTIC */
} shapes_config;

/* Trains on the fixed synthetic batch; losses[s] (steps floats) receives
 * the mean cross-entropy before step s. Returns the first failing status
 * (the context's last error says more). */
clsp_status shapes_train(clsp_context *ctx, const shapes_config *cfg, float *losses);

#endif
