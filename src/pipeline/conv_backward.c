/* SPDX-License-Identifier: Apache-2.0 */
/* clsp_conv_backward: the three gradients of a sparse convolution, all on
 * the forward's rulebook (never rebuilt).
 *
 * dX: the forward dataflow with the pair roles swapped and each tap's
 *     weights transposed. A rulebook view whose pair_in/pair_out, site
 *     sets and shapes are exchanged (as clsp_rulebook_inverse does for an
 *     inverse conv) is run through clsp_conv_forward itself with dY as the
 *     input and W_t^T as the weights, so the gather -> grouped batched
 *     GEMM -> scatter stages, their chunking, the submanifold centre-tap
 *     GEMM and the atomic/ordered scatter policy are the forward's own.
 * dW: with the fused dataflow (chosen as for the forward:
 *     clsp__fused_chosen), the clsp_bw_dw_* kernels (cl/backward.cl): a
 *     work-item per (tap, 4 input channels, vector of output channels)
 *     accumulates over the tap's pairs in registers and writes its part
 *     of dW_t once. With gather -> GEMM: per tap, the pairs' X rows are
 *     gathered transposed (c_in x rows) and their dY rows with the
 *     forward's gather (rows x c_out), and dW_t = X_g^T dY_g is one plain
 *     GEMM (the forward's clsp__gemm); taps larger than the workspace run
 *     in row ranges accumulated with beta = 1 in a fixed order. Either
 *     way no atomics: bit-identical run to run.
 * db: column sums of dY in two fixed-order passes (blocks of rows, then
 *     the blocks), bit-identical run to run. */
#include <stdlib.h>
#include <string.h>
#include "conv_fused.h"
#include "conv_stages.h"
#include "programs.h"
#include "clspconv/train.h"

/* Rows per partial column sum of db. */
#define COLUMN_BLOCK 256u

/* Events of the dW and db commands, for stats->total_ms. */
typedef struct span {
  clsp_events list;
  int timed;
} span;

/* The recorder for launches, or NULL when untimed. */
static clsp_events *span_events(span *s) { return s->timed ? &s->list : NULL; }
/* An event slot for a copy, fill or CLBlast call, or NULL. */
static cl_event *span_ev(span *s, int since_prev) {
  return clsp__event_slot(span_events(s), CLSP_STAGE_OTHER, since_prev);
}

static clsp_status check_grad(clsp_context *ctx, const clsp_rulebook *rb,
                              const clsp_weights *w, const clsp_tensor *d_out) {
  if (!d_out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "d_out: NULL");
  return clsp__check_on_output(ctx, rb, w, d_out, "d_out");
}

/* ---- dX ---- */

/* W_t^T for every tap, as a weights handle with c_in and c_out swapped. */
static clsp_status transposed_weights(clsp_context *ctx, const clsp_weights *w,
                                      clsp_weights *wt) {
  *wt = (clsp_weights){ctx, w->kernel_volume, w->c_out, w->c_in, NULL, NULL, 0};
  uint32_t cin = (uint32_t)w->c_in, cout = (uint32_t)w->c_out;
  uint32_t n = (uint32_t)(w->kernel_volume * w->c_in * w->c_out); /* checked at create */
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n * sizeof(float),
                                       NULL, "transposed weights", &wt->weights);
  if (st != CLSP_SUCCESS) return st;
  return CLSP_RUN(ctx, CLSP_K_BW_TRANSPOSE_WEIGHTS, clsp_items(n), NULL,
                  CLSP_A(w->weights), CLSP_A(cin), CLSP_A(cout), CLSP_A(n),
                  CLSP_A(wt->weights));
}

/* The rulebook read backwards: inputs are rb's output sites, outputs are
 * the sites of `in`. Shares every buffer with rb; its fused dataflow's
 * output-major pair list and the row tiles' copy of it are rb's backward
 * ones (bw_fused_*, bw_tile_*, by rb's input rows), which a fused conv on
 * the view builds when rb has none yet and backward_data then hands to
 * rb. Never destroyed. */
