/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the model suite: the shared SCN ONNX bundles, a float16 .npy
 * reader, and the dense reference built like densify.py. */
#ifndef CLSP_TEST_MODEL_UTIL_H
#define CLSP_TEST_MODEL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "io/npy.h"

/* ../shared/data/models (or $CLSP_MODELS_DIR). */
const char *model_dir(void);
/* "<model_dir>/<bundle>/<file>" into buf; 1 if the file exists. */
int model_path(char *buf, size_t cap, const char *bundle, const char *file);

/* A whole file (malloc'd); NULL if unreadable. */
unsigned char *model_read_file(const char *path, size_t *size);

/* Reads a '<f2' (float16) .npy of rank 2 as float32 (malloc'd); 0 ok. */
int model_read_f16_npy(const char *path, float **out, size_t *rows, size_t *cols);

/* densify.py: dense [batch, C*D, H, W] (zeros elsewhere) of n sites
 * (b, z, y, x) with C features, spatial (D, H, W). malloc'd. */
float *model_densify(const int32_t *coords, const float *feats, size_t n, size_t channels,
                     const int32_t *dhw, int32_t batch);

/* ||a - b|| / ||b|| in double. */
double model_rel_l2(const float *a, const float *b, size_t n);

/* IEEE binary16 round to nearest even, back to float (the value a float16
 * store would keep). */
float model_round_f16(float x);

/* The suite's tests in other files (model_builder.c, model_malformed.c,
 * model_ops.c). */
void test_builder_network(void **state);
void test_builder_frames(void **state);
void test_builder_epilogue(void **state);
void test_builder_float16(void **state);
void test_builder_errors(void **state);
void test_malformed_models(void **state);
void test_malformed_graphs(void **state);
void test_dense_ops(void **state);
void test_activation_ops(void **state);
void test_round_half(void **state);

#endif
