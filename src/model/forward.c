/* SPDX-License-Identifier: Apache-2.0 */
/* Running a model: nodes in order on the public API, rulebooks built on
 * first use and shared by key, every tensor and rulebook released after
 * its last consumer, in-place adds and activations where the input has no
 * later reader. */
#include <stdlib.h>
#include <string.h>
#include "model_internal.h"
#include "pipeline.h" /* float16 storage: clsp__tensor_storage */

typedef struct frame {
  clsp_model *m;
  clsp_context *ctx;
  int timed; /* per-node device times (waits per node) */
  size_t rulebooks_built;
  int round_input; /* the input is a float16-rounded copy, freed after its
                      last reader unless held */
  int taken;       /* nodes after the current conv that its epilogue ran */
} frame;

static void slot_clear(clsp_context *ctx, mslot *s) {
  clsp_tensor_destroy(s->t);
  s->t = NULL;
  clsp__buffer_release(ctx, &s->dense);
}

void mforward_release(clsp_model *m) {
  for (size_t v = 0; v < m->g.n_values; v++) slot_clear(m->g.ctx, &m->slots[v]);
  /* Children (inverse) before the regular rulebooks they share lists with. */
  for (size_t r = m->g.n_rbs; r-- > 0;) {
    clsp_rulebook_destroy(m->rbh[r]);
    m->rbh[r] = NULL;
  }
}

/* The node may overwrite value v: it is its last reader, v is not held
 * for the caller, and v is not the caller's input tensor. */
static int consumable(const frame *f, int v, int node) {
  const mvalue *val = &f->m->g.values[v];
  return val->last_use == node && !val->pinned && !f->m->kept[v] && val->producer >= 0;
}

static clsp_status fail_node(const frame *f, int node, clsp_status st, const char *what) {
  return mgraph_fail(&f->m->g, node, st, "%s: %s (%s)", what, clsp_status_string(st),
                     clsp_context_last_error(f->ctx));
}

static clsp_status activate(frame *f, clsp_tensor *t, clsp_activation act, float alpha,
                            double *ms) {
  double one = 0.0;
  clsp_status st = CLSP_SUCCESS;
  double *p = f->timed ? &one : NULL;
  if (act == CLSP_ACTIVATION_RELU)
    st = clsp_relu(f->ctx, t, p);
  else if (act == CLSP_ACTIVATION_SIGMOID)
    st = clsp_sigmoid(f->ctx, t, p);
  else if (act == CLSP_ACTIVATION_LEAKY_RELU)
    st = clsp_leaky_relu(f->ctx, t, alpha, p);
  *ms += one;
  return st;
}

static clsp_status rulebook_for(frame *f, int node) {
  mgraph *g = &f->m->g;
  mnode *n = &g->nodes[node];
  clsp_rulebook **rb = &f->m->rbh[n->rb];
  if (*rb) return CLSP_SUCCESS;
  const mrulebook *slot = &g->rbs[n->rb];
  clsp_status st;
  if (slot->kind == CLSP_CONV_INVERSE)
    st = clsp_rulebook_inverse(f->ctx, f->m->rbh[slot->parent], rb);
  else
    st = clsp_rulebook_build(f->ctx, slot->kind, &n->conv.geometry,
                             f->m->slots[n->in[0]].t, rb);
  if (st != CLSP_SUCCESS) return fail_node(f, node, st, "building its rulebook");
  f->rulebooks_built++;
  clsp_rulebook_info info;
  if (clsp_rulebook_describe(*rb, &info) == CLSP_SUCCESS && f->timed)
    n->stats.rulebook_ms = info.build_ms;
  return CLSP_SUCCESS;
}

/* Value v is read by `reader` only and is neither an output nor held. */
static int passing_value(const frame *f, int v, int reader) {
  const mvalue *val = &f->m->g.values[v];
  return val->last_use == reader && !val->pinned && !f->m->kept[v];
}

/* The nodes after conv `node` that its epilogue can run (0, 1 or 2): an
 * Add of the conv's output (read by nothing else) and a tensor already
 * computed on the same sites (*res), then an activation reading only the
 * sum. A conv with an activation of its own keeps it and takes nothing
 * (its activation comes before any add). */
