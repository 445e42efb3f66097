/* SPDX-License-Identifier: Apache-2.0 */
/* Adding nodes with their shape, channel and site-set checks (used by the
 * public builder and the ONNX importer), and making the model. */
#include <stdlib.h>
#include <string.h>
#include "conv_stages.h" /* clsp__weights_to_half */
#include "model_internal.h"

static const mvalue *in_value(const mgraph *g, int node, int k) {
  return &g->values[g->nodes[node].in[k]];
}

/* Fails unless input k of `node` is sparse (want_dense 0) or dense (1). */
static clsp_status want_kind(mgraph *g, int node, int k, int want_dense) {
  const mvalue *v = in_value(g, node, k);
  if (v->dense == want_dense) return CLSP_SUCCESS;
  return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                     "input '%s' is %s, a %s tensor is needed", v->name,
                     v->dense ? "dense" : "sparse", want_dense ? "dense" : "sparse");
}

/* Finishes a node: defines its output or removes it again on error. */
static clsp_status settle(mgraph *g, int node, clsp_status st, const char *output,
                          const mvalue *out) {
  if (st == CLSP_SUCCESS) st = mgraph_set_output(g, node, output, out);
  if (st != CLSP_SUCCESS) mgraph_pop_node(g);
  return st;
}

static int find_rulebook(const mgraph *g, const char *key) {
  for (size_t r = 0; key && r < g->n_rbs; r++)
    if (g->rbs[r].key && strcmp(g->rbs[r].key, key) == 0) return (int)r;
  return -1;
}

static clsp_status new_rulebook(mgraph *g, int node, const char *key, clsp_conv_kind kind,
                                const clsp_conv_geometry *geo, const mvalue *in,
                                int *slot) {
  mrulebook *arr = realloc(g->rbs, (g->n_rbs + 1) * sizeof *arr);
  if (!arr) return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "rulebooks");
  g->rbs = arr;
  mrulebook *r = &g->rbs[g->n_rbs];
  memset(r, 0, sizeof *r);
  if (key && !(r->key = malloc(strlen(key) + 1)))
    return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "rulebooks");
  if (key) strcpy(r->key, key);
  r->kind = kind;
  r->geometry = *geo;
  r->builder = node;
  r->in_set = in->site_set;
  r->out_set = kind == CLSP_CONV_SUBMANIFOLD ? in->site_set : g->n_site_sets++;
  memcpy(r->in_shape, in->shape, sizeof r->in_shape);
  r->parent = -1;
  *slot = (int)g->n_rbs++;
  return CLSP_SUCCESS;
}

static int same_kernel(const clsp_conv_geometry *a, const clsp_conv_geometry *b,
                       int ndim) {
  for (int k = 0; k < ndim; k++)
    if (a->kernel[k] != b->kernel[k] || a->dilation[k] != b->dilation[k]) return 0;
  return 1;
}

/* A submanifold layer naming a key shares the rulebook when kernel and
 * sites agree; an inverse reverses the REGULAR rulebook its key names;
 * any other conv registers its own. */