static clsp_rulebook swapped_view(const clsp_rulebook *rb, const clsp_tensor *in) {
  clsp_rulebook v = *rb;
  v.info.n_in = rb->info.n_out;
  v.info.n_out = rb->info.n_in;
  memcpy(v.info.in_shape, rb->info.out_shape, sizeof v.info.in_shape);
  memcpy(v.info.out_shape, rb->info.in_shape, sizeof v.info.out_shape);
  v.in_sites_id = rb->out_sites_id;
  v.out_sites_id = in->sites_id;
  v.out_coords = in->coords;
  v.pair_in = rb->pair_out;
  v.pair_out = rb->pair_in;
  v.in_coords = NULL;
  v.fused_offsets = rb->bw_fused_offsets;
  v.fused_entries = rb->bw_fused_entries;
  v.bw_fused_offsets = v.bw_fused_entries = NULL;
  v.tile_entries = rb->bw_tile_entries;
  v.tile_rows = rb->bw_tile_rows;
  v.bw_tile_entries = NULL;
  v.bw_tile_rows = 0;
  return v;
}

/* A pair list the view built is kept with rb for the next backward (rb
 * is const to callers but, as for the forward's list in conv_fused.c,
 * this cache does not change what it describes). */
static void keep_view_list(const clsp_rulebook *rb, const clsp_rulebook *view) {
  clsp_rulebook *cache = (clsp_rulebook *)rb;
  /* clsp__fused_list sets both or neither, and none on failure. */
  cache->bw_fused_offsets = view->fused_offsets;
  cache->bw_fused_entries = view->fused_entries;
  /* The row tiles' list too: the view may have replaced rb's (another
   * rows per tile), releasing it, or failed and left none. */
  cache->bw_tile_entries = view->tile_entries;
  cache->bw_tile_rows = view->tile_rows;
}

static clsp_status backward_data(clsp_context *ctx, const clsp_rulebook *rb,
                                 const clsp_tensor *in, const clsp_weights *w,
                                 const clsp_tensor *d_out, uint32_t flags,
                                 clsp_tensor **d_in, clsp_conv_stats *stats) {
  clsp_weights wt;
  clsp_status st = transposed_weights(ctx, w, &wt);
  clsp_rulebook view = swapped_view(rb, in);
  if (st == CLSP_SUCCESS)
    st = clsp_conv_forward(ctx, &view, d_out, &wt, flags, d_in, stats);
  /* Pending commands keep it alive. */
  clsp__buffer_release(ctx, &wt.weights);
  keep_view_list(rb, &view);
  return st;
}

/* ---- dW ---- */

typedef struct dw_plan {
  uint32_t *plan; /* (first pair, rows) per piece, as the gather reads it */
  uint32_t *tap;  /* tap of each piece */
  size_t n, max_rows;
} dw_plan;

/* Rows of one piece: the gathered X and dY rows fit the workspace. */
static clsp_status piece_rows(clsp_context *ctx, const clsp_weights *w, size_t *rows) {
  size_t widest = w->c_in > w->c_out ? w->c_in : w->c_out;
  size_t budget = ctx->workspace_bytes / ((w->c_in + w->c_out) * sizeof(float));
  if (budget > UINT32_MAX / widest) budget = UINT32_MAX / widest;
  size_t alloc_rows = (size_t)(ctx->caps.max_alloc_bytes / (widest * sizeof(float)));
  if (alloc_rows > 0 && budget > alloc_rows) budget = alloc_rows;
  if (budget == 0)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "workspace_bytes = %zu cannot hold one row of c_in + c_out = %zu "
                      "floats",
                      ctx->workspace_bytes, w->c_in + w->c_out);
  *rows = budget;
  return CLSP_SUCCESS;
}

static clsp_status plan_pieces(clsp_context *ctx, const clsp_rulebook *rb, size_t budget,
                               dw_plan *p) {
  size_t kvol = rb->info.kernel_volume, cap = 0;
  for (size_t t = 0; t < kvol; t++)
    cap += (rb->start[t + 1] - rb->start[t] + budget - 1) / budget;
  p->plan = malloc((2 * cap + 2) * sizeof *p->plan);
  p->tap = malloc((cap + 1) * sizeof *p->tap);
  if (!p->plan || !p->tap)
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "weight gradient plan");
  for (size_t t = 0; t < kvol; t++) {
    uint32_t count = rb->start[t + 1] - rb->start[t];
    for (uint32_t r0 = 0; r0 < count; r0 += (uint32_t)budget) {
      uint32_t len = (uint32_t)(count - r0 < budget ? count - r0 : budget);
      p->plan[2 * p->n] = rb->start[t] + r0;
      p->plan[2 * p->n + 1] = len;
      p->tap[p->n++] = (uint32_t)t;
      if (len > p->max_rows) p->max_rows = len;
    }
  }
  return CLSP_SUCCESS;
}

