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

/* The weight gradient in one pass, weight-stationary: a work-item owns
 * dW[t][i0 .. i0 + RI)[c0 .. c0 + V) of one tap t and accumulates
 *   dW[t][i][c] = sum over t's pairs p, in rulebook order, of
 *                 x[pair_in[p]][i] * dy[pair_out[p]][c]
 * in RI vector registers with fma(), then writes them once: no workspace,
 * no atomics, bit-identical run to run. Rows i0 = row0 + RI * block
 * (n_rblocks per tap), columns c0 = col0 + V * block (n_cblocks). Range:
 * kvol * n_rblocks * n_cblocks. */
#define CLSP_DW_KERNEL(NAME, V, RI, T)                                         \
  kernel void NAME(global const float *x, uint cin, global const float *dy,  \
                   uint cout, global const uint *pair_in,                    \
                   global const uint *pair_out, global const uint *start,    \
                   uint kvol, uint row0, uint n_rblocks, uint col0,          \
                   uint n_cblocks, global float *dw) {                       \
    size_t gid = get_global_id(0);                                           \
    uint per_tap = n_rblocks * n_cblocks;                                    \
    if (gid >= (size_t)kvol * per_tap) return;                               \
    uint t = (uint)(gid / per_tap);                                          \
    uint rem = (uint)(gid - (size_t)t * per_tap);                            \
    uint rblock = rem / n_cblocks;                                           \
    uint i0 = row0 + rblock * RI, c0 = col0 + (rem - rblock * n_cblocks) * V; \
    T a0 = (T)(0.0f), a1 = a0, a2 = a0, a3 = a0;                             \
    uint end = start[t + 1];                                                 \
    for (uint p = start[t]; p < end; p++) {                                  \
      global const float *xr = x + (size_t)pair_in[p] * cin + i0;            \
      T d = LOAD_##V(0, dy + (size_t)pair_out[p] * cout + c0);               \
      a0 = fma((T)(xr[0]), d, a0);                                           \
      if (RI > 1) a1 = fma((T)(xr[1]), d, a1);                               \
      if (RI > 2) a2 = fma((T)(xr[2]), d, a2);                               \
      if (RI > 3) a3 = fma((T)(xr[3]), d, a3);                               \
    }                                                                        \
    global float *o = dw + ((size_t)t * cin + i0) * cout + c0;               \
    STORE_##V(a0, 0, o);                                                     \
    if (RI > 1) STORE_##V(a1, 0, o + cout);                                  \
    if (RI > 2) STORE_##V(a2, 0, o + 2 * cout);                              \
    if (RI > 3) STORE_##V(a3, 0, o + 3 * cout);                              \
  }

/* Four input channels per work-item, and one for the c_in % 4 rest; the
 * columns in float16, float8, float4 and scalar slices. */
CLSP_DW_KERNEL(clsp_bw_dw_16x4, 16, 4, float16)
CLSP_DW_KERNEL(clsp_bw_dw_8x4, 8, 4, float8)
CLSP_DW_KERNEL(clsp_bw_dw_4x4, 4, 4, float4)
CLSP_DW_KERNEL(clsp_bw_dw_1x4, 1, 4, float)
CLSP_DW_KERNEL(clsp_bw_dw_16x1, 16, 1, float16)
CLSP_DW_KERNEL(clsp_bw_dw_8x1, 8, 1, float8)
CLSP_DW_KERNEL(clsp_bw_dw_4x1, 4, 1, float4)
CLSP_DW_KERNEL(clsp_bw_dw_1x1, 1, 1, float)