static int epilogue_nodes(const frame *f, int node, int *res) {
  const mgraph *g = &f->m->g;
  const mnode *c = &g->nodes[node];
  if (c->conv.activation != CLSP_ACTIVATION_NONE || (size_t)node + 1 >= g->n_nodes)
    return 0;
  const mnode *a = &g->nodes[node + 1];
  if (a->op != MOP_ADD || !passing_value(f, c->out, node + 1)) return 0;
  int other = a->in[0] == c->out ? a->in[1] : a->in[0];
  if (other == c->out || g->values[other].site_set != g->values[c->out].site_set)
    return 0;
  *res = other;
  if ((size_t)node + 2 >= g->n_nodes) return 1;
  const mnode *r = &g->nodes[node + 2];
  return r->op == MOP_ACT && r->in[0] == a->out && passing_value(f, a->out, node + 2) ? 2
                                                                                      : 1;
}

/* The conv's epilogue: its own activation, or the Add and activation of
 * the nodes it takes (f->taken); *out_value: where the result goes. */
static clsp_conv_epilogue epilogue_for(frame *f, int node, int *out_value) {
  const mnode *n = &f->m->g.nodes[node];
  clsp_conv_epilogue ep = {NULL, n->conv.activation, n->conv.alpha};
  int res = -1;
  f->taken = epilogue_nodes(f, node, &res);
  *out_value = n[f->taken].out;
  if (f->taken >= 1) ep.residual = f->m->slots[res].t;
  if (f->taken == 2) {
    ep.activation = n[2].act;
    ep.alpha = n[2].alpha;
  }
  return ep;
}

static clsp_status run_conv(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  clsp_status st = rulebook_for(f, node);
  if (st != CLSP_SUCCESS) return st;
  uint32_t flags = (f->m->flags & CLSP_MODEL_DETERMINISTIC) ? CLSP_CONV_DETERMINISTIC : 0;
  clsp_conv_stats cs;
  /* Activation, and a following residual add, run in the conv's
   * epilogue: no pass of their own. */
  int out_value;
  clsp_conv_epilogue ep = epilogue_for(f, node, &out_value);
  mslot *out = &f->m->slots[out_value];
  st = clsp_conv_forward_epilogue(f->ctx, f->m->rbh[n->rb], f->m->slots[n->in[0]].t, n->w,
                                  flags, &ep, &out->t, f->timed ? &cs : NULL);
  if (st != CLSP_SUCCESS) return fail_node(f, node, st, "convolution");
  clsp_rulebook_info info;
  clsp_rulebook_describe(f->m->rbh[n->rb], &info);
  n->stats.pairs = info.n_pairs;
  n->stats.device_ms = f->timed ? cs.total_ms + n->stats.rulebook_ms : 0.0;
  if (f->timed) {
    n->stats.fused = cs.fused;
    memcpy(n->stats.stage_ms, cs.stage_ms, sizeof cs.stage_ms);
    n->stats.stage_ms[CLSP_STAGE_RULEBOOK] = n->stats.rulebook_ms;
  }
  return CLSP_SUCCESS;
}

/* The tensor of value v for writing in place: moved out of its slot when
 * this node is its last reader, else a copy. */
static clsp_status writable(frame *f, int node, int v, clsp_tensor **t) {
  mslot *s = &f->m->slots[v];
  if (consumable(f, v, node)) {
    *t = s->t;
    s->t = NULL;
    return CLSP_SUCCESS;
  }
  clsp_status st = clsp_tensor_copy(f->ctx, s->t, t);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "copying the input");
}

static clsp_status run_add(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  int a = n->in[0], b = n->in[1];
  if (!consumable(f, a, node) && consumable(f, b, node)) {
    a = n->in[1]; /* a + b == b + a exactly: write into the free one */
    b = n->in[0];
  }
  const clsp_tensor *tb = f->m->slots[b].t;
  clsp_tensor *t;
  clsp_status st = a == b ? clsp_tensor_copy(f->ctx, tb, &t) : writable(f, node, a, &t);
  if (st != CLSP_SUCCESS) return st;
  f->m->slots[n->out].t = t;
  st = clsp_add(f->ctx, t, tb, 0, f->timed ? &n->stats.device_ms : NULL);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "add");
}

static clsp_status run_act(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  clsp_tensor *t;
  clsp_status st = writable(f, node, n->in[0], &t);
  if (st != CLSP_SUCCESS) return st;
  f->m->slots[n->out].t = t;
  st = activate(f, t, n->act, n->alpha, &n->stats.device_ms);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "activation");
}

static clsp_status run_concat(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  clsp_status st =
    clsp_concat(f->ctx, f->m->slots[n->in[0]].t, f->m->slots[n->in[1]].t,
                &f->m->slots[n->out].t, f->timed ? &n->stats.device_ms : NULL);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "concat");
}

