/* SPDX-License-Identifier: Apache-2.0 */
/* LSD radix sort of 64-bit keys (optionally carrying a uint value),
 * 4 bits per pass, only over the bits the key width uses.
 *
 * Each work-item owns a block of `block` consecutive keys: it counts the
 * block's digits (hist, digit-major: hist[d * n_blocks + b]), the host
 * scans hist exclusively, then the same item scatters its block in order
 * from its 16 offsets. Blocks in order + items in order = a stable sort,
 * exact and the same on every device, with no local memory or barriers. */

#define CLSP_RADIX 16u

kernel void clsp_radix_hist(global const ulong *keys, uint n, uint block,
                            uint shift, global uint *hist, uint n_blocks) {
  uint b = get_global_id(0);
  if (b >= n_blocks) return;
  uint c[CLSP_RADIX];
  for (uint d = 0; d < CLSP_RADIX; d++) c[d] = 0;
  uint lo = b * block, hi = min(n, lo + block);
  for (uint i = lo; i < hi; i++) c[(uint)(keys[i] >> shift) & 15u]++;
  for (uint d = 0; d < CLSP_RADIX; d++) hist[d * n_blocks + b] = c[d];
}

kernel void clsp_radix_scatter(global const ulong *keys,
                               global const uint *vals, uint n, uint block,
                               uint shift, global const uint *offsets,
                               uint n_blocks, global ulong *keys_out,
                               global uint *vals_out, uint has_vals) {
  uint b = get_global_id(0);
  if (b >= n_blocks) return;
  uint o[CLSP_RADIX];
  for (uint d = 0; d < CLSP_RADIX; d++) o[d] = offsets[d * n_blocks + b];
  uint lo = b * block, hi = min(n, lo + block);
  for (uint i = lo; i < hi; i++) {
    ulong k = keys[i];
    uint p = o[(uint)(k >> shift) & 15u]++;
    keys_out[p] = k;
    if (has_vals) vals_out[p] = vals[i];
  }
}
