/* SPDX-License-Identifier: Apache-2.0 */
/* clsp conv --grad-out: the backward of the layer just run, from DY.npy
 * (rows in the order of --out-coords) to DX.npy (rows in the order of
 * --coords), DW.npy (in --weight-layout's element order) and DB.npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clsp.h"
#include "cmd_conv.h"

static int grad_fail(const char *what) {
  fprintf(stderr, "clsp conv: %s\n", what);
  return 0;
}

/* DY: float32, n_out x Cout. */
static int read_grad_out(const conv_args *a, size_t n_out, size_t cout,
                         clsp_npy_array *dy) {
  char err[512];
  if (clsp_npy_read(a->grad_out, dy, err, sizeof err) != 0) return grad_fail(err);
  if (dy->dtype == CLSP_NPY_F32 && dy->rank == 2 && dy->shape[0] == n_out &&
      dy->shape[1] == cout)
    return 1;
  fprintf(stderr,
          "clsp conv: %s: must be float32 %zu x %zu (the forward's output rows, in "
          "the order of --out-coords, x Cout), got %s rank %d %zu x %zu\n",
          a->grad_out, n_out, cout, dy->dtype == CLSP_NPY_F32 ? "float32" : "int32",
          dy->rank, dy->shape[0], dy->rank > 1 ? dy->shape[1] : (size_t)1);
  return 0;
}

static int write_npy(const char *path, int rank, size_t rows, size_t cols,
                     const float *v) {
  char err[512];
  size_t shape[2] = {rows, cols};
  if (clsp_npy_write(path, CLSP_NPY_F32, rank, shape, v, err, sizeof err) == 0) return 1;
  return grad_fail(err);
}

/* DX rows back in the order of --coords (an inverse conv's input tensor
 * lists its sites in the regular rulebook's order). */
static int write_grad_feats(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                            clsp_tensor *dx) {
  int width = 1 + a->ndim;
  size_t n = in->n;
  int32_t *sites = malloc((n ? n : 1) * (size_t)width * sizeof *sites);
  float *f = malloc((n ? n : 1) * in->cin * sizeof *f);
  float *rows = malloc((n ? n : 1) * in->cin * sizeof *rows);
  uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
  int ok = sites && f && rows && perm;
  clsp_status st = ok ? clsp_tensor_download(ctx, dx, sites, f) : CLSP_SUCCESS;
  if (st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "reading dX", st);
  if (ok && !(ok = conv_match_sites(sites, in->coords.data, n, width, perm)))
    grad_fail("dX sites differ from --coords (internal error)");
  for (size_t s = 0; ok && s < n; s++)
    memcpy(rows + (size_t)perm[s] * in->cin, f + s * in->cin, in->cin * sizeof *f);
  if (ok) ok = write_npy(a->grad_feats, 2, n, in->cin, rows);
  free(sites), free(f), free(rows), free(perm);
  return ok;
}

/* The layout the weights were read in (transposed kinds read torch
 * weights as ConvTranspose [Cin][Cout][k..]). */
static clsp_weight_layout weights_layout(const conv_args *a) {
  int transposed = a->kind == CLSP_CONV_TRANSPOSED || a->kind == CLSP_CONV_INVERSE;
  if (a->layout_family == CLSP_LAYOUT_TORCH_CONV && transposed)
    return CLSP_LAYOUT_TORCH_TRANSPOSED;
  return a->layout_family;
}

static int write_grad_weights(const conv_args *a, const conv_inputs *in,
                              const float *dw) {
  size_t total = in->kvol * in->cin * in->cout, first = in->weights.shape[0];
  float *out = malloc(total * sizeof *out);
  if (!out) return grad_fail("out of memory for dW");
  clsp_status st =
    clsp_weights_convert_back(weights_layout(a), in->kvol, in->cin, in->cout, dw, out);
  int ok = st == CLSP_SUCCESS || grad_fail("dW layout conversion failed");
  if (ok) ok = write_npy(a->grad_weights, 2, first, total / first, out);
  free(out);
  return ok;
}

int conv_write_grads(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                     const conv_run *r, const clsp_weights *w) {
  clsp_rulebook_info info;
  clsp_rulebook_describe(r->rb, &info);
  clsp_npy_array dy = {0};
  clsp_tensor *d_out = NULL, *dx = NULL;
  float *dw = a->grad_weights ? malloc(in->kvol * in->cin * in->cout * sizeof *dw) : NULL;
  float *db = a->grad_bias ? malloc(in->cout * sizeof *db) : NULL;
  int ok = (!a->grad_weights || dw) && (!a->grad_bias || db);
  if (!ok) grad_fail("out of memory for the gradients");
  if (ok) ok = read_grad_out(a, info.n_out, in->cout, &dy);
  clsp_status st = CLSP_SUCCESS;
  if (ok) st = clsp_tensor_create_on_output(ctx, r->rb, in->cout, dy.data, &d_out);
  if (ok && st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "--grad-out tensor", st);
  uint32_t flags = a->deterministic ? CLSP_CONV_DETERMINISTIC : 0;
  if (ok)
    st = clsp_conv_backward(ctx, r->rb, r->in, w, d_out, flags,
                            a->grad_feats ? &dx : NULL, dw, db, NULL);
  if (ok && st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "backward", st);
  if (ok && a->grad_feats) ok = write_grad_feats(ctx, a, in, dx);
  if (ok && a->grad_weights) ok = write_grad_weights(a, in, dw);
  if (ok && a->grad_bias) ok = write_npy(a->grad_bias, 1, in->cout, 1, db);
  if (ok) fprintf(stderr, "clsp conv: backward written\n");
  clsp_tensor_destroy(d_out);
  clsp_tensor_destroy(dx);
  clsp_npy_free(&dy);
  free(dw);
  free(db);
  return ok;
}
