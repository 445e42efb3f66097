/* SPDX-License-Identifier: Apache-2.0 */
/* The model graph shared by the builder, the ONNX importer and the
 * executor. Not installed. Runs on the public API plus the library's error
 * recording and accounted buffers. */
#ifndef CLSP_MODEL_INTERNAL_H
#define CLSP_MODEL_INTERNAL_H

#include "internal.h"
#include "clspconv/model.h"

typedef enum mop {
  MOP_CONV,
  MOP_ADD,
  MOP_ACT,
  MOP_CONCAT,
  MOP_SCATTER,
  MOP_RESHAPE,
  MOP_TRANSPOSE,
} mop;

/* A tensor of the graph. Sparse values carry a site-set id: two values
 * with equal ids have the same sites in the same order (known statically:
 * submanifold convs, adds and activations keep their input's set). */
typedef struct mvalue {
  char *name;
  int producer; /* node index; -1 for the input */
  int dense;
  int ndim; /* sparse */
  int32_t shape[CLSP_MAX_DIMS];
  size_t channels;
  int site_set;
  int n_dims; /* dense */
  int64_t dims[CLSP_MODEL_MAX_DIMS];
  int last_use; /* index of the last node reading it; -1: none */
  int pinned;   /* an output: never consumed in place, never freed early */
  int half;     /* the input, declared FLOAT16 in the file */
} mvalue;

/* A rulebook of a forward: built by one node, used by every node naming
 * it, destroyed after the last of them. */
typedef struct mrulebook {
  char *key; /* NULL: anonymous */
  clsp_conv_kind kind;
  clsp_conv_geometry geometry;
  int builder;         /* node that builds it */
  int in_set, out_set; /* site sets of its input and output */
  int32_t in_shape[CLSP_MAX_DIMS];
  int parent; /* INVERSE: the REGULAR rulebook reversed; else -1 */
  int last_use;
} mrulebook;

typedef struct mnode {
  char *name;
  char *op_type;
  mop op;
  int in[2], n_in, out;
  /* MOP_CONV */
  clsp_model_conv conv;
  int rb;
  float *weights; /* native layout, host, until uploaded */
  float *bias;
  clsp_weights *w;
  /* MOP_ACT (and a conv's fused activation in conv) */
  clsp_activation act;
  float alpha;
  /* MOP_SCATTER */
  clsp_dense_format format;
  /* MOP_RESHAPE: dims; MOP_TRANSPOSE: perm */
  int n_dims;
  int64_t dims[CLSP_MODEL_MAX_DIMS];
  int perm[CLSP_MODEL_MAX_DIMS];
  clsp_model_layer_stats stats;
} mnode;

typedef struct mgraph {
  clsp_context *ctx;
  mvalue *values;
  size_t n_values, cap_values;
  mnode *nodes;
  size_t n_nodes, cap_nodes;
  mrulebook *rbs;
  size_t n_rbs, cap_rbs;
  int n_site_sets;
} mgraph;

/* Runtime state of one value in a forward. */
typedef struct mslot {
  clsp_tensor *t;
  cl_mem dense;
  int64_t dims[CLSP_MODEL_MAX_DIMS];
} mslot;

struct clsp_model_builder {
  mgraph g;
  uint32_t flags; /* clsp_model_builder_options */
};

struct clsp_model {
  mgraph g;
  uint32_t flags;
  int *outputs; /* value indices */
  size_t n_outputs;
  mslot *slots;        /* per value */
  int *kept;           /* per value: held after the forward */
  clsp_rulebook **rbh; /* per rulebook, during a forward */
};

/* ---- graph.c ---- */
void mgraph_free(mgraph *g);
/* The value named `name`, or -1. */
int mgraph_find(const mgraph *g, const char *name);
/* Value index of a node name's output, or of a value name; -1 if none. */
int mgraph_resolve(const mgraph *g, const char *name);
/* Adds the sparse input value. */
clsp_status mgraph_add_input(mgraph *g, const char *name, int ndim, const int32_t *shape,
                             size_t channels);
/* Appends a node `name` of `op_type` reading `inputs` (n_in names);
 * writes its index to *node. The output value is defined by the op's
 * builder function. Fails naming the node when an input is unknown. */
clsp_status mgraph_add_node(mgraph *g, const char *name, const char *op_type, mop op,
                            const char *const *inputs, int n_in, int *node);
/* Defines the node's output value `output` (fresh name). */
clsp_status mgraph_set_output(mgraph *g, int node, const char *output,
                              const mvalue *proto);
/* Removes the last node again (a failed builder call). */
void mgraph_pop_node(mgraph *g);
/* Records the error of node `node` (name and type first). */
clsp_status mgraph_fail(const mgraph *g, int node, clsp_status st, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;
/* Last uses of values and rulebooks. */
void mgraph_plan(mgraph *g);

/* ---- builder.c ---- */
/* The conv node: computes the output value, registers the rulebook. */
clsp_status mbuild_conv(mgraph *g, const char *name, const char *op_type,
                        const char *input, const char *output, const clsp_model_conv *c,
                        clsp_weight_layout layout, const float *weights,
                        const float *bias);
clsp_status mbuild_binary(mgraph *g, const char *name, const char *op_type, mop op,
                          const char *a, const char *b, const char *output);
clsp_status mbuild_activation(mgraph *g, const char *name, const char *op_type,
                              const char *input, const char *output, clsp_activation act,
                              float alpha);
clsp_status mbuild_scatter(mgraph *g, const char *name, const char *op_type,
                           const char *input, const char *output,
                           clsp_dense_format format);
clsp_status mbuild_reshape(mgraph *g, const char *name, const char *op_type,
                           const char *input, const char *output, int n_dims,
                           const int64_t *dims);
clsp_status mbuild_transpose(mgraph *g, const char *name, const char *op_type,
                             const char *input, const char *output, int n_dims,
                             const int *perm);
/* Declares the outputs, uploads weights, makes the model; frees g's
 * contents on error (g is moved into the model on success). */
clsp_status mbuild_finish(mgraph *g, const char *const *outputs, size_t n_outputs,
                          uint32_t flags, clsp_model **out);

/* ---- forward.c ---- */
void mforward_release(clsp_model *m);

#endif
