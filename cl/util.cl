/* SPDX-License-Identifier: Apache-2.0 */
/* Small utility kernels used across the pipeline. */

/* dst[i] = value for i < n. */
kernel void clsp_fill_u32(global uint *dst, uint value, uint n) {
  uint i = get_global_id(0);
  if (i < n) dst[i] = value;
}

/* dst[i] = first + i for i < n. */
kernel void clsp_iota_u32(global uint *dst, uint first, uint n) {
  uint i = get_global_id(0);
  if (i < n) dst[i] = first + i;
}