typedef struct dw_bufs {
  cl_mem plan, xs, dys, dw;
} dw_bufs;

static clsp_status dw_alloc(clsp_context *ctx, const clsp_weights *w, const dw_plan *p,
                            dw_bufs *b) {
  size_t dw_bytes = w->kernel_volume * w->c_in * w->c_out * sizeof(float);
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, dw_bytes, NULL,
                                       "weight gradient", &b->dw);
  if (st == CLSP_SUCCESS && p->n > 0)
    st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             p->n * 2 * sizeof(uint32_t), p->plan, "weight gradient plan",
                             &b->plan);
  if (st == CLSP_SUCCESS && p->n > 0)
    st =
      clsp__buffer_create(ctx, CL_MEM_READ_WRITE, p->max_rows * w->c_in * sizeof(float),
                          NULL, "weight gradient workspace (X rows, transposed)", &b->xs);
  if (st == CLSP_SUCCESS && p->n > 0)
    st =
      clsp__buffer_create(ctx, CL_MEM_READ_WRITE, p->max_rows * w->c_out * sizeof(float),
                          NULL, "weight gradient workspace (dY rows)", &b->dys);
  return st;
}

static void dw_release(clsp_context *ctx, dw_bufs *b) {
  clsp__buffer_release(ctx, &b->plan);
  clsp__buffer_release(ctx, &b->xs);
  clsp__buffer_release(ctx, &b->dys);
  clsp__buffer_release(ctx, &b->dw);
}

static clsp_status read_dw(clsp_context *ctx, cl_mem dw, size_t bytes, float *d_weights) {
  cl_int err =
    clEnqueueReadBuffer(ctx->queue, dw, CL_TRUE, 0, bytes, d_weights, 0, NULL, NULL);
  return err == CL_SUCCESS ? CLSP_SUCCESS
                           : clsp__cl_fail(ctx, err, "reading the weight gradient");
}

/* Gathers one piece's X rows (transposed) and dY rows and accumulates
 * X_g^T dY_g into dW_t: the first piece of a tap overwrites (beta 0), later
 * ones add. */
static clsp_status dw_piece(clsp_context *ctx, const clsp_rulebook *rb,
                            const clsp_tensor *in, const clsp_weights *w,
                            const clsp_tensor *d_out, const dw_plan *p, size_t k,
                            const dw_bufs *b, span *s) {
  uint32_t begin = p->plan[2 * k], rows = p->plan[2 * k + 1], cin = (uint32_t)w->c_in;
  clsp__chunk ch = {(uint32_t)k, 1, rows, 0};
  clsp_status st =
    CLSP_RUN(ctx, CLSP_K_BW_GATHER_TRANSPOSED, clsp_items((size_t)rows * cin),
             span_events(s), CLSP_A(in->feats), CLSP_A(cin), CLSP_A(rb->pair_in),
             CLSP_A(begin), CLSP_A(rows), CLSP_A(b->xs));
  if (st == CLSP_SUCCESS)
    st = clsp__gather(ctx, d_out, rb->pair_out, b->plan, &ch, b->dys, span_events(s));
  float beta = (k > 0 && p->tap[k - 1] == p->tap[k]) ? 1.0f : 0.0f;
  size_t off = (size_t)p->tap[k] * w->c_in * w->c_out;
  /* C (c_in x c_out) = A (c_in x rows) B (rows x c_out). */
  if (st == CLSP_SUCCESS)
    st = clsp__gemm(ctx, w->c_in, rows, w->c_out, 1, b->xs, 0, b->dys, 0, beta, b->dw,
                    off, span_ev(s, 1));
  return st;
}

