/* SPDX-License-Identifier: Apache-2.0 */
/* clsp_conv_forward: orchestration of gather -> GEMM -> scatter, or of
 * the fused dataflow (conv_fused.c; the choice: clsp__fused_chosen,
 * docs/performance.md), which replaces steps 1-3 below.
 *
 * 1. The output is initialised first: bias (or zeros), or for a
 *    submanifold layer the centre tap, which maps every site to itself, as
 *    one plain GEMM straight from the input features into the output
 *    (beta 0, or beta 1 over the bias).
 * 2. The other taps are grouped by pair count (gemm.c) and cut into chunks
 *    that fit the workspace (ctx->workspace_bytes holds the gathered block,
 *    rows x c_in, and the GEMM result, rows x c_out): several whole members
 *    per chunk while a member fits, else row ranges of one member.
 * 3. Per chunk: gather, one CLBlast call, scatter (atomic: one launch;
 *    deterministic: one plain add per member in the fixed sorted order,
 *    so the result does not depend on timing; it does not depend on the
 *    chunking either, up to how CLBlast rounds different GEMM shapes).
 *    Gather and scatter kernels are row-shaped on CPU devices and
 *    element-shaped elsewhere (gather.c: clsp__row_kernels).
 * Everything goes to the in-order queue; the host waits only when stats
 * with timings are asked for (to read the profiling events) and wherever
 * CLBlast itself blocks. The per-call plan (first pair and valid rows per
 * member) is uploaded at buffer creation, not through the queue. */
#include <stdlib.h>
#include <string.h>
#include "conv_fused.h"

static int poison_debug; /* test hook, see clsp__conv_debug_poison */

void clsp__conv_debug_poison(int on) { poison_debug = on; }

typedef struct conv_run {
  clsp_context *ctx;
  const clsp_rulebook *rb;
  const clsp_tensor *in;
  const clsp_weights *w;
  const clsp_conv_epilogue *ep; /* NULL: none */
  int deterministic;
  int fused;       /* fused dataflow (conv_fused.c) instead */
  long centre;     /* submanifold centre tap, else -1 */
  uint32_t *order; /* taps by descending count */
  size_t n_taps;
  clsp__group *groups;
  size_t n_groups;
  clsp__chunk *chunks;
  size_t n_chunks, cap_chunks;
  uint32_t *plan; /* (first pair, valid rows) per member */
  size_t n_plan, cap_plan;
  size_t max_rows; /* block rows of the largest chunk */
  cl_mem plan_buf, ws_a, ws_c, sorted_w, out_coords, out_feats;
  clsp_events events; /* profiling events, when `timed` */
  int timed;
  clsp_conv_stats stats;
} conv_run;

static uint32_t tap_count(const conv_run *r, uint32_t t) {
  return r->rb->start[t + 1] - r->rb->start[t];
}

/* ---- validation ---- */

clsp_status clsp__conv_check_args(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_tensor *in, const clsp_weights *w) {
  if (!rb || !in || !w)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "%s: NULL",
                      !rb   ? "rb"
                      : !in ? "in"
                            : "w");
  if (rb->ctx != ctx || in->ctx != ctx || w->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "%s: created on another context",
                      rb->ctx != ctx   ? "rb"
                      : in->ctx != ctx ? "in"
                                       : "w");
  if (in->sites_id != rb->in_sites_id || in->desc.n_sites != rb->info.n_in)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "in: tensor (%zu sites, site set %llu) is not on the sites the "
                      "rulebook was built for (%zu sites, site set %llu)",
                      in->desc.n_sites, (unsigned long long)in->sites_id, rb->info.n_in,
                      (unsigned long long)rb->in_sites_id);
  if (w->c_in != in->desc.channels)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "w: weights have c_in = %zu but tensor 'in' has %zu channels",
                      w->c_in, in->desc.channels);
  if (w->kernel_volume != rb->info.kernel_volume)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "w: weights have kernel_volume = %zu but the rulebook has %zu taps",
                      w->kernel_volume, rb->info.kernel_volume);
  if (w->half != in->half)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "w: weights stored as %s, tensor 'in' as %s (float16 storage is a "
                      "model's, for its own weights and tensors)",
                      w->half ? "float16" : "float", in->half ? "float16" : "float");
  return CLSP_SUCCESS;
}

