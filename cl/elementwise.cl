/* SPDX-License-Identifier: Apache-2.0 */
/* Elementwise feature operations (ReLU, residual add, concatenation,
 * per-channel affine). One work-item per float. */

kernel void clsp_ew_relu(global float *x, uint n) {
  uint i = get_global_id(0);
  if (i < n) x[i] = fmax(x[i], 0.0f);
}

kernel void clsp_ew_add(global float *a, global const float *b, uint n,
                        int relu) {
  uint i = get_global_id(0);
  if (i >= n) return;
  float s = a[i] + b[i];
  a[i] = relu ? fmax(s, 0.0f) : s;
}

/* out row r = [a row r (ca values), b row r (cb values)]. */
kernel void clsp_ew_concat(global const float *a, global const float *b,
                           uint rows, uint ca, uint cb, global float *out) {
  uint i = get_global_id(0);
  uint w = ca + cb;
  if (i >= rows * w) return;
  /* c from r without '%': Oclgrind's uninitialized-value checker cannot
   * run the 'freeze' LLVM inserts when it pairs a division and a
   * remainder of the same operands. */
  uint r = i / w, c = i - r * w;
  out[i] = c < ca ? a[r * ca + c] : b[r * cb + (c - ca)];
}

/* x[r, c] = x[r, c] * scale[c] + shift[c]. */
kernel void clsp_ew_scale_shift(global float *x, global const float *scale,
                                global const float *shift, uint n,
                                uint channels) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint c = i % channels;
  x[i] = x[i] * scale[c] + shift[c];
}