static clsp_status attach_rulebook(mgraph *g, int node, const clsp_model_conv *c,
                                   const mvalue *in, mvalue *out) {
  const char *key = c->rulebook && *c->rulebook ? c->rulebook : NULL;
  int r = find_rulebook(g, key), nd = in->ndim;
  mnode *n = &g->nodes[node];
  if (c->kind == CLSP_CONV_INVERSE) {
    if (r < 0 || g->rbs[r].kind != CLSP_CONV_REGULAR)
      return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                         "attribute 'rulebook' = '%s': an inverse conv needs the key of "
                         "an "
                         "earlier regular (strided) conv",
                         key ? key : "");
    const mrulebook *p = &g->rbs[r];
    if (p->out_set != in->site_set || !same_kernel(&p->geometry, &c->geometry, nd))
      return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                         "rulebook '%s' of node '%s' does not fit: the input must be on "
                         "its "
                         "output sites with the same kernel and dilation",
                         key, g->nodes[p->builder].name);
    int slot;
    const clsp_conv_geometry geo = p->geometry; /* new_rulebook moves g->rbs */
    clsp_status st = new_rulebook(g, node, NULL, CLSP_CONV_INVERSE, &geo, in, &slot);
    if (st != CLSP_SUCCESS) return st;
    g->rbs[slot].parent = r;
    g->rbs[slot].out_set = g->rbs[r].in_set;
    memcpy(out->shape, g->rbs[r].in_shape, sizeof out->shape);
    out->site_set = g->rbs[r].in_set;
    n->rb = slot;
    return CLSP_SUCCESS;
  }
  if (r >= 0) {
    const mrulebook *p = &g->rbs[r];
    if (c->kind != CLSP_CONV_SUBMANIFOLD || p->kind != CLSP_CONV_SUBMANIFOLD ||
        p->in_set != in->site_set || !same_kernel(&p->geometry, &c->geometry, nd))
      return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                         "attribute 'rulebook' = '%s' is already node '%s''s rulebook; "
                         "only "
                         "submanifold convs on the same sites with the same kernel and "
                         "dilation may share one",
                         key, g->nodes[p->builder].name);
    n->rb = r;
  } else {
    clsp_status st = new_rulebook(g, node, key, c->kind, &c->geometry, in, &n->rb);
    if (st != CLSP_SUCCESS) return st;
  }
  out->site_set = g->rbs[n->rb].out_set;
  return CLSP_SUCCESS;
}

static clsp_status conv_shape(mgraph *g, int node, const clsp_model_conv *c,
                              const mvalue *in, mvalue *out, size_t *kvol) {
  *kvol = 1;
  for (int a = 0; a < in->ndim; a++)
    *kvol *= (size_t)(c->geometry.kernel[a] > 0 ? c->geometry.kernel[a] : 0);
  if (c->kind == CLSP_CONV_INVERSE) return CLSP_SUCCESS; /* shape from the regular conv */
  if (c->kind != CLSP_CONV_SUBMANIFOLD && c->kind != CLSP_CONV_REGULAR &&
      c->kind != CLSP_CONV_TRANSPOSED)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "conv kind %d unknown",
                       (int)c->kind);
  const clsp_conv_geometry *q = &c->geometry;
  if (clsp_conv_output_shape(c->kind, in->ndim, q, in->shape, out->shape) != CLSP_SUCCESS)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "geometry kernel (%d,%d,%d) stride (%d,%d,%d) padding (%d,%d,%d) "
                       "dilation (%d,%d,%d) is invalid for a %s conv on spatial shape "
                       "(%d,%d,%d) (first three axes shown)",
                       q->kernel[0], q->kernel[1], q->kernel[2], q->stride[0],
                       q->stride[1], q->stride[2], q->padding[0], q->padding[1],
                       q->padding[2], q->dilation[0], q->dilation[1], q->dilation[2],
                       c->kind == CLSP_CONV_SUBMANIFOLD ? "submanifold"
                       : c->kind == CLSP_CONV_REGULAR   ? "regular"
                                                        : "transposed",
                       (int)in->shape[0], (int)in->shape[1], (int)in->shape[2]);
  return CLSP_SUCCESS;
}

static clsp_status copy_weights(mgraph *g, int node, size_t kvol,
                                clsp_weight_layout layout, const float *weights,
                                const float *bias) {
  mnode *n = &g->nodes[node];
  size_t cin = n->conv.c_in, cout = n->conv.c_out, count = kvol * cin * cout;
  if (!weights) return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "weights: NULL");
  n->weights = malloc(count * sizeof(float));
  n->bias = bias ? malloc(cout * sizeof(float)) : NULL;
  if (!n->weights || (bias && !n->bias))
    return mgraph_fail(g, node, CLSP_ERROR_OUT_OF_HOST_MEMORY, "weights");
  if (clsp_weights_convert(layout, kvol, cin, cout, weights, n->weights) != CLSP_SUCCESS)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "weights: layout %d with %zu taps x %zu x %zu cannot be converted",
                       (int)layout, kvol, cin, cout);
  if (bias) memcpy(n->bias, bias, cout * sizeof(float));
  return CLSP_SUCCESS;
}