static size_t dense_bytes(const mslot *s, int n_dims) {
  size_t b = sizeof(float);
  for (int k = 0; k < n_dims; k++) b *= (size_t)s->dims[k];
  return b;
}

static clsp_status run_scatter(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  const clsp_tensor *in = f->m->slots[n->in[0]].t;
  mslot *out = &f->m->slots[n->out];
  const mvalue *v = &f->m->g.values[n->out];
  clsp_tensor_desc d;
  size_t bytes = 0;
  clsp_status st = clsp_tensor_describe(in, &d);
  if (st == CLSP_SUCCESS) st = clsp_dense_bytes(in, &bytes);
  if (st != CLSP_SUCCESS) return fail_node(f, node, st, "dense size");
  memcpy(out->dims, v->dims, sizeof out->dims);
  out->dims[0] = d.batch_size;
  st = clsp__buffer_create(f->ctx, CL_MEM_READ_WRITE, bytes, NULL, "dense output",
                           &out->dense);
  if (st == CLSP_SUCCESS)
    st = clsp_scatter_dense(f->ctx, in, n->format, out->dense,
                            f->timed ? &n->stats.device_ms : NULL);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "scatter to dense");
}

static clsp_status run_reshape(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  mslot *in = &f->m->slots[n->in[0]], *out = &f->m->slots[n->out];
  int in_dims = f->m->g.values[n->in[0]].n_dims;
  memcpy(out->dims, n->dims, sizeof out->dims);
  out->dims[0] = in->dims[0];
  if (consumable(f, n->in[0], node)) {
    out->dense = in->dense; /* a view: same bytes, new shape */
    in->dense = NULL;
    return CLSP_SUCCESS;
  }
  size_t bytes = dense_bytes(in, in_dims);
  clsp_status st = clsp__buffer_create(f->ctx, CL_MEM_READ_WRITE, bytes, NULL,
                                       "reshape output", &out->dense);
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueCopyBuffer(f->ctx->queue, in->dense, out->dense, 0, 0, bytes, 0,
                                     NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(f->ctx, err, "clEnqueueCopyBuffer");
  }
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "reshape copy");
}

static clsp_status run_transpose(frame *f, int node) {
  mnode *n = &f->m->g.nodes[node];
  mslot *in = &f->m->slots[n->in[0]], *out = &f->m->slots[n->out];
  for (int k = 0; k < n->n_dims; k++) out->dims[k] = in->dims[n->perm[k]];
  clsp_status st =
    clsp__buffer_create(f->ctx, CL_MEM_READ_WRITE, dense_bytes(in, n->n_dims), NULL,
                        "transpose output", &out->dense);
  if (st == CLSP_SUCCESS)
    st = clsp_dense_permute(f->ctx, in->dense, n->n_dims, in->dims, n->perm, out->dense,
                            f->timed ? &n->stats.device_ms : NULL);
  return st == CLSP_SUCCESS ? st : fail_node(f, node, st, "transpose");
}

static clsp_status run_node(frame *f, int node) {
  switch (f->m->g.nodes[node].op) {
    case MOP_CONV: return run_conv(f, node);
    case MOP_ADD: return run_add(f, node);
    case MOP_ACT: return run_act(f, node);
    case MOP_CONCAT: return run_concat(f, node);
    case MOP_SCATTER: return run_scatter(f, node);
    case MOP_RESHAPE: return run_reshape(f, node);
    case MOP_TRANSPOSE: return run_transpose(f, node);
  }
  return mgraph_fail(&f->m->g, node, CLSP_ERROR_INTERNAL, "unknown op %d",
                     (int)f->m->g.nodes[node].op);
}

/* Sites of a node's first input and output (held in value `out_value`),
 * for the stats. */
static void count_sites(frame *f, int node, int out_value) {
  mnode *n = &f->m->g.nodes[node];
  clsp_tensor_desc d;
  const clsp_tensor *in = f->m->slots[n->in[0]].t, *out = f->m->slots[out_value].t;
  if (in && clsp_tensor_describe(in, &d) == CLSP_SUCCESS) n->stats.in_sites = d.n_sites;
  if (out && clsp_tensor_describe(out, &d) == CLSP_SUCCESS)
    n->stats.out_sites = d.n_sites;
  if (!in && out)
    n->stats.in_sites = n->stats.out_sites; /* consumed in place: same sites */
}

/* Releases the values and rulebooks whose last reader was `node`, and
 * its output when nothing reads or holds it. */