/* The submanifold centre tap if it maps every site to itself: odd kernel,
 * one pair per site, pairs ordered by output row (so pair r = (r, r)). */
static long centre_tap(const clsp_rulebook *rb) {
  const clsp_rulebook_info *i = &rb->info;
  if (i->kind != CLSP_CONV_SUBMANIFOLD || i->n_out == 0 || i->n_in != i->n_out) return -1;
  for (int a = 0; a < i->ndim; a++)
    if (i->geometry.kernel[a] % 2 == 0) return -1;
  size_t c = i->kernel_volume / 2;
  return rb->start[c + 1] - rb->start[c] == i->n_out ? (long)c : -1;
}

/* ---- planning (host only) ---- */

static int add_chunk(conv_run *r, uint32_t pos, uint32_t n_members, uint32_t rows) {
  if (r->n_chunks == r->cap_chunks) {
    size_t cap = r->cap_chunks ? 2 * r->cap_chunks : 64;
    clsp__chunk *p = realloc(r->chunks, cap * sizeof *p);
    if (!p) return 0;
    r->chunks = p;
    r->cap_chunks = cap;
  }
  r->chunks[r->n_chunks++] = (clsp__chunk){(uint32_t)(r->n_plan), n_members, rows, pos};
  if ((size_t)n_members * rows > r->max_rows) r->max_rows = (size_t)n_members * rows;
  r->stats.gemm_rows += (size_t)n_members * rows;
  return 1;
}

static int add_member(conv_run *r, uint32_t begin, uint32_t valid) {
  if (r->n_plan == r->cap_plan) {
    size_t cap = r->cap_plan ? 2 * r->cap_plan : 256;
    uint32_t *p = realloc(r->plan, cap * CLSP_PLAN_WORDS * sizeof *p);
    if (!p) return 0;
    r->plan = p;
    r->cap_plan = cap;
  }
  r->plan[CLSP_PLAN_WORDS * r->n_plan + CLSP_PLAN_BEGIN] = begin;
  r->plan[CLSP_PLAN_WORDS * r->n_plan + CLSP_PLAN_VALID] = valid;
  r->n_plan++;
  r->stats.pair_rows += valid;
  return 1;
}

/* Whole members, as many per chunk as fit in `budget` rows. */
static int plan_whole(conv_run *r, const clsp__group *g, size_t budget) {
  size_t per = budget / g->max;
  for (uint32_t s = 0; s < g->count; s += (uint32_t)per) {
    uint32_t pos = g->first + s;
    uint32_t k = (uint32_t)(g->count - s < per ? g->count - s : per);
    /* Sorted descending: the chunk's first member is its largest. */
    if (!add_chunk(r, pos, k, tap_count(r, r->order[pos]))) return 0;
    for (uint32_t j = 0; j < k; j++) {
      uint32_t t = r->order[pos + j];
      if (!add_member(r, r->rb->start[t], tap_count(r, t))) return 0;
    }
  }
  return 1;
}

/* Members larger than the budget: row ranges of one member per chunk. */
static int plan_split(conv_run *r, const clsp__group *g, size_t budget) {
  for (uint32_t j = 0; j < g->count; j++) {
    uint32_t t = r->order[g->first + j], c = tap_count(r, t);
    for (uint32_t r0 = 0; r0 < c; r0 += (uint32_t)budget) {
      uint32_t len = (uint32_t)(c - r0 < budget ? c - r0 : budget);
      if (!add_chunk(r, g->first + j, 1, len) ||
          !add_member(r, r->rb->start[t] + r0, len))
        return 0;
    }
  }
  return 1;
}

