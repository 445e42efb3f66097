/* SPDX-License-Identifier: Apache-2.0 */
/* Model graph operations beyond elementwise.cl: sparse-to-dense scatter,
 * dense axis permutation, the activations SparseConvolution nodes may
 * fuse (sigmoid, leaky ReLU) and float16 conversions. One work-item per
 * output value. Sparse features are in the program's storage (vec.clh);
 * dense tensors are float. */

/* dense[b, c, a0, a1, ...] = feats[r, c] for site r = (b, a0, a1, ...):
 * the spatial axes in the tensor's order ("zyx"), or reversed when
 * `reverse` is set ("xyz"). Cells without a site stay as the host filled
 * them (zero). Coordinates were validated when the tensor was made. */
kernel void clsp_dense_scatter(global const int *coords,
                               global const STORE_T *feats, uint n_sites,
                               uint channels, int ndim, int reverse,
                               int4 shape, global float *dense) {
  uint i = get_global_id(0);
  if (i >= n_sites * channels) return;
  uint r = i / channels, c = i - r * channels;
  global const int *row = coords + (size_t)r * (size_t)(1 + ndim);
  int sh[4] = {shape.s0, shape.s1, shape.s2, shape.s3};
  size_t idx = (size_t)row[0] * channels + c;
  for (int j = 0; j < ndim; j++) {
    int a = reverse ? ndim - 1 - j : j;
    idx = idx * (size_t)sh[a] + (size_t)row[1 + a];
  }
  dense[idx] = SLOAD_1(i, feats);
}

/* out = in with its axes permuted: out has dims out_dims[0..ndims) and
 * out element (o0, o1, ...) reads in at sum_k o_k * in_stride[k], where
 * in_stride[k] is the input stride of the axis that becomes output axis
 * k. At most 8 axes, each uint4 pair holding axes 0-3 and 4-7 (the rest
 * 1 / 0). */
kernel void clsp_dense_permute(global const float *in, global float *out,
                               uint n, int ndims, uint4 dims_lo, uint4 dims_hi,
                               uint4 stride_lo, uint4 stride_hi) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint d[8] = {dims_lo.s0, dims_lo.s1, dims_lo.s2, dims_lo.s3,
               dims_hi.s0, dims_hi.s1, dims_hi.s2, dims_hi.s3};
  uint s[8] = {stride_lo.s0, stride_lo.s1, stride_lo.s2, stride_lo.s3,
               stride_hi.s0, stride_hi.s1, stride_hi.s2, stride_hi.s3};
  uint rest = i, src = 0;
  for (int k = ndims - 1; k >= 0; k--) {
    uint q = rest / d[k];
    src += (rest - q * d[k]) * s[k];
    rest = q;
  }
  out[i] = in[src];
}

/* x = x rounded to the nearest float16 (ties to even; beyond 65504 to
 * +-inf), kept as float32: the conversion of a declared-FLOAT16 model
 * input. vstore_half_rte / vload_half are core OpenCL 1.2 (no
 * cl_khr_fp16 needed); the half goes through a private ushort. */
kernel void clsp_ew_round_half(global float *x, uint n) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ushort h = 0;
  vstore_half_rte(x[i], 0, (private half *)&h);
  x[i] = vload_half(0, (private const half *)&h);
}

kernel void clsp_ew_sigmoid(global STORE_T *x, uint n) {
  uint i = get_global_id(0);
  if (i < n) SSTORE_1(1.0f / (1.0f + exp(-SLOAD_1(i, x))), i, x);
}

kernel void clsp_ew_leaky_relu(global STORE_T *x, uint n, float alpha) {
  uint i = get_global_id(0);
  if (i >= n) return;
  float v = SLOAD_1(i, x);
  SSTORE_1(v < 0.0f ? v * alpha : v, i, x);
}

/* Storage conversions of the half-storage features (tensor.c): y = x
 * rounded to the nearest float16 (ties to even), and back (exact). */
kernel void clsp_ew_to_half(global const float *x, global half *y, uint n) {
  uint i = get_global_id(0);
  if (i < n) vstore_half_rte(x[i], i, y);
}

kernel void clsp_ew_to_float(global const half *x, global float *y, uint n) {
  uint i = get_global_id(0);
  if (i < n) y[i] = vload_half(i, x);
}