static clsp_status backward_weights_gemm(clsp_context *ctx, const clsp_rulebook *rb,
                                         const clsp_tensor *in, const clsp_weights *w,
                                         const clsp_tensor *d_out, float *d_weights,
                                         span *s) {
  size_t budget = 0, bytes = w->kernel_volume * w->c_in * w->c_out * sizeof(float);
  dw_plan p = {0};
  dw_bufs b = {0};
  clsp_status st = piece_rows(ctx, w, &budget);
  if (st == CLSP_SUCCESS) st = plan_pieces(ctx, rb, budget, &p);
  if (st == CLSP_SUCCESS) st = dw_alloc(ctx, w, &p, &b);
  /* Taps without pairs keep these zeros; the others overwrite them. */
  if (st == CLSP_SUCCESS)
    st = clsp__fill_u32(ctx, b.dw, 0u, 0, (uint32_t)(bytes / 4), span_events(s));
  for (size_t k = 0; st == CLSP_SUCCESS && k < p.n; k++)
    st = dw_piece(ctx, rb, in, w, d_out, &p, k, &b, s);
  if (st == CLSP_SUCCESS) st = read_dw(ctx, b.dw, bytes, d_weights);
  dw_release(ctx, &b);
  free(p.plan);
  free(p.tap);
  return st;
}

/* ---- dW, fused: one pass of the clsp_bw_dw_* kernels ---- */

/* Launches of one row slice (RI = 4 or 1 input channels per work-item)
 * over the column slices: float16 blocks, then float8, float4 and scalar
 * remainders (at most one of each narrower width). */
static clsp_status dw_fused_rows(clsp_context *ctx, const clsp_rulebook *rb,
                                 const clsp_tensor *in, const clsp_weights *w,
                                 const clsp_tensor *d_out, cl_mem start, cl_uint row0,
                                 cl_uint n_rblocks, int ri4, cl_mem dw, span *s) {
  static const clsp_kernel_id k4[4] = {CLSP_K_BW_DW_16X4, CLSP_K_BW_DW_8X4,
                                       CLSP_K_BW_DW_4X4, CLSP_K_BW_DW_1X4};
  static const clsp_kernel_id k1[4] = {CLSP_K_BW_DW_16X1, CLSP_K_BW_DW_8X1,
                                       CLSP_K_BW_DW_4X1, CLSP_K_BW_DW_1X1};
  static const cl_uint width[4] = {16, 8, 4, 1};
  cl_uint cin = (cl_uint)w->c_in, cout = (cl_uint)w->c_out;
  cl_uint kvol = (cl_uint)rb->info.kernel_volume, col0 = 0;
  clsp_status st = CLSP_SUCCESS;
  for (int v = 0; st == CLSP_SUCCESS && v < 4 && n_rblocks > 0; v++) {
    cl_uint n_cblocks = (cout - col0) / width[v];
    if (n_cblocks == 0) continue;
    st =
      CLSP_RUN(ctx, (ri4 ? k4 : k1)[v], clsp_items((size_t)kvol * n_rblocks * n_cblocks),
               span_events(s), CLSP_A(in->feats), CLSP_A(cin), CLSP_A(d_out->feats),
               CLSP_A(cout), CLSP_A(rb->pair_in), CLSP_A(rb->pair_out), CLSP_A(start),
               CLSP_A(kvol), CLSP_A(row0), CLSP_A(n_rblocks), CLSP_A(col0),
               CLSP_A(n_cblocks), CLSP_A(dw));
    col0 += n_cblocks * width[v];
  }
  return st;
}

/* Every element of dw written: taps without pairs get zeros. */
static clsp_status dw_fused(clsp_context *ctx, const clsp_rulebook *rb,
                            const clsp_tensor *in, const clsp_weights *w,
                            const clsp_tensor *d_out, cl_mem dw, span *s) {
  cl_mem start = NULL;
  size_t kvol = rb->info.kernel_volume;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                       (kvol + 1) * sizeof(cl_uint), rb->start,
                                       "weight gradient tap starts", &start);
  cl_uint cin = (cl_uint)w->c_in, quads = cin / 4;
  if (st == CLSP_SUCCESS)
    st = dw_fused_rows(ctx, rb, in, w, d_out, start, 0, quads, 1, dw, s);
  if (st == CLSP_SUCCESS)
    st =
      dw_fused_rows(ctx, rb, in, w, d_out, start, 4 * quads, cin - 4 * quads, 0, dw, s);
  clsp__buffer_release(ctx, &start); /* pending commands keep it alive */
  return st;
}

/* ---- dW, either dataflow ---- */