/* Rows of one chunk the workspace allows (>= 1), within 32-bit indexing
 * and the device's largest allocation. */
static clsp_status row_budget(conv_run *r, size_t *rows) {
  size_t cin = r->w->c_in, cout = r->w->c_out, widest = cin > cout ? cin : cout;
  size_t budget = r->ctx->workspace_bytes / ((cin + cout) * sizeof(float));
  if (budget > UINT32_MAX / widest) budget = UINT32_MAX / widest;
  size_t alloc_rows = (size_t)(r->ctx->caps.max_alloc_bytes / (widest * sizeof(float)));
  if (alloc_rows > 0 && budget > alloc_rows) budget = alloc_rows;
  if (budget == 0)
    return clsp__fail(r->ctx, CLSP_ERROR_TOO_LARGE,
                      "workspace_bytes = %zu cannot hold one row of c_in + c_out = %zu "
                      "floats",
                      r->ctx->workspace_bytes, cin + cout);
  *rows = budget;
  return CLSP_SUCCESS;
}

static clsp_status plan_chunks(conv_run *r) {
  size_t kvol = r->rb->info.kernel_volume, budget = 0;
  r->order = malloc(kvol * sizeof *r->order);
  r->groups = malloc(kvol * sizeof *r->groups);
  if (!r->order || !r->groups)
    return clsp__fail(r->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "conv plan");
  clsp_status st =
    clsp__group_taps(r->ctx, r->rb->start, kvol, r->centre, CLSP_GROUP_BOUND, r->order,
                     &r->n_taps, r->groups, &r->n_groups);
  if (st == CLSP_SUCCESS && r->n_taps > 0) st = row_budget(r, &budget);
  for (size_t g = 0; st == CLSP_SUCCESS && g < r->n_groups; g++) {
    const clsp__group *gr = &r->groups[g];
    int ok = gr->max <= budget ? plan_whole(r, gr, budget) : plan_split(r, gr, budget);
    if (!ok) st = clsp__fail(r->ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "conv plan");
  }
  r->stats.gemm_groups = r->n_groups + (r->centre >= 0);
  r->stats.chunks = r->n_chunks;
  r->stats.atomic = !r->deterministic;
  if (r->centre >= 0) {
    r->stats.gemm_rows += r->rb->info.n_out;
    r->stats.pair_rows += r->rb->info.n_out;
  }
  return st;
}

/* ---- profiling events ---- */

/* The recorder for the next commands of `stage`, or NULL when no timings
 * are collected. */
static clsp_events *events_for(conv_run *r, clsp_stage stage) {
  if (!r->timed) return NULL;
  r->events.tag = (int)stage;
  return &r->events;
}

/* A slot for the event of a non-kernel command of `stage` (copies,
 * CLBlast). since_prev: the stage's time runs from the end of the
 * previous command (CLBlast returns only its last kernel's event). */
static cl_event *event_slot(conv_run *r, clsp_stage stage, int since_prev) {
  return clsp__event_slot(r->timed ? &r->events : NULL, (int)stage, since_prev);
}

/* ---- device buffers ---- */

static clsp_status alloc_buffers(conv_run *r) {
  clsp_context *ctx = r->ctx;
  size_t n_out = r->rb->info.n_out, cols = 1 + (size_t)r->rb->info.ndim;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, n_out * cols * sizeof(int32_t), NULL,
                        "conv output coords", &r->out_coords);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             n_out * r->w->c_out * (r->w->half ? 2 : sizeof(float)), NULL,
                             "conv output feats", &r->out_feats);
  if (st == CLSP_SUCCESS && r->n_chunks > 0)
    st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             r->n_plan * CLSP_PLAN_WORDS * sizeof(uint32_t), r->plan,
                             "conv plan", &r->plan_buf);
  if (st == CLSP_SUCCESS && r->n_chunks > 0)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             r->max_rows * r->w->c_in * sizeof(float), NULL,
                             "conv workspace (gathered rows)", &r->ws_a);
  if (st == CLSP_SUCCESS && r->n_chunks > 0)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE,
                             r->max_rows * r->w->c_out * sizeof(float), NULL,
                             "conv workspace (GEMM results)", &r->ws_c);
  return st;
}

