/* SPDX-License-Identifier: Apache-2.0 */
/* Convolution weights: the device-side handle and the host converters
 * from PyTorch and spconv layouts to the native [tap][c_in][c_out]. */
#include <stdlib.h>
#include "conv_stages.h"
#include "clspconv/train.h"

static clsp_status check_sizes(clsp_context *ctx, size_t kvol, size_t cin, size_t cout,
                               size_t *elems) {
  if (kvol == 0 || cin == 0 || cout == 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "kernel_volume = %zu, c_in = %zu, c_out = %zu: all must be "
                      "positive",
                      kvol, cin, cout);
  size_t per_tap;
  /* Kernels index weights with 32-bit arithmetic. */
  if (!clsp__mul_size(cin, cout, &per_tap) || !clsp__mul_size(per_tap, kvol, elems) ||
      *elems > UINT32_MAX)
    return clsp__fail(ctx, CLSP_ERROR_TOO_LARGE,
                      "weights: kernel_volume x c_in x c_out = %zu x %zu x %zu exceeds "
                      "the 32-bit index range",
                      kvol, cin, cout);
  return CLSP_SUCCESS;
}

clsp_status clsp_weights_create(clsp_context *ctx, size_t kernel_volume, size_t c_in,
                                size_t c_out, const float *weights, const float *bias,
                                clsp_weights **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!weights) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "weights: NULL");
  size_t elems = 0;
  clsp_status st = check_sizes(ctx, kernel_volume, c_in, c_out, &elems);
  if (st != CLSP_SUCCESS) return st;
  clsp_weights *w = calloc(1, sizeof *w);
  if (!w) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "weights handle");
  *w = (clsp_weights){ctx, kernel_volume, c_in, c_out, NULL, NULL, 0};
  const cl_mem_flags flags = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
  st = clsp__buffer_create(ctx, flags, elems * sizeof(float), (void *)weights, "weights",
                           &w->weights);
  if (st == CLSP_SUCCESS && bias)
    st = clsp__buffer_create(ctx, flags, c_out * sizeof(float), (void *)bias, "bias",
                             &w->bias);
  if (st != CLSP_SUCCESS) {
    clsp_weights_destroy(w);
    return st;
  }
  *out = w;
  return CLSP_SUCCESS;
}

void clsp_weights_destroy(clsp_weights *w) {
  if (!w) return;
  clsp__buffer_release(w->ctx, &w->weights);
  clsp__buffer_release(w->ctx, &w->bias);
  free(w);
}

/* Index in `layout` of element (tap t, input channel i, output channel o). */
static size_t source_index(clsp_weight_layout layout, size_t kvol, size_t cin,
                           size_t cout, size_t t, size_t i, size_t o) {
  switch (layout) {
    case CLSP_LAYOUT_TORCH_CONV: return (o * cin + i) * kvol + t;
    case CLSP_LAYOUT_TORCH_TRANSPOSED: return (i * cout + o) * kvol + t;
    case CLSP_LAYOUT_SPCONV: return (o * kvol + t) * cin + i;
    default: return (t * cin + i) * cout + o;
  }
}

/* Native <-> `layout` copy; to_native picks the direction. */
static clsp_status convert(clsp_weight_layout layout, size_t kernel_volume, size_t c_in,
                           size_t c_out, const float *src, float *dst, int to_native) {
  if (!src || !dst || layout < CLSP_LAYOUT_NATIVE || layout > CLSP_LAYOUT_SPCONV)
    return CLSP_ERROR_INVALID_ARGUMENT;
  size_t elems = 0;
  if (check_sizes(NULL, kernel_volume, c_in, c_out, &elems) != CLSP_SUCCESS)
    return CLSP_ERROR_INVALID_ARGUMENT;
  /* Overlap would read already-overwritten values. */
  if (src < dst + elems && dst < src + elems) return CLSP_ERROR_INVALID_ARGUMENT;
  for (size_t t = 0; t < kernel_volume; t++)
    for (size_t i = 0; i < c_in; i++)
      for (size_t o = 0; o < c_out; o++) {
        size_t native = (t * c_in + i) * c_out + o;
        size_t other = source_index(layout, kernel_volume, c_in, c_out, t, i, o);
        if (to_native)
          dst[native] = src[other];
        else
          dst[other] = src[native];
      }
  return CLSP_SUCCESS;
}

clsp_status clsp_weights_convert(clsp_weight_layout layout, size_t kernel_volume,
                                 size_t c_in, size_t c_out, const float *src,
                                 float *dst) {
  return convert(layout, kernel_volume, c_in, c_out, src, dst, 1);
}

clsp_status clsp_weights_convert_back(clsp_weight_layout layout, size_t kernel_volume,
                                      size_t c_in, size_t c_out, const float *src,
                                      float *dst) {
  return convert(layout, kernel_volume, c_in, c_out, src, dst, 0);
}

const char *clsp_stage_name(clsp_stage stage) {
  static const char *const names[CLSP_STAGE_COUNT] = {"rulebook", "gather", "gemm",
                                                      "scatter", "other"};
  return (stage >= 0 && stage < CLSP_STAGE_COUNT) ? names[stage] : "unknown";
}
