/* SPDX-License-Identifier: Apache-2.0 */
/* Reading ONNX attributes and initializers (protobuf-c messages generated
 * from Debian's onnx.proto), each failure naming the node and attribute. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_import.h"

const Onnx__AttributeProto *monnx_attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

clsp_status monnx_check_attrs(const monnx_ctx *c, const Onnx__NodeProto *n,
                              const char *const *known, size_t n_known) {
  for (size_t i = 0; i < n->n_attribute; i++) {
    const char *a = n->attribute[i]->name ? n->attribute[i]->name : "";
    size_t k = 0;
    while (k < n_known && strcmp(known[k], a) != 0) k++;
    if (k == n_known) return monnx_fail(c, n, "attribute '%s' is not supported", a);
  }
  return CLSP_SUCCESS;
}

clsp_status monnx_int(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                      int required, int64_t dflt, int64_t *out) {
  const Onnx__AttributeProto *a = monnx_attr(n, name);
  *out = dflt;
  if (!a)
    return required ? monnx_fail(c, n, "attribute '%s' is missing", name) : CLSP_SUCCESS;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return monnx_fail(c, n, "attribute '%s' must be an INT (type %d)", name,
                      (int)a->type);
  *out = a->i;
  return CLSP_SUCCESS;
}

clsp_status monnx_ints(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                       int required, int64_t *out, int cap, int *count) {
  const Onnx__AttributeProto *a = monnx_attr(n, name);
  *count = -1;
  if (!a)
    return required ? monnx_fail(c, n, "attribute '%s' is missing", name) : CLSP_SUCCESS;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
    return monnx_fail(c, n, "attribute '%s' must be INTS (type %d)", name, (int)a->type);
  if (a->n_ints > (size_t)cap)
    return monnx_fail(c, n, "attribute '%s': %zu values, at most %d supported", name,
                      a->n_ints, cap);
  for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
  *count = (int)a->n_ints;
  return CLSP_SUCCESS;
}

clsp_status monnx_string(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                         const char *dflt, char *out, size_t cap) {
  const Onnx__AttributeProto *a = monnx_attr(n, name);
  snprintf(out, cap, "%s", dflt);
  if (!a) return CLSP_SUCCESS;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING || a->s.len >= cap)
    return monnx_fail(c, n, "attribute '%s' must be a STRING shorter than %zu bytes",
                      name, cap);
  memcpy(out, a->s.data, a->s.len);
  out[a->s.len] = '\0';
  if (strlen(out) != a->s.len)
    return monnx_fail(c, n, "attribute '%s' holds a NUL byte", name);
  return CLSP_SUCCESS;
}

clsp_status monnx_float(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name,
                        float dflt, float *out) {
  const Onnx__AttributeProto *a = monnx_attr(n, name);
  *out = dflt;
  if (!a) return CLSP_SUCCESS;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return monnx_fail(c, n, "attribute '%s' must be a FLOAT (type %d)", name,
                      (int)a->type);
  *out = a->f;
  return CLSP_SUCCESS;
}

const Onnx__TensorProto *monnx_initializer(const monnx_ctx *c, const char *name) {
  const Onnx__GraphProto *g = c->graph;
  for (size_t i = 0; name && i < g->n_initializer; i++)
    if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
      return g->initializer[i];
  return NULL;
}

/* IEEE binary16 to float, exactly (every half is a float). */
static float half_to_float(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v;
  if (e == 0)
    v = ldexpf((float)m, -24);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = ldexpf((float)(m | 0x400), e - 25);
  return (h & 0x8000) ? -v : v;
}

/* Raw data is little-endian (ONNX); the library targets little-endian
 * hosts, so bytes are read as they are. */
static clsp_status check_count(const monnx_ctx *c, const Onnx__NodeProto *n,
                               const Onnx__TensorProto *t, size_t have, size_t count) {
  if (have == count) return CLSP_SUCCESS;
  return monnx_fail(c, n,
                    "initializer '%s': %zu values stored, %zu expected from its dims",
                    t->name, have, count);
}

clsp_status monnx_tensor_floats(const monnx_ctx *c, const Onnx__NodeProto *n,
                                const Onnx__TensorProto *t, size_t count, float **out) {
  *out = NULL;
  if (t->has_data_location &&
      t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return monnx_fail(c, n, "initializer '%s': external data is not supported", t->name);
  int half = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
  if (!half && t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return monnx_fail(c, n,
                      "initializer '%s': data_type %d, FLOAT16 (10) or FLOAT (1) needed",
                      t->name, (int)t->data_type);
  size_t esize = half ? 2 : 4;
  size_t stored = t->has_raw_data ? t->raw_data.len / esize
                  : half          ? t->n_int32_data
                                  : t->n_float_data;
  if (t->has_raw_data && t->raw_data.len % esize)
    return monnx_fail(c, n,
                      "initializer '%s': raw_data of %zu bytes is not a whole number of "
                      "values",
                      t->name, t->raw_data.len);
  clsp_status st = check_count(c, n, t, stored, count);
  if (st != CLSP_SUCCESS) return st;
  float *v = malloc((count ? count : 1) * sizeof *v);
  if (!v)
    return clsp__fail(c->g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "initializer '%s'",
                      t->name);
  for (size_t i = 0; i < count; i++) {
    if (t->has_raw_data && half) {
      uint16_t h;
      memcpy(&h, t->raw_data.data + 2 * i, 2);
      v[i] = half_to_float(h);
    } else if (t->has_raw_data) {
      memcpy(&v[i], t->raw_data.data + 4 * i, 4);
    } else {
      v[i] = half ? half_to_float((uint16_t)t->int32_data[i]) : t->float_data[i];
    }
  }
  *out = v;
  return CLSP_SUCCESS;
}

clsp_status monnx_tensor_int64s(const monnx_ctx *c, const Onnx__NodeProto *n,
                                const Onnx__TensorProto *t, int64_t *out, int cap,
                                int *count) {
  if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    return monnx_fail(c, n, "initializer '%s': data_type %d, INT64 (7) needed", t->name,
                      (int)t->data_type);
  size_t k = t->has_raw_data ? t->raw_data.len / 8 : t->n_int64_data;
  if (k > (size_t)cap)
    return monnx_fail(c, n, "initializer '%s': %zu values, at most %d supported", t->name,
                      k, cap);
  for (size_t i = 0; i < k; i++) {
    if (t->has_raw_data)
      memcpy(&out[i], t->raw_data.data + 8 * i, 8);
    else
      out[i] = t->int64_data[i];
  }
  *count = (int)k;
  return CLSP_SUCCESS;
}