/* Test hook: NaN everywhere the pass must overwrite or must not read. */
static clsp_status poison(conv_run *r) {
  const uint32_t nan = r->w->half ? 0x7e007e00u : 0x7fc00000u; /* 2 float16 NaN */
  size_t out_words = r->rb->info.n_out * r->w->c_out;
  if (r->w->half) out_words = (out_words + 1) / 2;
  clsp_status st =
    clsp__fill_u32(r->ctx, r->out_feats, nan, 0, (uint32_t)out_words, NULL);
  if (st == CLSP_SUCCESS && r->ws_a)
    st =
      clsp__fill_u32(r->ctx, r->ws_a, nan, 0, (uint32_t)(r->max_rows * r->w->c_in), NULL);
  if (st == CLSP_SUCCESS && r->ws_c)
    st = clsp__fill_u32(r->ctx, r->ws_c, nan, 0, (uint32_t)(r->max_rows * r->w->c_out),
                        NULL);
  return st;
}

static clsp_status copy_out_coords(conv_run *r) {
  size_t bytes = r->rb->info.n_out * (1 + (size_t)r->rb->info.ndim) * sizeof(int32_t);
  if (bytes == 0) return CLSP_SUCCESS;
  CLSP_CL_CHECK(r->ctx,
                clEnqueueCopyBuffer(r->ctx->queue, r->rb->out_coords, r->out_coords, 0, 0,
                                    bytes, 0, NULL, event_slot(r, CLSP_STAGE_OTHER, 0)),
                "copying output coords");
  return CLSP_SUCCESS;
}

/* ---- stages ---- */

static clsp_status init_output(conv_run *r) {
  const clsp_weights *w = r->w;
  size_t n = r->rb->info.n_out;
  if (r->centre < 0 || w->bias) {
    clsp_status st = clsp__init_output(r->ctx, r->out_feats, w->bias, n, w->c_out,
                                       events_for(r, CLSP_STAGE_OTHER));
    if (st != CLSP_SUCCESS || r->centre < 0) return st;
  }
  float beta = w->bias ? 1.0f : 0.0f;
  size_t w_off = (size_t)r->centre * w->c_in * w->c_out;
  return clsp__gemm(r->ctx, n, w->c_in, w->c_out, 1, r->in->feats, 0, w->weights, w_off,
                    beta, r->out_feats, 0, event_slot(r, CLSP_STAGE_GEMM, 1));
}

static int consecutive_taps(const conv_run *r, const clsp__chunk *ch) {
  for (uint32_t j = 1; j < ch->n_members; j++)
    if (r->order[ch->pos + j] != r->order[ch->pos] + j) return 0;
  return 1;
}

/* Weights in sorted tap order, for chunks whose taps are not consecutive
 * (StridedBatched needs one fixed stride between the members' weights). */
static clsp_status sort_weights(conv_run *r) {
  int needed = 0;
  for (size_t c = 0; c < r->n_chunks && !needed; c++)
    needed = !consecutive_taps(r, &r->chunks[c]);
  if (!needed) return CLSP_SUCCESS;
  size_t tap_bytes = r->w->c_in * r->w->c_out * sizeof(float);
  clsp_status st = clsp__buffer_create(r->ctx, CL_MEM_READ_WRITE, r->n_taps * tap_bytes,
                                       NULL, "conv sorted weights", &r->sorted_w);
  for (size_t p = 0; st == CLSP_SUCCESS && p < r->n_taps; p++) {
    cl_int err = clEnqueueCopyBuffer(r->ctx->queue, r->w->weights, r->sorted_w,
                                     r->order[p] * tap_bytes, p * tap_bytes, tap_bytes, 0,
                                     NULL, event_slot(r, CLSP_STAGE_OTHER, 0));
    if (err != CL_SUCCESS) st = clsp__cl_fail(r->ctx, err, "copying sorted weights");
  }
  return st;
}

