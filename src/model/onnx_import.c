/* SPDX-License-Identifier: Apache-2.0 */
/* SCN ONNX import: parse with protobuf-c, check the graph's order (cycles,
 * tensors used before they are defined), then add every node through the
 * builder, which checks shapes, channels and site sets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_import.h"

clsp_status monnx_fail(const monnx_ctx *c, const Onnx__NodeProto *n, const char *fmt,
                       ...) {
  char detail[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return clsp__fail(c->g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "node '%s' (%s): %s",
                    n->name && *n->name ? n->name : "(unnamed)",
                    n->op_type ? n->op_type : "?", detail);
}

static int is_graph_value(const monnx_ctx *c, const char *s) {
  return !*s || strcmp(s, c->input_name) == 0 || monnx_initializer(c, s) != NULL;
}

/* Index of the node producing `s`, or -1. */
static int producer(const Onnx__GraphProto *g, const char *s) {
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++)
      if (g->node[i]->output[k] && strcmp(g->node[i]->output[k], s) == 0) return (int)i;
  return -1;
}

/* Kahn's algorithm: the first node (in file order) that cannot be
 * scheduled lies on a cycle or depends on one; -1 if the graph is acyclic. */
static int on_cycle(const monnx_ctx *c) {
  const Onnx__GraphProto *g = c->graph;
  size_t n = g->n_node;
  char *done = calloc(n ? n : 1, 1);
  if (!done) return -1;
  for (int progress = 1; progress;) {
    progress = 0;
    for (size_t i = 0; i < n; i++) {
      if (done[i]) continue;
      int ready = 1;
      for (size_t k = 0; ready && k < g->node[i]->n_input; k++) {
        const char *s = g->node[i]->input[k];
        int p = is_graph_value(c, s) ? -1 : producer(g, s);
        ready = p < 0 || done[p];
      }
      if (ready) done[i] = progress = 1;
    }
  }
  int first = -1;
  for (size_t i = 0; i < n && first < 0; i++)
    if (!done[i]) first = (int)i;
  free(done);
  return first;
}

/* Inputs that carry tensors; the rest (conv weight and bias, Reshape's
 * shape) must be initializers, checked with the node. */
static size_t data_inputs(const Onnx__NodeProto *n) {
  if (!strcmp(n->op_type, "SparseConvolution") || !strcmp(n->op_type, "Reshape"))
    return n->n_input < 1 ? n->n_input : 1;
  return n->n_input;
}

/* Every node reads only tensors defined before it: the graph input,
 * initializers, or outputs of earlier nodes. */
static clsp_status check_order(const monnx_ctx *c) {
  const Onnx__GraphProto *g = c->graph;
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type) return monnx_fail(c, n, "node without op_type");
    if (n->n_output != 1 || !n->output[0] || !*n->output[0])
      return monnx_fail(c, n, "%zu outputs: exactly one supported", n->n_output);
    for (size_t k = 0; k < data_inputs(n); k++) {
      const char *s = n->input[k];
      if (is_graph_value(c, s)) continue;
      int p = producer(g, s);
      if (p >= 0 && (size_t)p < i) continue;
      if (p < 0)
        return monnx_fail(c, n,
                          "input %zu '%s' is never defined (no node output, graph input "
                          "or initializer has that name)",
                          k, s);
      int cyc = on_cycle(c);
      if (cyc >= 0)
        return monnx_fail(c, g->node[cyc],
                          "the graph has a cycle through this node (an input "
                          "depends on its own output)");
      return monnx_fail(c, n,
                        "input %zu '%s' is used before node '%s' defines it (nodes must "
                        "be in topological order)",
                        k, s, g->node[p]->name);
    }
  }
  return CLSP_SUCCESS;
}

