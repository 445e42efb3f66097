/* SPDX-License-Identifier: Apache-2.0 */
/* The SparseConvolution node of NVIDIA's SCN ONNX format: attributes,
 * weight [Cout, k..., Cin] and bias [Cout] initializers, checks against
 * the shapes the graph computes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "onnx_import.h"

static const char *const conv_attrs[] = {"ndim",
                                         "in_channels",
                                         "out_channels",
                                         "kernel_size",
                                         "stride",
                                         "padding",
                                         "dilation",
                                         "groups",
                                         "subm",
                                         "inverse",
                                         "transposed",
                                         "output_padding",
                                         "rulebook",
                                         "activation",
                                         "alpha",
                                         "input_spatial_shape",
                                         "output_spatial_shape",
                                         "output_bound",
                                         "input_shape",
                                         "output_shape",
                                         "precision",
                                         "output_precision"};

typedef struct conv_attrs_v {
  int64_t ndim, cin, cout, groups, subm, inverse, transposed;
  int64_t k[8], s[8], p[8], d[8], op[8], ish[8], osh[8];
  int nk, ns, np, nd, nop, nish, nosh;
  char rulebook[128], act[32], precision[16], out_precision[16];
  float alpha;
} conv_attrs_v;

static clsp_status read_attrs(const monnx_ctx *c, const Onnx__NodeProto *n,
                              conv_attrs_v *a) {
  clsp_status st =
    monnx_check_attrs(c, n, conv_attrs, sizeof conv_attrs / sizeof *conv_attrs);
  if (!st) st = monnx_int(c, n, "ndim", 0, 3, &a->ndim);
  if (!st) st = monnx_int(c, n, "in_channels", 1, 0, &a->cin);
  if (!st) st = monnx_int(c, n, "out_channels", 1, 0, &a->cout);
  if (!st) st = monnx_int(c, n, "groups", 0, 1, &a->groups);
  if (!st) st = monnx_int(c, n, "subm", 0, 0, &a->subm);
  if (!st) st = monnx_int(c, n, "inverse", 0, 0, &a->inverse);
  if (!st) st = monnx_int(c, n, "transposed", 0, 0, &a->transposed);
  if (!st) st = monnx_ints(c, n, "kernel_size", 1, a->k, 8, &a->nk);
  if (!st) st = monnx_ints(c, n, "stride", 0, a->s, 8, &a->ns);
  if (!st) st = monnx_ints(c, n, "padding", 0, a->p, 8, &a->np);
  if (!st) st = monnx_ints(c, n, "dilation", 0, a->d, 8, &a->nd);
  if (!st) st = monnx_ints(c, n, "output_padding", 0, a->op, 8, &a->nop);
  if (!st) st = monnx_ints(c, n, "input_spatial_shape", 0, a->ish, 8, &a->nish);
  if (!st) st = monnx_ints(c, n, "output_spatial_shape", 0, a->osh, 8, &a->nosh);
  if (!st) st = monnx_string(c, n, "rulebook", "", a->rulebook, sizeof a->rulebook);
  if (!st) st = monnx_string(c, n, "activation", "None", a->act, sizeof a->act);
  if (!st)
    st = monnx_string(c, n, "precision", "fp16", a->precision, sizeof a->precision);
  if (!st)
    st = monnx_string(c, n, "output_precision", "fp16", a->out_precision,
                      sizeof a->out_precision);
  if (!st) st = monnx_float(c, n, "alpha", 0.01f, &a->alpha);
  return st;
}

/* A per-axis attribute: absent gives `dflt`, else exactly ndim values. */
static clsp_status axis_values(const monnx_ctx *c, const Onnx__NodeProto *n,
                               const char *name, const int64_t *v, int count, int ndim,
                               int32_t dflt, int32_t lo, int32_t *out) {
  if (count >= 0 && count != ndim)
    return monnx_fail(c, n, "attribute '%s': %d values, ndim is %d", name, count, ndim);
  for (int a = 0; a < CLSP_MAX_DIMS; a++) {
    int64_t x = a < ndim && count >= 0 ? v[a] : (a < ndim ? dflt : 1);
    if (a >= ndim) x = (lo == 0) ? 0 : 1;
    if (x < lo || x > INT32_MAX)
      return monnx_fail(c, n, "attribute '%s'[%d] = %lld is out of range", name, a,
                        (long long)x);
    out[a] = (int32_t)x;
  }
  return CLSP_SUCCESS;
}