static clsp_status chunk_gemm(conv_run *r, const clsp__chunk *ch) {
  size_t per_tap = r->w->c_in * r->w->c_out;
  int direct = consecutive_taps(r, ch);
  cl_mem b = direct ? r->w->weights : r->sorted_w;
  size_t b_off = (direct ? r->order[ch->pos] : ch->pos) * per_tap;
  return clsp__gemm(r->ctx, ch->rows, r->w->c_in, r->w->c_out, ch->n_members, r->ws_a, 0,
                    b, b_off, 0.0f, r->ws_c, 0, event_slot(r, CLSP_STAGE_GEMM, 1));
}

static clsp_status chunk_scatter(conv_run *r, const clsp__chunk *ch) {
  if (!r->deterministic)
    return clsp__scatter_atomic(r->ctx, r->ws_c, r->w->c_out, r->rb->pair_out,
                                r->plan_buf, ch, r->out_feats,
                                events_for(r, CLSP_STAGE_SCATTER));
  clsp_status st = CLSP_SUCCESS;
  for (uint32_t j = 0; st == CLSP_SUCCESS && j < ch->n_members; j++) {
    const uint32_t *m = &r->plan[CLSP_PLAN_WORDS * (ch->plan_first + j)];
    st = clsp__scatter_add(r->ctx, r->ws_c, r->w->c_out, j * ch->rows, r->rb->pair_out,
                           m[CLSP_PLAN_BEGIN], m[CLSP_PLAN_VALID], r->out_feats,
                           events_for(r, CLSP_STAGE_SCATTER));
  }
  return st;
}

static clsp_status run_chunks(conv_run *r) {
  clsp_status st = sort_weights(r);
  for (size_t c = 0; st == CLSP_SUCCESS && c < r->n_chunks; c++) {
    const clsp__chunk *ch = &r->chunks[c];
    st = clsp__gather(r->ctx, r->in, r->rb->pair_in, r->plan_buf, ch, r->ws_a,
                      events_for(r, CLSP_STAGE_GATHER));
    if (st == CLSP_SUCCESS) st = chunk_gemm(r, ch);
    if (st == CLSP_SUCCESS) st = chunk_scatter(r, ch);
  }
  return st;
}

static clsp_status make_output(conv_run *r, clsp_tensor **out) {
  const clsp_rulebook_info *i = &r->rb->info;
  clsp_tensor_desc d = {0};
  d.ndim = i->ndim;
  memcpy(d.shape, i->out_shape, sizeof d.shape);
  d.batch_size = i->batch_size;
  d.n_sites = i->n_out;
  d.channels = r->w->c_out;
  d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  clsp_status st =
    clsp__tensor_adopt(r->ctx, &d, r->out_coords, r->out_feats, r->rb->out_sites_id, out);
  r->out_coords = r->out_feats = NULL; /* adopted, or released on failure */
  if (st == CLSP_SUCCESS) (*out)->half = r->w->half;
  return st;
}

static clsp_status output_desc_check(conv_run *r) {
  clsp_tensor_desc d = {0};
  d.ndim = r->rb->info.ndim;
  memcpy(d.shape, r->rb->info.out_shape, sizeof d.shape);
  d.batch_size = r->rb->info.batch_size;
  d.n_sites = r->rb->info.n_out;
  d.channels = r->w->c_out;
  return clsp__tensor_desc_check(r->ctx, &d);
}

static void run_release(conv_run *r) {
  clsp_context *ctx = r->ctx;
  /* Pending commands keep their buffers alive: releasing is safe. */
  clsp__buffer_release(ctx, &r->plan_buf);
  clsp__buffer_release(ctx, &r->ws_a);
  clsp__buffer_release(ctx, &r->ws_c);
  clsp__buffer_release(ctx, &r->sorted_w);
  clsp__buffer_release(ctx, &r->out_coords);
  clsp__buffer_release(ctx, &r->out_feats);
  clsp__events_release(&r->events);
  free(r->order);
  free(r->groups);
  free(r->chunks);
  free(r->plan);
}