static clsp_status backward_weights(clsp_context *ctx, const clsp_rulebook *rb,
                                    const clsp_tensor *in, const clsp_weights *w,
                                    const clsp_tensor *d_out, uint32_t flags,
                                    float *d_weights, span *s) {
  if (clsp__fused_chosen(ctx, flags, w->c_in, w->c_out)) {
    size_t bytes = w->kernel_volume * w->c_in * w->c_out * sizeof(float);
    cl_mem dw = NULL;
    clsp_status st =
      clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "weight gradient", &dw);
    if (st == CLSP_SUCCESS) st = dw_fused(ctx, rb, in, w, d_out, dw, s);
    if (st == CLSP_SUCCESS) st = read_dw(ctx, dw, bytes, d_weights);
    clsp__buffer_release(ctx, &dw);
    return st;
  }
  return backward_weights_gemm(ctx, rb, in, w, d_out, d_weights, s);
}

/* ---- db ---- */

static clsp_status backward_bias(clsp_context *ctx, const clsp_tensor *d_out,
                                 float *d_bias, span *s) {
  uint32_t rows = (uint32_t)d_out->desc.n_sites, cols = (uint32_t)d_out->desc.channels;
  uint32_t block = COLUMN_BLOCK, n_blocks = (rows + block - 1) / block;
  if (n_blocks == 0) {
    memset(d_bias, 0, cols * sizeof *d_bias);
    return CLSP_SUCCESS;
  }
  cl_mem partial = NULL, sums = NULL;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (size_t)n_blocks * cols * sizeof(float),
                        NULL, "bias gradient partial sums", &partial);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, cols * sizeof(float), NULL,
                             "bias gradient", &sums);
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_BW_COLUMN_PARTIALS, clsp_items((size_t)n_blocks * cols),
                  span_events(s), CLSP_A(d_out->feats), CLSP_A(rows), CLSP_A(cols),
                  CLSP_A(block), CLSP_A(n_blocks), CLSP_A(partial));
  if (st == CLSP_SUCCESS)
    st = CLSP_RUN(ctx, CLSP_K_BW_COLUMN_TOTAL, clsp_items(cols), span_events(s),
                  CLSP_A(partial), CLSP_A(cols), CLSP_A(n_blocks), CLSP_A(sums));
  if (st == CLSP_SUCCESS) {
    cl_int err = clEnqueueReadBuffer(ctx->queue, sums, CL_TRUE, 0, cols * sizeof(float),
                                     d_bias, 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "reading the bias gradient");
  }
  clsp__buffer_release(ctx, &partial);
  clsp__buffer_release(ctx, &sums);
  return st;
}

/* Adds the device time of the dW and db commands (first start to last
 * end) to the stats and releases their events. */
static void span_finish(clsp_context *ctx, span *s, clsp_conv_stats *stats) {
  double span_ms = 0.0;
  if (s->timed && stats &&
      clsp__events_finish(ctx, &s->list, NULL, 0, NULL, &span_ms) == CLSP_SUCCESS)
    stats->total_ms += span_ms;
  clsp__events_release(&s->list);
}

clsp_status clsp_conv_backward(clsp_context *ctx, const clsp_rulebook *rb,
                               const clsp_tensor *in, const clsp_weights *w,
                               const clsp_tensor *d_out, uint32_t flags,
                               clsp_tensor **d_in, float *d_weights, float *d_bias,
                               clsp_conv_stats *stats) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (d_in) *d_in = NULL;
  clsp_status st = clsp__conv_check_args(ctx, rb, in, w);
  if (st == CLSP_SUCCESS) st = check_grad(ctx, rb, w, d_out);
  if (st == CLSP_SUCCESS && (in->half || d_out->half))
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                    "%s: float16 storage (a model's) has no backward pass",
                    in->half ? "in" : "d_out");
  /* Every backward path reads the tap-major pairs (the swapped view and
   * its fused list, the dW kernels). */
  if (st == CLSP_SUCCESS) st = clsp__rulebook_pairs(ctx, rb);
  if (st != CLSP_SUCCESS) return st;
  clsp_conv_stats local = {0};
  if (d_in) st = backward_data(ctx, rb, in, w, d_out, flags, d_in, stats ? &local : NULL);
  span s = {.timed = stats != NULL && ctx->profiling};
  if (st == CLSP_SUCCESS && d_weights)
    st = backward_weights(ctx, rb, in, w, d_out, flags, d_weights, &s);
  if (st == CLSP_SUCCESS && d_bias) st = backward_bias(ctx, d_out, d_bias, &s);
  span_finish(ctx, &s, &local);
  if (st != CLSP_SUCCESS && d_in) {
    clsp_tensor_destroy(*d_in);
    *d_in = NULL;
  }
  if (st == CLSP_SUCCESS && stats) *stats = local;
  return st;
}