/* The one graph input that is not an initializer. */
static clsp_status find_input(monnx_ctx *c, const Onnx__ValueInfoProto **vi) {
  const Onnx__GraphProto *g = c->graph;
  *vi = NULL;
  int found = 0;
  for (size_t i = 0; i < g->n_input; i++) {
    if (!g->input[i]->name || monnx_initializer(c, g->input[i]->name)) continue;
    if (found++) {
      return clsp__fail(c->g->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "graph inputs '%s' and '%s': one sparse feature input supported",
                        (*vi)->name, g->input[i]->name);
    }
    *vi = g->input[i];
  }
  if (!found)
    return clsp__fail(c->g->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "graph has no (non-initializer) input");
  c->input_name = (*vi)->name;
  return CLSP_SUCCESS;
}

/* Spatial shape and channels of the input: from the first
 * SparseConvolution reading it (coordinates are a side input), channels
 * also from the declared [N, C]. */
static clsp_status add_input(monnx_ctx *c, const Onnx__ValueInfoProto *vi) {
  const Onnx__GraphProto *g = c->graph;
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (strcmp(n->op_type, "SparseConvolution") || n->n_input < 1 ||
        strcmp(n->input[0], c->input_name))
      continue;
    int64_t shape[8], cin;
    int count;
    clsp_status st = monnx_ints(c, n, "input_spatial_shape", 1, shape, 8, &count);
    if (!st) st = monnx_int(c, n, "in_channels", 1, 0, &cin);
    if (st) return st;
    int32_t s[CLSP_MAX_DIMS];
    if (count < 1 || count > CLSP_MAX_DIMS)
      return monnx_fail(c, n,
                        "attribute 'input_spatial_shape': %d values, 1..%d supported",
                        count, CLSP_MAX_DIMS);
    for (int a = 0; a < count; a++) {
      if (shape[a] < 1 || shape[a] > INT32_MAX)
        return monnx_fail(c, n,
                          "attribute 'input_spatial_shape'[%d] = %lld is out of range", a,
                          (long long)shape[a]);
      s[a] = (int32_t)shape[a];
    }
    const Onnx__TypeProto *t = vi->type;
    if (t && t->tensor_type && t->tensor_type->shape &&
        t->tensor_type->shape->n_dim == 2) {
      const Onnx__TensorShapeProto__Dimension *d = t->tensor_type->shape->dim[1];
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
          d->dim_value != cin)
        return monnx_fail(c, n,
                          "attribute 'in_channels' = %lld but graph input '%s' declares "
                          "%lld channels",
                          (long long)cin, vi->name, (long long)d->dim_value);
    }
    clsp_status st2 =
      mgraph_add_input(c->g, c->input_name, count, s, cin > 0 ? (size_t)cin : 0);
    /* libspconv's input is half: its features hold float16 values. */
    if (st2 == CLSP_SUCCESS && t && t->tensor_type)
      c->g->values[0].half =
        t->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    return st2;
  }
  return clsp__fail(c->g->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                    "graph input '%s' feeds no SparseConvolution (its spatial shape is "
                    "taken "
                    "from that node's input_spatial_shape)",
                    c->input_name);
}

static clsp_status need_inputs(const monnx_ctx *c, const Onnx__NodeProto *n, size_t k) {
  if (n->n_input == k) return CLSP_SUCCESS;
  return monnx_fail(c, n, "%zu inputs, %zu expected", n->n_input, k);
}

static clsp_status import_concat(const monnx_ctx *c, const Onnx__NodeProto *n,
                                 const char *name) {
  static const char *const known[] = {"axis"};
  int64_t axis;
  clsp_status st = monnx_check_attrs(c, n, known, 1);
  if (!st) st = monnx_int(c, n, "axis", 0, 1, &axis);
  if (!st && axis != 1 && axis != -1)
    st = monnx_fail(c, n,
                    "attribute 'axis' = %lld: only the channel axis (1 or -1) of sparse "
                    "features is supported",
                    (long long)axis);
  if (!st) st = need_inputs(c, n, 2);
  return st ? st
            : mbuild_binary(c->g, name, n->op_type, MOP_CONCAT, n->input[0], n->input[1],
                            n->output[0]);
}

