/* SPDX-License-Identifier: Apache-2.0 */
/* Scatter stage and output initialisation of the sparse convolution.
 *
 * Atomic mode adds a whole chunk (several taps at once, which may hit the
 * same output row) with a float atomic add: the native one of
 * cl_ext_float_atomics when the host defines CLSP_FLOAT_ATOMIC_ADD=1 (the
 * program is then built as OpenCL C 2.0/3.0), else a 32-bit
 * compare-and-swap loop on the float's bits (OpenCL 1.2 core).
 * Deterministic mode adds one tap at a time with plain read-modify-write:
 * within a tap every output row appears at most once, and the in-order
 * queue fixes the order of the taps.
 * Each scatter kernel comes in an element shape (2D: channels, rows) and
 * a row shape (suffix _cpu, 1D over rows, looping over the channels), as
 * in gather.cl. */

#if CLSP_FLOAT_ATOMIC_ADD
/* Only compiled where the device reports global fp32 atomic add. */
void clsp_atomic_add_f32(global float *p, float v) {
  atomic_fetch_add_explicit((volatile global atomic_float *)p, v,
                            memory_order_relaxed, memory_scope_device);
}
#else
void clsp_atomic_add_f32(global float *p, float v) {
  volatile global uint *u = (volatile global uint *)p;
  /* First guess 0.0f (outputs start at zero or the bias): a wrong guess
   * costs one more round and returns the value, atomically. A plain load
   * would be a data race under the OpenCL memory model (oclgrind reports
   * it), however harmless its stale value. */
  uint expected = 0u;
  for (;;) {
    uint seen = atomic_cmpxchg(u, expected, as_uint(as_float(expected) + v));
    if (seen == expected) break;
    expected = seen;
  }
}
#endif

/* out[pair_out[begin + r]][c] += block[row][c] for the valid rows of every
 * member of a chunk (plan layout as in gather.cl). 2D: channels, rows. */
kernel void clsp_scatter_atomic(global const float *block, uint cout,
                                global const uint *pair_out,
                                global const uint *plan, uint plan_first,
                                uint rows, uint n_rows, global float *out) {
  uint c = get_global_id(0);
  uint row = get_global_id(1);
  if (c >= cout || row >= n_rows) return;
  uint r, begin, valid;
  clsp_plan_member(plan, plan_first, rows, row, &r, &begin, &valid);
  if (r >= valid) return;
  clsp_atomic_add_f32(out + pair_out[begin + r] * cout + c,
                      block[row * cout + c]);
}

/* One member: out[pair_out[begin + r]][c] += block[block_row + r][c] for
 * r < valid, without atomics. 2D: channels, rows. */
kernel void clsp_scatter_add(global const float *block, uint cout,
                             uint block_row, global const uint *pair_out,
                             uint begin, uint valid, global float *out) {
  uint c = get_global_id(0);
  uint r = get_global_id(1);
  if (c >= cout || r >= valid) return;
  uint o = pair_out[begin + r] * cout + c;
  out[o] += block[(block_row + r) * cout + c];
}

/* Row shape of clsp_scatter_atomic. */
kernel void clsp_scatter_atomic_cpu(global const float *block, uint cout,
                                    global const uint *pair_out,
                                    global const uint *plan, uint plan_first,
                                    uint rows, uint n_rows, global float *out) {
  uint row = get_global_id(0);
  if (row >= n_rows) return;
  uint r, begin, valid;
  clsp_plan_member(plan, plan_first, rows, row, &r, &begin, &valid);
  if (r >= valid) return;
  global float *dst = out + pair_out[begin + r] * cout;
  global const float *src = block + row * cout;
  for (uint c = 0; c < cout; c++) clsp_atomic_add_f32(dst + c, src[c]);
}

/* Row shape of clsp_scatter_add. */
kernel void clsp_scatter_add_cpu(global const float *block, uint cout,
                                 uint block_row, global const uint *pair_out,
                                 uint begin, uint valid, global float *out) {
  uint r = get_global_id(0);
  if (r >= valid) return;
  global float *dst = out + pair_out[begin + r] * cout;
  global const float *src = block + (block_row + r) * cout;
  for (uint c = 0; c < cout; c++) dst[c] += src[c];
}

/* out[i] = bias[i % cout] for i < n: the output's initial value. */
kernel void clsp_fill_bias(global float *out, global const float *bias,
                           uint cout, uint n) {
  uint i = get_global_id(0);
  if (i < n) out[i] = bias[i % cout];
}
