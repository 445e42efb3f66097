/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the convolution backward pass (src/pipeline/conv_backward.c):
 * the per-tap weight transpose for dX, the transposed gather for dW and the
 * fixed-order column sums for db. One work-item per output element; no
 * atomics. */

/* wt[t][o][i] = w[t][i][o], n = kvol * cin * cout. */
kernel void clsp_bw_transpose_weights(global const float *w, uint cin,
                                      uint cout, uint n, global float *wt) {
  uint e = get_global_id(0);
  if (e >= n) return;
  uint per = cin * cout;
  uint t = e / per, r = e - t * per;
  uint i = r / cout, o = r - i * cout;
  wt[t * per + o * cin + i] = w[e];
}

/* partial[b][c] = sum of rows [b * block, min((b + 1) * block, rows)) of
 * x[rows][cols], in row order. Range: n_blocks * cols. */
kernel void clsp_bw_column_partials(global const float *x, uint rows,
                                    uint cols, uint block, uint n_blocks,
                                    global float *partial) {
  uint e = get_global_id(0);
  if (e >= n_blocks * cols) return;
  uint b = e / cols, c = e - b * cols;
  uint end = min(rows, (b + 1) * block);
  float s = 0.0f;
  for (uint r = b * block; r < end; r++) s += x[r * cols + c];
  partial[e] = s;
}

/* sums[c] = sum over b of partial[b][c], in block order. Range: cols. */
kernel void clsp_bw_column_total(global const float *partial, uint cols,
                                 uint n_blocks, global float *sums) {
  uint c = get_global_id(0);
  if (c >= cols) return;
  float s = 0.0f;
  for (uint b = 0; b < n_blocks; b++) s += partial[b * cols + c];
  sums[c] = s;
}

/* block[c][r] = feats[pair[begin + r]][c] for r < rows: one tap's gathered
 * input rows, transposed (cols x rows), the A operand of the plain GEMM
 * dW_t = X_g^T dY_g. Range: rows * cols. */
kernel void clsp_bw_gather_transposed(global const float *feats, uint cols,
                                      global const uint *pair, uint begin,
                                      uint rows, global float *block) {
  uint e = get_global_id(0);
  if (e >= rows * cols) return;
  uint r = e / cols, c = e - r * cols;
  block[c * rows + r] = feats[pair[begin + r] * cols + c];
}