/* Which scatter runs (see conv.h): ordered where atomics are emulated on a
 * CPU, unless the caller asks otherwise. */
static int ordered_scatter(const clsp_context *ctx, uint32_t flags) {
  if ((flags & CLSP_CONV_DETERMINISTIC) || (ctx->flags & CLSP_CONTEXT_DETERMINISTIC))
    return 1;
  if (flags & CLSP_CONV_ATOMIC) return 0;
  return (ctx->caps.type & CL_DEVICE_TYPE_CPU) && !ctx->tuning.float_atomic_add;
}

/* ---- the epilogue ---- */

clsp_status clsp__check_on_output(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_weights *w, const clsp_tensor *t,
                                  const char *name) {
  if (t->ctx != ctx)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH, "%s: created on another context", name);
  if (t->sites_id != rb->out_sites_id || t->desc.n_sites != rb->info.n_out)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "%s: tensor (%zu sites, site set %llu) is not on the rulebook's "
                      "output sites (%zu sites, site set %llu)",
                      name, t->desc.n_sites, (unsigned long long)t->sites_id,
                      rb->info.n_out, (unsigned long long)rb->out_sites_id);
  if (t->desc.channels != w->c_out)
    return clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                      "%s: %zu channels, the weights have c_out = %zu", name,
                      t->desc.channels, w->c_out);
  return CLSP_SUCCESS;
}

static clsp_status epilogue_check(clsp_context *ctx, const clsp_rulebook *rb,
                                  const clsp_weights *w, const clsp_conv_epilogue *ep) {
  if (!ep) return CLSP_SUCCESS;
  if ((unsigned)ep->activation > CLSP_ACTIVATION_LEAKY_RELU)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "epilogue->activation: %d is not a clsp_activation",
                      (int)ep->activation);
  const clsp_tensor *res = ep->residual;
  if (!res) return CLSP_SUCCESS;
  clsp_status st = clsp__check_on_output(ctx, rb, w, res, "epilogue->residual");
  if (st == CLSP_SUCCESS && res->half != w->half)
    st = clsp__fail(ctx, CLSP_ERROR_MISMATCH,
                    "epilogue->residual: stored as %s, the conv writes %s",
                    res->half ? "float16" : "float", w->half ? "float16" : "float");
  return st;
}

/* The epilogue as elementwise passes over the scattered output (gather ->
 * GEMM -> scatter), with the kernels of clsp_add and the activations. */
static clsp_status epilogue_passes(conv_run *r) {
  const clsp_conv_epilogue *ep = r->ep;
  cl_uint n = (cl_uint)(r->rb->info.n_out * r->w->c_out);
  if (!ep || n == 0) return CLSP_SUCCESS;
  clsp_status st = CLSP_SUCCESS;
  int act = ep->activation;
  clsp_events *ev = events_for(r, CLSP_STAGE_OTHER);
  if (ep->residual) {
    cl_int relu = act == CLSP_ACTIVATION_RELU;
    st = CLSP_RUN(r->ctx, CLSP_K_EW_ADD, clsp_items_any(n), ev, CLSP_A(r->out_feats),
                  CLSP_A(ep->residual->feats), CLSP_A(n), CLSP_A(relu));
    if (relu) return st;
  }
  if (st != CLSP_SUCCESS || act == CLSP_ACTIVATION_NONE) return st;
  if (act == CLSP_ACTIVATION_LEAKY_RELU)
    return CLSP_RUN(r->ctx, CLSP_K_EW_LEAKY_RELU, clsp_items_any(n), ev,
                    CLSP_A(r->out_feats), CLSP_A(n), CLSP_A(ep->alpha));
  clsp_kernel_id k = act == CLSP_ACTIVATION_RELU ? CLSP_K_EW_RELU : CLSP_K_EW_SIGMOID;
  return CLSP_RUN(r->ctx, k, clsp_items_any(n), ev, CLSP_A(r->out_feats), CLSP_A(n));
}