static clsp_status check_flags(const monnx_ctx *c, const Onnx__NodeProto *n,
                               const conv_attrs_v *a, int ndim) {
  if (a->groups != 1)
    return monnx_fail(c, n, "attribute 'groups' = %lld: only 1 is supported",
                      (long long)a->groups);
  if ((a->subm != 0 && a->subm != 1) || (a->inverse != 0 && a->inverse != 1) ||
      (a->transposed != 0 && a->transposed != 1))
    return monnx_fail(c, n, "attributes 'subm', 'inverse', 'transposed' must be 0 or 1");
  if (a->subm + a->inverse + a->transposed > 1)
    return monnx_fail(c, n,
                      "attributes 'subm' = %lld, 'inverse' = %lld, 'transposed' = %lld: "
                      "at most one may be set",
                      (long long)a->subm, (long long)a->inverse,
                      (long long)a->transposed);
  if (a->ndim != ndim)
    return monnx_fail(c, n, "attribute 'ndim' = %lld but the input has %d spatial axes",
                      (long long)a->ndim, ndim);
  for (int k = 0; k < a->nop; k++)
    if (a->op[k] != 0)
      return monnx_fail(c, n,
                        "attribute 'output_padding'[%d] = %lld: only 0 is supported", k,
                        (long long)a->op[k]);
  if (strcasecmp(a->precision, "fp16") && strcasecmp(a->precision, "fp32"))
    return monnx_fail(c, n,
                      "attribute 'precision' = '%s': only fp16/fp32 models are supported "
                      "(computed in float32)",
                      a->precision);
  if (strcasecmp(a->out_precision, "fp16") && strcasecmp(a->out_precision, "fp32"))
    return monnx_fail(c, n,
                      "attribute 'output_precision' = '%s': only fp16/fp32 are supported",
                      a->out_precision);
  return CLSP_SUCCESS;
}

static clsp_status activation_of(const monnx_ctx *c, const Onnx__NodeProto *n,
                                 const char *s, clsp_activation *out) {
  if (!strcmp(s, "None") || !*s)
    *out = CLSP_ACTIVATION_NONE;
  else if (!strcmp(s, "ReLU"))
    *out = CLSP_ACTIVATION_RELU;
  else if (!strcmp(s, "Sigmoid"))
    *out = CLSP_ACTIVATION_SIGMOID;
  else if (!strcmp(s, "LeakyReLU"))
    *out = CLSP_ACTIVATION_LEAKY_RELU;
  else
    return monnx_fail(c, n,
                      "attribute 'activation' = '%s': ReLU, None, Sigmoid or LeakyReLU "
                      "supported",
                      s);
  return CLSP_SUCCESS;
}

static clsp_status fill_conv(const monnx_ctx *c, const Onnx__NodeProto *n,
                             const conv_attrs_v *a, int ndim, clsp_model_conv *conv) {
  memset(conv, 0, sizeof *conv);
  conv->kind = a->subm         ? CLSP_CONV_SUBMANIFOLD
               : a->inverse    ? CLSP_CONV_INVERSE
               : a->transposed ? CLSP_CONV_TRANSPOSED
                               : CLSP_CONV_REGULAR;
  clsp_conv_geometry *q = &conv->geometry;
  clsp_status st = axis_values(c, n, "kernel_size", a->k, a->nk, ndim, 1, 1, q->kernel);
  if (!st) st = axis_values(c, n, "stride", a->s, a->ns, ndim, 1, 1, q->stride);
  if (!st) st = axis_values(c, n, "padding", a->p, a->np, ndim, 0, 0, q->padding);
  if (!st) st = axis_values(c, n, "dilation", a->d, a->nd, ndim, 1, 1, q->dilation);
  if (!st && (a->cin < 1 || a->cout < 1))
    st = monnx_fail(c, n,
                    "attributes 'in_channels' = %lld, 'out_channels' = %lld must be >= 1",
                    (long long)a->cin, (long long)a->cout);
  conv->c_in = (size_t)a->cin;
  conv->c_out = (size_t)a->cout;
  conv->rulebook = a->rulebook;
  conv->alpha = a->alpha;
  if (!st) st = activation_of(c, n, a->act, &conv->activation);
  return st;
}

/* The initializer named by input `k`; required: missing is an error. */
static clsp_status input_tensor(const monnx_ctx *c, const Onnx__NodeProto *n, size_t k,
                                int required, const Onnx__TensorProto **t) {
  *t = NULL;
  const char *name = k < n->n_input ? n->input[k] : NULL;
  if (!name || !*name)
    return required ? monnx_fail(c, n, "input %zu (%s) is missing", k,
                                 k == 1 ? "weight" : "bias")
                    : CLSP_SUCCESS;
  *t = monnx_initializer(c, name);
  if (!*t)
    return monnx_fail(c, n, "missing initializer '%s' (input %zu, %s)", name, k,
                      k == 1 ? "weight" : "bias");
  return CLSP_SUCCESS;
}

