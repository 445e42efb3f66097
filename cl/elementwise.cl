/* SPDX-License-Identifier: Apache-2.0 */
/* Elementwise feature operations (ReLU, residual add, per-channel
 * affine; concatenation is a rectangular buffer copy, src/pipeline/ops.c).
 * One work-item per value. ReLU and add read
 * and write features in the program's storage (float, or float16 in the
 * half-storage build: vec.clh); the affine is float only. */

kernel void clsp_ew_relu(global STORE_T *x, uint n) {
  uint i = get_global_id(0);
  if (i < n) SSTORE_1(fmax(SLOAD_1(i, x), 0.0f), i, x);
}

kernel void clsp_ew_add(global STORE_T *a, global const STORE_T *b, uint n,
                        int relu) {
  uint i = get_global_id(0);
  if (i >= n) return;
  float s = SLOAD_1(i, a) + SLOAD_1(i, b);
  SSTORE_1(relu ? fmax(s, 0.0f) : s, i, a);
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