/* The fused dataflow in place of init_output and run_chunks: the pair
 * lists (once per rulebook: the output-major one, and the row tiles'
 * tap-sorted copy) count as OTHER, the conv kernels as GEMM. */
static clsp_status run_fused(conv_run *r) {
  r->stats.fused = 1;
  r->stats.atomic = 0;
  r->stats.pair_rows = r->stats.gemm_rows = r->rb->info.n_pairs;
  clsp_status st = clsp__fused_list(r->ctx, r->rb, events_for(r, CLSP_STAGE_OTHER));
  if (st != CLSP_SUCCESS) return st;
  st = clsp__fused_tile_list(r->ctx, r->rb, r->w, events_for(r, CLSP_STAGE_OTHER));
  if (st != CLSP_SUCCESS) return st;
  return clsp__conv_fused(r->ctx, r->rb, r->in, r->w, r->ep, r->out_feats,
                          events_for(r, CLSP_STAGE_GEMM));
}

clsp_status clsp_conv_forward(clsp_context *ctx, const clsp_rulebook *rb,
                              const clsp_tensor *in, const clsp_weights *w,
                              uint32_t flags, clsp_tensor **out, clsp_conv_stats *stats) {
  return clsp_conv_forward_epilogue(ctx, rb, in, w, flags, NULL, out, stats);
}

clsp_status clsp_conv_forward_epilogue(clsp_context *ctx, const clsp_rulebook *rb,
                                       const clsp_tensor *in, const clsp_weights *w,
                                       uint32_t flags, const clsp_conv_epilogue *ep,
                                       clsp_tensor **out, clsp_conv_stats *stats) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  clsp_status st = clsp__conv_check_args(ctx, rb, in, w);
  if (st == CLSP_SUCCESS) st = epilogue_check(ctx, rb, w, ep);
  if (st != CLSP_SUCCESS) return st;
  conv_run r = {0};
  r.ctx = ctx;
  r.rb = rb;
  r.in = in;
  r.w = w;
  r.ep = ep;
  r.deterministic = ordered_scatter(ctx, flags);
  r.centre = -1; /* the gather path's, once the pairs exist */
  /* Float16 storage has the fused kernels only (no CLBlast half GEMM). */
  r.fused = w->half || clsp__fused_chosen(ctx, flags, w->c_in, w->c_out);
  st = output_desc_check(&r);
  if (st == CLSP_SUCCESS && !r.fused) st = clsp__rulebook_pairs(ctx, rb);
  if (st == CLSP_SUCCESS && !r.fused) r.centre = centre_tap(rb);
  if (st == CLSP_SUCCESS && !r.fused) st = plan_chunks(&r);
  r.timed = stats != NULL && ctx->profiling;
  if (st == CLSP_SUCCESS) st = alloc_buffers(&r);
  if (st == CLSP_SUCCESS && poison_debug) st = poison(&r);
  if (st == CLSP_SUCCESS) st = copy_out_coords(&r);
  if (st == CLSP_SUCCESS && r.fused) st = run_fused(&r);
  if (st == CLSP_SUCCESS && !r.fused && rb->info.n_out > 0) st = init_output(&r);
  if (st == CLSP_SUCCESS && !r.fused) st = run_chunks(&r);
  if (st == CLSP_SUCCESS && !r.fused) st = epilogue_passes(&r);
  if (st == CLSP_SUCCESS && r.timed)
    st = clsp__events_finish(ctx, &r.events, r.stats.stage_ms, CLSP_STAGE_COUNT, NULL,
                             &r.stats.total_ms);
  if (st == CLSP_SUCCESS) st = make_output(&r, out);
  if (st == CLSP_SUCCESS && stats) *stats = r.stats;
  run_release(&r);
  return st;
}