static clsp_status check_dims(const monnx_ctx *c, const Onnx__NodeProto *n,
                              const Onnx__TensorProto *t, const int64_t *want, int nw) {
  int ok = t->n_dims == (size_t)nw;
  for (int k = 0; ok && k < nw; k++) ok = t->dims[k] == want[k];
  if (ok) return CLSP_SUCCESS;
  char have[128] = "", need[128] = "";
  for (size_t k = 0; k < t->n_dims && k < 8; k++)
    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", k ? "," : "",
             (long long)t->dims[k]);
  for (int k = 0; k < nw; k++)
    snprintf(need + strlen(need), sizeof need - strlen(need), "%s%lld", k ? "," : "",
             (long long)want[k]);
  return monnx_fail(c, n,
                    "initializer '%s' has shape [%s], the attributes (out_channels, "
                    "kernel_size, in_channels) need [%s]",
                    t->name, have, need);
}

/* Weight [Cout, k..., Cin] and bias [Cout], as float32. */
static clsp_status read_weights(const monnx_ctx *c, const Onnx__NodeProto *n,
                                const clsp_model_conv *conv, int ndim, float **w,
                                float **b) {
  const Onnx__TensorProto *tw, *tb;
  clsp_status st = input_tensor(c, n, 1, 1, &tw);
  if (!st) st = input_tensor(c, n, 2, 0, &tb);
  if (st) return st;
  int64_t want[CLSP_MAX_DIMS + 2];
  size_t count = conv->c_out * conv->c_in;
  want[0] = (int64_t)conv->c_out;
  for (int a = 0; a < ndim; a++) {
    want[1 + a] = conv->geometry.kernel[a];
    count *= (size_t)conv->geometry.kernel[a];
  }
  want[1 + ndim] = (int64_t)conv->c_in;
  st = check_dims(c, n, tw, want, ndim + 2);
  if (!st && tb) st = check_dims(c, n, tb, want, 1);
  if (!st) st = monnx_tensor_floats(c, n, tw, count, w);
  if (!st && tb) st = monnx_tensor_floats(c, n, tb, conv->c_out, b);
  return st;
}

/* input_spatial_shape must be the shape the graph computes; the same for
 * output_spatial_shape after the node. */
static clsp_status check_shape(const monnx_ctx *c, const Onnx__NodeProto *n,
                               const char *attr, const int64_t *v, int count,
                               const int32_t *have, int ndim) {
  if (count < 0) return CLSP_SUCCESS;
  int ok = count == ndim;
  for (int a = 0; ok && a < ndim; a++) ok = v[a] == have[a];
  if (ok) return CLSP_SUCCESS;
  return monnx_fail(c, n,
                    "attribute '%s' = (%lld,%lld,%lld...) but the graph computes "
                    "(%d,%d,%d...)",
                    attr, (long long)v[0], (long long)(count > 1 ? v[1] : 0),
                    (long long)(count > 2 ? v[2] : 0), (int)have[0],
                    (int)(ndim > 1 ? have[1] : 0), (int)(ndim > 2 ? have[2] : 0));
}

clsp_status monnx_conv(const monnx_ctx *c, const Onnx__NodeProto *n, const char *name) {
  conv_attrs_v a;
  memset(&a, 0, sizeof a);
  int in = n->n_input > 0 ? mgraph_find(c->g, n->input[0]) : -1;
  if (in < 0)
    return monnx_fail(c, n, "input 0 '%s' is not defined", n->n_input ? n->input[0] : "");
  const mvalue *v = &c->g->values[in];
  if (v->dense)
    return monnx_fail(c, n, "input '%s' is dense, a sparse tensor is needed", v->name);
  int ndim = v->ndim;
  int32_t in_shape[CLSP_MAX_DIMS];
  memcpy(in_shape, v->shape, sizeof in_shape);
  clsp_model_conv conv;
  clsp_status st = read_attrs(c, n, &a);
  if (!st) st = check_flags(c, n, &a, ndim);
  if (!st) st = fill_conv(c, n, &a, ndim, &conv);
  if (!st) st = check_shape(c, n, "input_spatial_shape", a.ish, a.nish, in_shape, ndim);
  float *w = NULL, *b = NULL;
  if (!st) st = read_weights(c, n, &conv, ndim, &w, &b);
  if (!st)
    st = mbuild_conv(c->g, name, n->op_type, n->input[0], n->output[0], &conv,
                     CLSP_LAYOUT_SPCONV, w, b);
  free(w);
  free(b);
  if (st) return st;
  const mvalue *out = &c->g->values[c->g->n_values - 1];
  st = check_shape(c, n, "output_spatial_shape", a.osh, a.nosh, out->shape, ndim);
  if (st) mgraph_pop_node(c->g);
  return st;
}
