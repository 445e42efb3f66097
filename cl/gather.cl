/* SPDX-License-Identifier: Apache-2.0 */
/* Gather stage of the sparse convolution (see src/pipeline/conv.c).
 *
 * A chunk is a batch of `n_members` GEMM members (kernel taps, or a row
 * range of one tap); member j owns block rows [j * rows, (j + 1) * rows).
 * The plan (layout in shared_defs.h, decoded by clsp_plan_member) holds
 * each member's first pair index and number of valid rows. Rows past `valid` are padding of the batched GEMM: they
 * are written as zeros so that the block never holds stale data (the
 * scatter ignores them anyway).
 *
 * Two shapes of the same copy: one work-item per element (2D: channels,
 * rows; coalesced on GPUs) and one work-item per row looping over the
 * channels (1D; on CPU devices PoCL turns the row loop into vector copies,
 * ~8x faster there). The host picks by device type. */

/* block[row][c] = feats[pair_in[begin + r]][c] for valid rows, else 0.
 * 2D range: dim 0 channels, dim 1 block rows (n_members * rows). */
kernel void clsp_gather_rows(global const float *feats, uint cin,
                             global const uint *pair_in,
                             global const uint *plan, uint plan_first,
                             uint rows, uint n_rows, global float *block) {
  uint c = get_global_id(0);
  uint row = get_global_id(1);
  if (c >= cin || row >= n_rows) return;
  uint r, begin, valid;
  clsp_plan_member(plan, plan_first, rows, row, &r, &begin, &valid);
  float v = 0.0f;
  if (r < valid) v = feats[pair_in[begin + r] * cin + c];
  block[row * cin + c] = v;
}

/* Row shape of clsp_gather_rows: 1D over block rows. */
kernel void clsp_gather_rows_cpu(global const float *feats, uint cin,
                                 global const uint *pair_in,
                                 global const uint *plan, uint plan_first,
                                 uint rows, uint n_rows, global float *block) {
  uint row = get_global_id(0);
  if (row >= n_rows) return;
  uint r, begin, valid;
  clsp_plan_member(plan, plan_first, rows, row, &r, &begin, &valid);
  global float *dst = block + row * cin;
  if (r < valid) {
    global const float *src = feats + pair_in[begin + r] * cin;
    for (uint c = 0; c < cin; c++) dst[c] = src[c];
  } else {
    for (uint c = 0; c < cin; c++) dst[c] = 0.0f;
  }
}