static void release_after(frame *f, int node) {
  clsp_model *m = f->m;
  const mnode *n = &m->g.nodes[node];
  for (int k = 0; k < n->n_in; k++) {
    int v = n->in[k];
    const mvalue *val = &m->g.values[v];
    if (val->last_use == node && !val->pinned && !m->kept[v] &&
        (val->producer >= 0 || f->round_input))
      slot_clear(f->ctx, &m->slots[v]);
  }
  const mvalue *out = &m->g.values[n->out]; /* read by nobody, not held */
  if (out->last_use < 0 && !out->pinned && !m->kept[n->out])
    slot_clear(f->ctx, &m->slots[n->out]);
  for (size_t r = m->g.n_rbs; r-- > 0;)
    if (m->g.rbs[r].last_use == node) {
      clsp_rulebook_destroy(m->rbh[r]);
      m->rbh[r] = NULL;
    }
}

static clsp_status check_input(clsp_model *m, const clsp_tensor *input) {
  const mvalue *v = &m->g.values[0];
  clsp_tensor_desc d;
  clsp_status st = clsp_tensor_describe(input, &d);
  if (st != CLSP_SUCCESS)
    return clsp__fail(m->g.ctx, st, "input: cannot describe the tensor");
  int same = d.ndim == v->ndim && d.channels == v->channels;
  for (int a = 0; same && a < d.ndim; a++) same = d.shape[a] == v->shape[a];
  if (!same)
    return clsp__fail(m->g.ctx, CLSP_ERROR_MISMATCH,
                      "input: %d axes (%d,%d,%d,...) x %zu channels, the model's input "
                      "'%s' "
                      "has %d axes (%d,%d,%d,...) x %zu channels",
                      d.ndim, (int)d.shape[0], (int)d.shape[1], (int)d.shape[2],
                      d.channels, v->name, v->ndim, (int)v->shape[0], (int)v->shape[1],
                      (int)v->shape[2], v->channels);
  return CLSP_SUCCESS;
}

static clsp_status mark_kept(clsp_model *m, const char *const *keep, size_t n_keep) {
  memset(m->kept, 0, m->g.n_values * sizeof *m->kept);
  for (size_t i = 0; i < n_keep; i++) {
    int v = keep ? mgraph_resolve(&m->g, keep[i]) : -1;
    if (v < 0)
      return clsp__fail(m->g.ctx, CLSP_ERROR_INVALID_ARGUMENT,
                        "keep[%zu] = '%s': no tensor or node of that name", i,
                        keep && keep[i] ? keep[i] : "(null)");
    m->kept[v] = 1;
  }
  return CLSP_SUCCESS;
}

/* The input's slot: the caller's tensor, read and never written or
 * freed; a copy when it is held (so it outlives the caller's tensor) or
 * declared FLOAT16 (rounded on the device, as libspconv's half input). */
static clsp_status place_input(frame *f, const clsp_tensor *input) {
  clsp_model *m = f->m;
  if (m->flags & CLSP_MODEL_FLOAT16_STORAGE)
    return clsp__tensor_storage(f->ctx, input, 1, &m->slots[0].t);
  if (!f->round_input && !m->kept[0] && !m->g.values[0].pinned) {
    m->slots[0].t = (clsp_tensor *)input;
    return CLSP_SUCCESS;
  }
  clsp_status st = clsp_tensor_copy(f->ctx, input, &m->slots[0].t);
  if (st == CLSP_SUCCESS && f->round_input)
    st = clsp_round_half(f->ctx, m->slots[0].t, NULL);
  return st; /* the failing call recorded its message */
}

static void stats_begin(mnode *n) {
  memset(&n->stats, 0, sizeof n->stats);
  n->stats.name = n->name;
  n->stats.op = n->op_type;
  n->stats.host_start_ms = clsp__now_ms();
}

/* The stats of node i + k (k = 1 .. f->taken), which conv i's epilogue
 * ran, and the release of what they were the last to read. */
static void after_taken(frame *f, int i) {
  mnode *c = &f->m->g.nodes[i];
  int result = c[f->taken].out;
  count_sites(f, i, result);
  for (int k = 1; k <= f->taken; k++) {
    stats_begin(&c[k]);
    c[k].stats.host_start_ms = c[k].stats.host_end_ms = c->stats.host_end_ms;
    c[k].stats.in_sites = c[k].stats.out_sites = c->stats.out_sites;
    c[k].stats.epilogue_of = c->name;
  }
  for (int k = 0; k <= f->taken; k++) release_after(f, i + k);
}