static clsp_status import_scatter(const monnx_ctx *c, const Onnx__NodeProto *n,
                                  const char *name) {
  static const char *const known[] = {"format", "input_spatial_shape", "output_shape"};
  char fmt[16];
  int64_t ish[8], osh[8];
  int nish, nosh;
  clsp_status st = monnx_check_attrs(c, n, known, 3);
  if (!st) st = monnx_string(c, n, "format", "zyx", fmt, sizeof fmt);
  if (!st) st = monnx_ints(c, n, "input_spatial_shape", 0, ish, 8, &nish);
  if (!st) st = monnx_ints(c, n, "output_shape", 0, osh, 8, &nosh);
  if (!st) st = need_inputs(c, n, 1);
  if (!st && strcmp(fmt, "zyx") && strcmp(fmt, "xyz"))
    st = monnx_fail(c, n, "attribute 'format' = '%s': zyx or xyz supported", fmt);
  if (st) return st;
  int v = mgraph_find(c->g, n->input[0]);
  for (int a = 0; v >= 0 && a < nish; a++)
    if (nish != c->g->values[v].ndim || ish[a] != c->g->values[v].shape[a])
      return monnx_fail(c, n,
                        "attribute 'input_spatial_shape'[%d] = %lld does not match input "
                        "'%s'",
                        a, (long long)ish[a], n->input[0]);
  st = mbuild_scatter(c->g, name, n->op_type, n->input[0], n->output[0],
                      strcmp(fmt, "xyz") ? CLSP_DENSE_AXES_IN_ORDER
                                         : CLSP_DENSE_AXES_REVERSED);
  if (st) return st;
  const mvalue *out = &c->g->values[c->g->n_values - 1];
  for (int k = 1; k < nosh; k++)
    if (nosh != out->n_dims || osh[k] != out->dims[k]) {
      mgraph_pop_node(c->g);
      return monnx_fail(c, n, "attribute 'output_shape'[%d] = %lld, the input gives %lld",
                        k, (long long)osh[k],
                        (long long)(k < out->n_dims ? out->dims[k] : 0));
    }
  return CLSP_SUCCESS;
}

static clsp_status import_reshape(const monnx_ctx *c, const Onnx__NodeProto *n,
                                  const char *name) {
  static const char *const known[] = {"dims", "allowzero"};
  int64_t dims[CLSP_MODEL_MAX_DIMS];
  int nd = -1;
  clsp_status st = monnx_check_attrs(c, n, known, 2);
  if (!st) st = monnx_ints(c, n, "dims", 0, dims, CLSP_MODEL_MAX_DIMS, &nd);
  if (!st && nd < 0) { /* standard ONNX: shape as a constant second input */
    const Onnx__TensorProto *t =
      n->n_input == 2 ? monnx_initializer(c, n->input[1]) : NULL;
    if (!t) return monnx_fail(c, n, "no attribute 'dims' and no constant shape input");
    st = monnx_tensor_int64s(c, n, t, dims, CLSP_MODEL_MAX_DIMS, &nd);
  } else if (!st) {
    st = need_inputs(c, n, 1);
  }
  return st ? st
            : mbuild_reshape(c->g, name, n->op_type, n->input[0], n->output[0], nd, dims);
}

static clsp_status import_transpose(const monnx_ctx *c, const Onnx__NodeProto *n,
                                    const char *name) {
  static const char *const known[] = {"perm", "dims"};
  int64_t p[CLSP_MODEL_MAX_DIMS];
  int perm[CLSP_MODEL_MAX_DIMS], np;
  clsp_status st = monnx_check_attrs(c, n, known, 2);
  if (!st) st = monnx_ints(c, n, "perm", 0, p, CLSP_MODEL_MAX_DIMS, &np);
  if (!st && np < 0) st = monnx_ints(c, n, "dims", 1, p, CLSP_MODEL_MAX_DIMS, &np);
  if (!st) st = need_inputs(c, n, 1);
  if (st) return st;
  for (int k = 0; k < np; k++) perm[k] = p[k] < 0 || p[k] > 64 ? -1 : (int)p[k];
  return mbuild_transpose(c->g, name, n->op_type, n->input[0], n->output[0], np, perm);
}

