/* SPDX-License-Identifier: Apache-2.0 */
/* Exclusive prefix sums and stream compaction.
 *
 * Work-efficient chunked scan: every work-item owns a contiguous chunk of
 * `chunk` elements and walks it serially (reduce -> scan of the chunk
 * sums, recursively on the host side -> apply). It needs no local memory
 * and no barriers, so it behaves the same on PoCL (items of a group run in
 * turn), llvmpipe (32 KiB local memory) and GPUs, and its result is exact
 * and deterministic. Chunks are contiguous, so the CPU devices read each
 * cache line once.
 *
 * Compaction of a selection array `sel` (CLSP_NONE_U32 = not selected) uses
 * the same chunks: count per chunk -> exclusive scan -> emit in order. */

/* sums[g] = data[g*chunk .. min(n, (g+1)*chunk)) summed. */
kernel void clsp_scan_reduce(global const uint *data, uint n, uint chunk,
                             global uint *sums, uint n_chunks) {
  uint g = get_global_id(0);
  if (g >= n_chunks) return;
  uint lo = g * chunk, hi = min(n, lo + chunk), s = 0;
  for (uint i = lo; i < hi; i++) s += data[i];
  sums[g] = s;
}

/* In-place exclusive scan of all n by one work-item: a scan of at most one
 * chunk (and the chunk sums of one up to chunk x chunk long), in one
 * launch. */
kernel void clsp_scan_one(global uint *data, uint n) {
  if (get_global_id(0) != 0) return;
  uint s = 0;
  for (uint i = 0; i < n; i++) {
    uint v = data[i];
    data[i] = s;
    s += v;
  }
}

/* In-place exclusive scan of each chunk, starting at offsets[g]. */
kernel void clsp_scan_apply(global uint *data, uint n, uint chunk,
                            global const uint *offsets, uint n_chunks) {
  uint g = get_global_id(0);
  if (g >= n_chunks) return;
  uint lo = g * chunk, hi = min(n, lo + chunk), s = offsets[g];
  for (uint i = lo; i < hi; i++) {
    uint v = data[i];
    data[i] = s;
    s += v;
  }
}

/* counts[g] = selected elements of chunk g, and counts[n_chunks] = 0 (the
 * total after the scan). */
kernel void clsp_compact_count(global const uint *sel, uint n, uint chunk,
                               global uint *counts, uint n_chunks) {
  uint g = get_global_id(0);
  if (g == 0) counts[n_chunks] = 0;
  if (g >= n_chunks) return;
  uint lo = g * chunk, hi = min(n, lo + chunk), s = 0;
  for (uint i = lo; i < hi; i++) s += sel[i] != CLSP_NONE_U32;
  counts[g] = s;
}

/* For every selected element i, in order: out_val[pos] = sel[i] and
 * (when out_idx is used, modulus > 0) out_idx[pos] = i % modulus;
 * offsets = exclusive scan of the chunk counts. */
kernel void clsp_compact_emit(global const uint *sel, uint n, uint chunk,
                              global const uint *offsets, uint n_chunks,
                              global uint *out_val, global uint *out_idx,
                              uint modulus) {
  uint g = get_global_id(0);
  if (g >= n_chunks) return;
  uint lo = g * chunk, hi = min(n, lo + chunk), pos = offsets[g];
  for (uint i = lo; i < hi; i++) {
    uint v = sel[i];
    if (v == CLSP_NONE_U32) continue;
    out_val[pos] = v;
    if (modulus) out_idx[pos] = i % modulus;
    pos++;
  }
}

/* positions[q] = number of selected elements before index q * stride
 * (q < n_q), i.e. the output position of that index. */
kernel void clsp_compact_positions(global const uint *sel, uint chunk,
                                   global const uint *offsets, uint stride,
                                   uint n_q, global uint *positions) {
  uint q = get_global_id(0);
  if (q >= n_q) return;
  uint idx = q * stride, g = idx / chunk, pos = offsets[g];
  for (uint i = g * chunk; i < idx; i++) pos += sel[i] != CLSP_NONE_U32;
  positions[q] = pos;
}

/* dst[first + i] = value for i < n. (A kernel rather than
 * clEnqueueFillBuffer: Oclgrind's uninitialized-value checker does not
 * count fills as initialisation.) */
kernel void clsp_fill_range_u32(global uint *dst, uint value, uint first,
                                uint n) {
  uint i = get_global_id(0);
  if (i < n) dst[first + i] = value;
}