/* With float16 storage: the held sparse results (outputs, `keep`) become
 * float32 tensors once no node reads them any more. */
static clsp_status widen_results(frame *f) {
  clsp_model *m = f->m;
  clsp_status st = CLSP_SUCCESS;
  for (size_t v = 0; st == CLSP_SUCCESS && v < m->g.n_values; v++) {
    mslot *s = &m->slots[v];
    if (!s->t || !s->t->half) continue;
    clsp_tensor *wide = NULL;
    st = clsp__tensor_storage(f->ctx, s->t, 0, &wide);
    if (st != CLSP_SUCCESS) break;
    clsp_tensor_destroy(s->t);
    s->t = wide;
  }
  return st;
}

static clsp_status run_all(frame *f, const clsp_tensor *input) {
  clsp_model *m = f->m;
  f->round_input = (m->g.values[0].half && !(m->flags & CLSP_MODEL_INPUT_FLOAT32)) ||
                   (m->flags & CLSP_MODEL_FLOAT16_STORAGE); /* the slot is a copy */
  clsp_status st = place_input(f, input);
  for (size_t i = 0; st == CLSP_SUCCESS && i < m->g.n_nodes; i++) {
    mnode *n = &m->g.nodes[i];
    stats_begin(n);
    f->taken = 0;
    st = run_node(f, (int)i);
    n->stats.host_end_ms = clsp__now_ms();
    if (n->op != MOP_CONV) n->stats.stage_ms[CLSP_STAGE_OTHER] = n->stats.device_ms;
    if (st != CLSP_SUCCESS) break;
    after_taken(f, (int)i);
    i += (size_t)f->taken;
  }
  if (!(f->round_input || m->kept[0] || m->g.values[0].pinned)) m->slots[0].t = NULL;
  if (st == CLSP_SUCCESS) st = widen_results(f);
  return st;
}

clsp_status clsp_model_forward(clsp_model *m, const clsp_tensor *input,
                               const char *const *keep, size_t n_keep,
                               clsp_model_stats *stats) {
  if (!m) return CLSP_ERROR_INVALID_ARGUMENT;
  clsp_context *ctx = m->g.ctx;
  if (!input) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "input: NULL");
  mforward_release(m);
  clsp_status st = check_input(m, input);
  if (st == CLSP_SUCCESS) st = mark_kept(m, keep, n_keep);
  if (st != CLSP_SUCCESS) return st;
  frame f = {m, ctx, stats != NULL, 0, 0, 0};
  double t0 = clsp__now_ms();
  if (stats) clsp_context_reset_peak(ctx);
  st = run_all(&f, input);
  if (st == CLSP_SUCCESS && stats) st = clsp_context_finish(ctx);
  if (st != CLSP_SUCCESS) {
    mforward_release(m);
    return st;
  }
  if (stats) {
    memset(stats, 0, sizeof *stats);
    stats->wall_ms = clsp__now_ms() - t0;
    for (size_t i = 0; i < m->g.n_nodes; i++)
      stats->device_ms += m->g.nodes[i].stats.device_ms;
    clsp_context_memory(ctx, &stats->held_device_bytes, &stats->peak_device_bytes);
    stats->rulebooks_built = f.rulebooks_built;
  }
  return CLSP_SUCCESS;
}

clsp_status clsp_model_forward_host(clsp_model *m, const int32_t *coords,
                                    const float *feats, size_t n_sites,
                                    int32_t batch_size, const char *const *keep,
                                    size_t n_keep, clsp_model_stats *stats) {
  if (!m) return CLSP_ERROR_INVALID_ARGUMENT;
  const mvalue *v = &m->g.values[0];
  clsp_tensor_desc d;
  memset(&d, 0, sizeof d);
  d.ndim = v->ndim;
  memcpy(d.shape, v->shape, sizeof d.shape);
  d.batch_size = batch_size;
  d.n_sites = n_sites;
  d.channels = v->channels;
  if (!coords || !feats)
    return clsp__fail(m->g.ctx, CLSP_ERROR_INVALID_ARGUMENT, "coords or feats: NULL");
  clsp_tensor *t = NULL;
  clsp_status st = clsp_tensor_create(m->g.ctx, &d, coords, feats, &t);
  if (st != CLSP_SUCCESS) return st;
  st = clsp_model_forward(m, t, keep, n_keep, stats);
  clsp_tensor_destroy(t);
  return st;
}