static clsp_status import_activation(const monnx_ctx *c, const Onnx__NodeProto *n,
                                     const char *name, clsp_activation act) {
  static const char *const known[] = {"alpha"};
  float alpha;
  clsp_status st =
    monnx_check_attrs(c, n, known, act == CLSP_ACTIVATION_LEAKY_RELU ? 1 : 0);
  if (!st) st = monnx_float(c, n, "alpha", 0.01f, &alpha);
  if (!st) st = need_inputs(c, n, 1);
  return st ? st
            : mbuild_activation(c->g, name, n->op_type, n->input[0], n->output[0], act,
                                alpha);
}

static clsp_status import_node(const monnx_ctx *c, const Onnx__NodeProto *n,
                               size_t index) {
  char fallback[32];
  snprintf(fallback, sizeof fallback, "#%zu", index);
  const char *name = n->name && *n->name ? n->name : fallback;
  const char *op = n->op_type;
  if (!strcmp(op, "SparseConvolution")) return monnx_conv(c, n, name);
  if (!strcmp(op, "Relu")) return import_activation(c, n, name, CLSP_ACTIVATION_RELU);
  if (!strcmp(op, "Sigmoid"))
    return import_activation(c, n, name, CLSP_ACTIVATION_SIGMOID);
  if (!strcmp(op, "LeakyRelu"))
    return import_activation(c, n, name, CLSP_ACTIVATION_LEAKY_RELU);
  if (!strcmp(op, "Concat")) return import_concat(c, n, name);
  if (!strcmp(op, "ScatterDense")) return import_scatter(c, n, name);
  if (!strcmp(op, "Reshape")) return import_reshape(c, n, name);
  if (!strcmp(op, "Transpose")) return import_transpose(c, n, name);
  if (!strcmp(op, "Add")) {
    clsp_status st = monnx_check_attrs(c, n, NULL, 0);
    if (!st) st = need_inputs(c, n, 2);
    return st ? st
              : mbuild_binary(c->g, name, op, MOP_ADD, n->input[0], n->input[1],
                              n->output[0]);
  }
  return monnx_fail(c, n,
                    "node type '%s' is not supported (SparseConvolution, Add, Relu, "
                    "Sigmoid, LeakyRelu, Concat, ScatterDense, Reshape, Transpose are)",
                    op);
}

static clsp_status import_graph(monnx_ctx *c, uint32_t flags, clsp_model **out) {
  const Onnx__ValueInfoProto *vi;
  clsp_status st = find_input(c, &vi);
  if (!st) st = check_order(c);
  if (!st) st = add_input(c, vi);
  for (size_t i = 0; !st && i < c->graph->n_node; i++)
    st = import_node(c, c->graph->node[i], i);
  const Onnx__GraphProto *g = c->graph;
  const char **outs = calloc(g->n_output ? g->n_output : 1, sizeof *outs);
  if (!st && !outs) st = clsp__fail(c->g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "outputs");
  for (size_t i = 0; !st && i < g->n_output; i++) outs[i] = g->output[i]->name;
  if (!st) {
    st = mbuild_finish(c->g, outs, g->n_output, flags, out);
  } else {
    mgraph_free(c->g);
  }
  free(outs);
  return st;
}

clsp_status monnx_import(clsp_context *ctx, const void *data, size_t size, uint32_t flags,
                         clsp_model **out) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "model: %zu bytes are not an ONNX ModelProto (truncated, or not a "
                      "protobuf of that type)",
                      size);
  clsp_status st = CLSP_SUCCESS;
  if (!m->graph || m->graph->n_node == 0)
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                    "model: the ONNX file has no graph nodes "
                    "(not an ONNX model, or an empty one)");
  mgraph g;
  memset(&g, 0, sizeof g);
  g.ctx = ctx;
  monnx_ctx c = {&g, m->graph, ""};
  if (!st) st = import_graph(&c, flags, out);
  onnx__model_proto__free_unpacked(m, NULL);
  return st;
}
