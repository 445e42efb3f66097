/* SPDX-License-Identifier: Apache-2.0 */
/* The model graph: values, nodes, rulebook slots, error messages naming
 * the node, and the lifetime plan (last uses). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Grows *arr (of *cap elements of `size`) to hold one more than `n`. */
static int grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return 1;
  size_t c = *cap ? *cap * 2 : 16;
  void *p = realloc(*arr, c * size);
  if (!p) return 0;
  *arr = p;
  *cap = c;
  return 1;
}

static void node_free(mnode *n) {
  free(n->name);
  free(n->op_type);
  free(n->weights);
  free(n->bias);
  free((char *)n->conv.rulebook);
  clsp_weights_destroy(n->w);
}

void mgraph_free(mgraph *g) {
  for (size_t i = 0; i < g->n_values; i++) free(g->values[i].name);
  for (size_t i = 0; i < g->n_nodes; i++) node_free(&g->nodes[i]);
  for (size_t i = 0; i < g->n_rbs; i++) free(g->rbs[i].key);
  free(g->values);
  free(g->nodes);
  free(g->rbs);
  memset(g, 0, sizeof *g);
}

int mgraph_find(const mgraph *g, const char *name) {
  for (size_t i = 0; name && i < g->n_values; i++)
    if (strcmp(g->values[i].name, name) == 0) return (int)i;
  return -1;
}

int mgraph_resolve(const mgraph *g, const char *name) {
  int v = mgraph_find(g, name);
  for (size_t i = 0; v < 0 && name && i < g->n_nodes; i++)
    if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) v = g->nodes[i].out;
  return v;
}

clsp_status mgraph_fail(const mgraph *g, int node, clsp_status st, const char *fmt, ...) {
  char detail[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (node < 0 || (size_t)node >= g->n_nodes) return clsp__fail(g->ctx, st, "%s", detail);
  const mnode *n = &g->nodes[node];
  return clsp__fail(g->ctx, st, "node '%s' (%s): %s", n->name, n->op_type, detail);
}

static clsp_status add_value(mgraph *g, const char *name, const mvalue *proto,
                             int *index) {
  if (!grow((void **)&g->values, &g->cap_values, g->n_values, sizeof(mvalue)))
    return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model values");
  mvalue v = *proto;
  v.name = dup_str(name);
  if (!v.name) return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model values");
  v.last_use = -1;
  v.pinned = 0;
  *index = (int)g->n_values;
  g->values[g->n_values++] = v;
  return CLSP_SUCCESS;
}

clsp_status mgraph_add_input(mgraph *g, const char *name, int ndim, const int32_t *shape,
                             size_t channels) {
  if (!name || !*name)
    return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "input_name: empty");
  if (!shape || ndim < 1 || ndim > CLSP_MAX_DIMS)
    return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "input '%s': ndim = %d outside 1..%d (or shape NULL)", name, ndim,
                      CLSP_MAX_DIMS);
  if (channels < 1)
    return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "input '%s': channels = 0",
                      name);
  mvalue v;
  memset(&v, 0, sizeof v);
  v.producer = -1;
  v.ndim = ndim;
  for (int a = 0; a < CLSP_MAX_DIMS; a++) {
    if (a < ndim && shape[a] < 1)
      return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "input '%s': spatial_shape[%d] = %d must be >= 1", name, a,
                        (int)shape[a]);
    v.shape[a] = a < ndim ? shape[a] : 1;
  }
  v.channels = channels;
  v.site_set = g->n_site_sets++;
  int idx;
  return add_value(g, name, &v, &idx);
}

clsp_status mgraph_add_node(mgraph *g, const char *name, const char *op_type, mop op,
                            const char *const *inputs, int n_in, int *node) {
  if (!name || !*name)
    return clsp__fail(g->ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s node: name empty or NULL",
                      op_type);
  if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof(mnode)))
    return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model nodes");
  mnode *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = dup_str(name);
  n->op_type = dup_str(op_type);
  n->op = op;
  n->out = -1;
  n->rb = -1;
  n->n_in = n_in;
  if (!n->name || !n->op_type) {
    node_free(n);
    return clsp__fail(g->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "model nodes");
  }
  g->n_nodes++;
  *node = (int)g->n_nodes - 1;
  for (int i = 0; i < n_in; i++) {
    n->in[i] = inputs[i] ? mgraph_find(g, inputs[i]) : -1;
    if (n->in[i] < 0) {
      clsp_status st = mgraph_fail(g, *node, CLSP_ERROR_INVALID_ARGUMENT,
                                   "input %d '%s' is not defined before this node", i,
                                   inputs[i] ? inputs[i] : "(null)");
      mgraph_pop_node(g);
      return st;
    }
  }
  return CLSP_SUCCESS;
}

clsp_status mgraph_set_output(mgraph *g, int node, const char *output,
                              const mvalue *proto) {
  if (!output || !*output)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT, "output name empty or NULL");
  if (mgraph_find(g, output) >= 0)
    return mgraph_fail(g, node, CLSP_ERROR_INVALID_ARGUMENT,
                       "output '%s' is already defined (tensors are assigned once)",
                       output);
  mvalue v = *proto;
  v.producer = node;
  int idx;
  clsp_status st = add_value(g, output, &v, &idx);
  if (st == CLSP_SUCCESS) g->nodes[node].out = idx;
  return st;
}

void mgraph_pop_node(mgraph *g) {
  if (g->n_nodes == 0) return;
  mnode *n = &g->nodes[g->n_nodes - 1];
  if (n->out >= 0 && (size_t)n->out == g->n_values - 1) {
    free(g->values[g->n_values - 1].name);
    g->n_values--;
  }
  /* A rulebook slot this node registered goes with it. */
  if (g->n_rbs > 0 && g->rbs[g->n_rbs - 1].builder == (int)g->n_nodes - 1) {
    free(g->rbs[g->n_rbs - 1].key);
    g->n_rbs--;
  }
  node_free(n);
  g->n_nodes--;
}

void mgraph_plan(mgraph *g) {
  for (size_t v = 0; v < g->n_values; v++) g->values[v].last_use = -1;
  for (size_t r = 0; r < g->n_rbs; r++) g->rbs[r].last_use = -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const mnode *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) g->values[n->in[k]].last_use = (int)i;
    if (n->rb >= 0) g->rbs[n->rb].last_use = (int)i;
  }
  /* An inverse shares its regular rulebook's pair lists: the regular one
   * lives at least as long. Children come after parents. */
  for (size_t r = g->n_rbs; r-- > 0;) {
    const mrulebook *rb = &g->rbs[r];
    if (rb->parent >= 0 && g->rbs[rb->parent].last_use < rb->last_use)
      g->rbs[rb->parent].last_use = rb->last_use;
  }
}