static clsp_status check_activation(mgraph *g, int node, clsp_activation a) {
  if (a >= CLSP_ACTIVATION_NONE && a <= CLSP_ACTIVATION_LEAKY_RELU) return CLSP_SUCCESS;
  return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "activation %d unknown",
                     (int)a);
}

clsp_status mbuild_conv(mgraph *g, const char *name, const char *op_type,
                        const char *input, const char *output, const clsp_model_conv *c,
                        clsp_weight_layout layout, const float *weights,
                        const float *bias) {
  int node;
  if (!c) return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "conv: NULL");
  clsp_status st = mgraph_add_node(g, name, op_type, MOP_CONV, &input, 1, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 0);
  const mvalue *in = in_value(g, node, 0);
  mvalue out = *in;
  size_t kvol = 0;
  mnode *n = &g->nodes[node];
  n->conv = *c;
  n->conv.rulebook = NULL;
  if (c->kind == CLSP_CONV_SUBMANIFOLD)
    memset(n->conv.geometry.padding, 0, sizeof n->conv.geometry.padding);
  if (st == CLSP_SUCCESS && c->c_in != in->channels)
    st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                     "in_channels = %zu but input '%s' has %zu channels", c->c_in,
                     in->name, in->channels);
  if (st == CLSP_SUCCESS && c->c_out < 1)
    st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "out_channels = 0");
  if (st == CLSP_SUCCESS) st = check_activation(g, node, c->activation);
  if (st == CLSP_SUCCESS) st = conv_shape(g, node, &n->conv, in, &out, &kvol);
  clsp_model_conv keyed = n->conv;
  keyed.rulebook = c->rulebook;
  if (st == CLSP_SUCCESS) st = attach_rulebook(g, node, &keyed, in, &out);
  n = &g->nodes[node];
  if (st == CLSP_SUCCESS && c->rulebook && *c->rulebook) {
    char *key = malloc(strlen(c->rulebook) + 1);
    if (key) strcpy(key, c->rulebook);
    n->conv.rulebook = key;
    if (!key) st = mgraph_fail(g, node, CLSP_ERROR_OUT_OF_HOST_MEMORY, "rulebook key");
  }
  if (st == CLSP_SUCCESS) st = copy_weights(g, node, kvol, layout, weights, bias);
  out.channels = c->c_out;
  return settle(g, node, st, output, &out);
}

clsp_status mbuild_binary(mgraph *g, const char *name, const char *op_type, mop op,
                          const char *a, const char *b, const char *output) {
  int node;
  const char *ins[2] = {a, b};
  clsp_status st = mgraph_add_node(g, name, op_type, op, ins, 2, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 0);
  if (st == CLSP_SUCCESS) st = want_kind(g, node, 1, 0);
  const mvalue *va = in_value(g, node, 0), *vb = in_value(g, node, 1);
  if (st == CLSP_SUCCESS && va->site_set != vb->site_set)
    st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                     "inputs '%s' and '%s' are on different site sets (an elementwise op "
                     "needs identical sites: same rulebook lineage)",
                     va->name, vb->name);
  if (st == CLSP_SUCCESS && op == MOP_ADD && va->channels != vb->channels)
    st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                     "inputs '%s' (%zu channels) and '%s' (%zu) differ in channels",
                     va->name, va->channels, vb->name, vb->channels);
  mvalue out = *va;
  if (op == MOP_CONCAT) out.channels = va->channels + vb->channels;
  return settle(g, node, st, output, &out);
}

