/* SPDX-License-Identifier: Apache-2.0 */
/* SCN ONNX (NVIDIA's libspconv deployment format) to a model graph. */
#ifndef CLSP_ONNX_IMPORT_H
#define CLSP_ONNX_IMPORT_H

#include "model_internal.h"
#include "onnx.pb-c.h"

/* What the importer works on. */
typedef struct monnx_ctx {
  mgraph *g;
  const Onnx__GraphProto *graph;
  const char *input_name; /* the graph's feature input */
} monnx_ctx;

/* Records "node 'NAME' (TYPE): detail" (INVALID_ARGUMENT). */
clsp_status monnx_fail(const monnx_ctx *c, const Onnx__NodeProto *n, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* ---- onnx_data.c: attributes and initializers ---- */
const Onnx__AttributeProto *monnx_attr(const Onnx__NodeProto *n, const char *name);
/* Fails naming the first attribute not in `known`. */
clsp_status monnx_check_attrs(const monnx_ctx *c, const Onnx__NodeProto *n,
                              const char *const *known, size_t n_known);
clsp_status monnx_int(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                      int required, int64_t dflt, int64_t *out);
/* *count = -1 when absent (and not required). */
clsp_status monnx_ints(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                       int required, int64_t *out, int cap, int *count);
clsp_status monnx_string(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                         const char *dflt, char *out, size_t cap);
clsp_status monnx_float(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                        float dflt, float *out);
const Onnx__TensorProto *monnx_initializer(const monnx_ctx *c, const char *name);
/* `count` float32 values of a FLOAT16 or FLOAT initializer (malloc'd). */
clsp_status monnx_tensor_floats(const monnx_ctx *c, const Onnx__NodeProto *n,
                                const Onnx__TensorProto *t, size_t count, float **out);
clsp_status monnx_tensor_int64s(const monnx_ctx *c, const Onnx__NodeProto *n,
                                const Onnx__TensorProto *t, int64_t *out, int cap,
                                int *count);
/* ---- onnx_conv.c ---- */
clsp_status monnx_conv(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name);

/* Parses `size` bytes of an ONNX ModelProto, checks the graph, converts
 * the initializers and makes the model (weights uploaded). */
clsp_status monnx_import(clsp_context *ctx, const void *data, size_t size, uint32_t flags,
                         clsp_model **out);

#endif
