/* SPDX-License-Identifier: Apache-2.0 */
/* Float16 storage of features and weights (a model's
 * CLSP_MODEL_FLOAT16_STORAGE): the conversions, by the kernels of
 * cl/dense.cl (vstore_half_rte / vload_half, core OpenCL 1.2). The
 * half-storage kernels themselves are the float ones built with
 * -DCLSP_HALF_STORAGE=1 (cl/vec.clh, programs.c). */
#include "conv_stages.h"

/* dst (n values, `to_half` ? float16 : float) = src converted. */
static clsp_status convert(clsp_context *ctx, cl_mem src, cl_mem dst, size_t n,
                           int to_half) {
  if (n == 0) return CLSP_SUCCESS;
  cl_uint count = (cl_uint)n; /* n_sites x channels < 2^32: checked at creation */
  return CLSP_RUN(ctx, to_half ? CLSP_K_EW_TO_HALF : CLSP_K_EW_TO_FLOAT, clsp_items(n),
                  NULL, CLSP_A(src), CLSP_A(dst), CLSP_A(count));
}

clsp_status clsp__tensor_storage(clsp_context *ctx, const clsp_tensor *t, int half,
                                 clsp_tensor **out) {
  *out = NULL;
  const clsp_tensor_desc *d = &t->desc;
  size_t n = d->n_sites * d->channels, cols = 1 + (size_t)d->ndim;
  cl_mem c = NULL, f = NULL;
  clsp_status st =
    clsp__coords_copy(ctx, t->coords, d->n_sites * cols * sizeof(int32_t), &c);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (n ? n : 1) * (half ? 2 : 4), NULL,
                             half ? "float16 features" : "features", &f);
  if (st == CLSP_SUCCESS && half == t->half && n > 0) {
    cl_int err = clEnqueueCopyBuffer(ctx->queue, t->feats, f, 0, 0,
                                     n * clsp__feat_size(t), 0, NULL, NULL);
    if (err != CL_SUCCESS) st = clsp__cl_fail(ctx, err, "copying features");
  } else if (st == CLSP_SUCCESS && half != t->half) {
    st = convert(ctx, t->feats, f, n, half);
  }
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &c);
    clsp__buffer_release(ctx, &f);
    return st;
  }
  clsp_tensor_desc nd = *d;
  nd.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
  st = clsp__tensor_adopt(ctx, &nd, c, f, t->sites_id, out);
  if (st == CLSP_SUCCESS) (*out)->half = half;
  return st;
}

clsp_status clsp__weights_to_half(clsp_context *ctx, clsp_weights *w) {
  if (w->half) return CLSP_SUCCESS;
  size_t n = w->kernel_volume * w->c_in * w->c_out;
  cl_mem h = NULL;
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, (n ? n : 1) * 2, NULL,
                                       "float16 weights", &h);
  if (st == CLSP_SUCCESS) st = convert(ctx, w->weights, h, n, 1);
  if (st != CLSP_SUCCESS) {
    clsp__buffer_release(ctx, &h);
    return st;
  }
  clsp__buffer_release(ctx, &w->weights); /* the pending conversion keeps it */
  w->weights = h;
  w->half = 1;
  return CLSP_SUCCESS;
}