clsp_status mbuild_activation(mgraph *g, const char *name, const char *op_type,
                              const char *input, const char *output, clsp_activation act,
                              float alpha) {
  int node;
  clsp_status st = mgraph_add_node(g, name, op_type, MOP_ACT, &input, 1, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 0);
  if (st == CLSP_SUCCESS) st = check_activation(g, node, act);
  g->nodes[node].act = act;
  g->nodes[node].alpha = alpha;
  mvalue out = *in_value(g, node, 0);
  return settle(g, node, st, output, &out);
}

clsp_status mbuild_scatter(mgraph *g, const char *name, const char *op_type,
                           const char *input, const char *output,
                           clsp_dense_format format) {
  int node;
  clsp_status st = mgraph_add_node(g, name, op_type, MOP_SCATTER, &input, 1, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 0);
  if (st == CLSP_SUCCESS && format != CLSP_DENSE_AXES_IN_ORDER &&
      format != CLSP_DENSE_AXES_REVERSED)
    st =
      mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "format %d unknown", (int)format);
  g->nodes[node].format = format;
  const mvalue *in = in_value(g, node, 0);
  mvalue out;
  memset(&out, 0, sizeof out);
  out.dense = 1;
  out.n_dims = 2 + in->ndim;
  out.dims[0] = 1;
  out.dims[1] = (int64_t)in->channels;
  for (int j = 0; j < in->ndim; j++)
    out.dims[2 + j] =
      in->shape[format == CLSP_DENSE_AXES_REVERSED ? in->ndim - 1 - j : j];
  return settle(g, node, st, output, &out);
}

static int64_t product(const int64_t *d, int n) {
  int64_t p = 1;
  for (int k = 0; k < n; k++) p *= d[k];
  return p;
}

/* Resolves ONNX-style 0 (copy) and one -1 (infer) past the batch axis. */
static clsp_status resolve_dims(mgraph *g, int node, const mvalue *in, int n_dims,
                                const int64_t *dims, mvalue *out) {
  if (!dims || n_dims < 1 || n_dims > CLSP_MODEL_MAX_DIMS)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "attribute 'dims': %d values, 1..%d supported", n_dims,
                       CLSP_MODEL_MAX_DIMS);
  if (dims[0] != -1 && dims[0] != 0 && dims[0] != in->dims[0])
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "attribute 'dims'[0] = %lld: the batch axis must stay (%lld, 0 or "
                       "-1)",
                       (long long)dims[0], (long long)in->dims[0]);
  int infer = -1;
  out->n_dims = n_dims;
  out->dims[0] = in->dims[0];
  for (int k = 1; k < n_dims; k++) {
    out->dims[k] = dims[k] == 0 && k < in->n_dims ? in->dims[k] : dims[k];
    if (dims[k] == -1 && infer < 0) {
      infer = k;
      out->dims[k] = 1;
    } else if (out->dims[k] < 1) {
      return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                         "attribute 'dims'[%d] = %lld is invalid", k, (long long)dims[k]);
    }
  }
  int64_t have = product(in->dims, in->n_dims), got = product(out->dims, n_dims);
  if (infer >= 0 && got > 0 && have % got == 0) out->dims[infer] = have / got;
  if (product(out->dims, n_dims) != have)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "attribute 'dims': %lld elements, the input has %lld",
                       (long long)product(out->dims, n_dims), (long long)have);
  return CLSP_SUCCESS;
}

clsp_status mbuild_reshape(mgraph *g, const char *name, const char *op_type,
                           const char *input, const char *output, int n_dims,
                           const int64_t *dims) {
  int node;
  clsp_status st = mgraph_add_node(g, name, op_type, MOP_RESHAPE, &input, 1, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 1);
  mvalue out = *in_value(g, node, 0);
  if (st == CLSP_SUCCESS)
    st = resolve_dims(g, node, in_value(g, node, 0), n_dims, dims, &out);
  if (st == CLSP_SUCCESS) {
    g->nodes[node].n_dims = out.n_dims;
    memcpy(g->nodes[node].dims, out.dims, sizeof out.dims);
  }
  return settle(g, node, st, output, &out);
}

clsp_status mbuild_transpose(mgraph *g, const char *name, const char *op_type,
                             const char *input, const char *output, int n_dims,
                             const int *perm) {
  int node;
  clsp_status st = mgraph_add_node(g, name, op_type, MOP_TRANSPOSE, &input, 1, &node);
  if (st != CLSP_SUCCESS) return st;
  st = want_kind(g, node, 0, 1);
  const mvalue *in = in_value(g, node, 0);
  mvalue out = *in;
  int seen[CLSP_MODEL_MAX_DIMS] = {0};
  if (st == CLSP_SUCCESS && (!perm || n_dims != in->n_dims))
    st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                     "attribute 'perm': %d values for a tensor of %d axes", n_dims,
                     in->n_dims);
  for (int k = 0; st == CLSP_SUCCESS && k < n_dims; k++) {
    if (perm[k] < 0 || perm[k] >= n_dims || seen[perm[k]]++)
      st = mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "attribute 'perm'[%d] = %d: not a permutation", k, perm[k]);
    else
      out.dims[k] = in->dims[perm[k]];
  }
  if (st == CLSP_SUCCESS) {
    g->nodes[node].n_dims = n_dims;
    memcpy(g->nodes[node].perm, perm, (size_t)n_dims * sizeof *perm);
  }
  return settle(g, node, st, output, &out);
}

/* Uploads every conv's weights (as float16 with
 * CLSP_MODEL_FLOAT16_STORAGE) and drops the host copies. */
static clsp_status upload(mgraph *g, uint32_t flags) {
  for (size_t i = 0; i < g->n_nodes; i++) {
    mnode *n = &g->nodes[i];
    if (n->op != MOP_CONV) continue;
    size_t kvol = 1;
    for (int a = 0; a < g->values[n->in[0]].ndim; a++)
      kvol *= (size_t)n->conv.geometry.kernel[a];
    clsp_status st = clsp_weights_create(g->ctx, kvol, n->conv.c_in, n->conv.c_out,
                                         n->weights, n->bias, &n->w);
    if (st == CLSP_SUCCESS && (flags & CLSP_MODEL_FLOAT16_STORAGE))
      st = clsp__weights_to_half(g->ctx, n->w);
    if (st != CLSP_SUCCESS)
      return mgraph_fail(g, (int)i, st, "uploading weights: %s",
                         clsp_context_last_error(g->ctx));
    free(n->weights);
    free(n->bias);
    n->weights = n->bias = NULL;
  }
  return CLSP_SUCCESS;
}

static clsp_status model_new(mgraph *g, size_t n_outputs, uint32_t flags,
                             clsp_model **out) {
  clsp_model *m = calloc(1, sizeof *m);
  size_t nv = g->n_values, nr = g->n_rbs ? g->n_rbs : 1;
  if (m) {
    m->slots = calloc(nv, sizeof *m->slots);
    m->kept = calloc(nv, sizeof *m->kept);
    m->rbh = calloc(nr, sizeof *m->rbh);
    m->outputs = calloc(n_outputs, sizeof *m->outputs);
  }
  if (!m || !m->slots || !m->kept || !m->rbh || !m->outputs) {
    if (m) {
      free(m->slots);
      free(m->kept);
      free(m->rbh);
      free(m->outputs);
    }
    free(m);
    return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model");
  }
  m->flags = flags;
  *out = m;
  return CLSP_SUCCESS;
}

clsp_status mbuild_finish(mgraph *g, const char *const *outputs, size_t n_outputs,
                          uint32_t flags, clsp_model **out) {
  clsp_status st = CLSP_SUCCESS;
  if (!outputs || n_outputs == 0)
    st = clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "outputs: none declared");
  for (size_t i = 0; st == CLSP_SUCCESS && i < n_outputs; i++) {
    int v = mgraph_resolve(g, outputs[i]);
    if (v < 0)
      st = clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "output '%s': no such tensor",
                      outputs[i] ? outputs[i] : "(null)");
    else
      g->values[v].pinned = 1;
  }
  if (st == CLSP_SUCCESS) st = upload(g, flags);
  clsp_model *m = NULL;
  if (st == CLSP_SUCCESS) st = model_new(g, n_outputs, flags, &m);
  if (st != CLSP_SUCCESS) {
    mgraph_free(g);
    return st;
  }
  mgraph_plan(g);
  for (size_t i = 0; i < n_outputs; i++)
    m->outputs[m->n_outputs++] = mgraph_resolve(g, outputs[i]);
  m->g = *g;
  memset(g, 0, sizeof *g);
  *out = m;
  return CLSP_SUCCESS;
}

/* ---- the public builder ---- */

clsp_status clsp_model_builder_create(clsp_context *ctx, const char *input_name, int ndim,
                                      const int32_t *spatial_shape, size_t channels,
                                      clsp_model_builder **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  clsp_model_builder *b = calloc(1, sizeof *b);
  if (!b) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model builder");
  b->g.ctx = ctx;
  clsp_status st = mgraph_add_input(&b->g, input_name, ndim, spatial_shape, channels);
  if (st != CLSP_SUCCESS) {
    clsp_model_builder_destroy(b);
    return st;
  }
  *out = b;
  return CLSP_SUCCESS;
}

void clsp_model_builder_destroy(clsp_model_builder *b) {
  if (!b) return;
  mgraph_free(&b->g);
  free(b);
}

clsp_status clsp_model_builder_conv(clsp_model_builder *b, const char *name,
                                    const char *input, const char *output,
                                    const clsp_model_conv *conv,
                                    clsp_weight_layout layout, const float *weights,
                                    const float *bias) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_conv(&b->g, name, "conv", input, output, conv, layout, weights, bias);
}

clsp_status clsp_model_builder_add(clsp_model_builder *b, const char *name, const char *a,
                                   const char *bb, const char *output) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_binary(&b->g, name, "add", MOP_ADD, a, bb, output);
}

clsp_status clsp_model_builder_activation(clsp_model_builder *b, const char *name,
                                          const char *input, const char *output,
                                          clsp_activation activation, float alpha) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_activation(&b->g, name, "activation", input, output, activation, alpha);
}

clsp_status clsp_model_builder_concat(clsp_model_builder *b, const char *name,
                                      const char *a, const char *bb, const char *output) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_binary(&b->g, name, "concat", MOP_CONCAT, a, bb, output);
}

clsp_status clsp_model_builder_scatter_dense(clsp_model_builder *b, const char *name,
                                             const char *input, const char *output,
                                             clsp_dense_format format) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_scatter(&b->g, name, "scatter_dense", input, output, format);
}

clsp_status clsp_model_builder_reshape(clsp_model_builder *b, const char *name,
                                       const char *input, const char *output, int n_dims,
                                       const int64_t *dims) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_reshape(&b->g, name, "reshape", input, output, n_dims, dims);
}

clsp_status clsp_model_builder_transpose(clsp_model_builder *b, const char *name,
                                         const char *input, const char *output,
                                         int n_dims, const int *perm) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  return mbuild_transpose(&b->g, name, "transpose", input, output, n_dims, perm);
}

clsp_status clsp_model_builder_options(clsp_model_builder *b,
                                       const clsp_model_options *options) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  b->flags = options ? options->flags : 0;
  return CLSP_SUCCESS;
}

clsp_status clsp_model_builder_finish(clsp_model_builder *b, const char *const *outputs,
                                      size_t n_outputs, clsp_model **out) {
  if (!b) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_status st = CLSP_SUCCESS;
  if (!out)
    st = clsp__fail(b->g.ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  else
    *out = NULL;
  if (st == CLSP_SUCCESS) st = mbuild_finish(&b->g, outputs, n_outputs, b->flags, out);
  clsp_model_builder_destroy(b);
  return st;
}
