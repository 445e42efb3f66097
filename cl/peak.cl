/* SPDX-License-Identifier: Apache-2.0 */
/* FMA throughput probe (src/pipeline/peak.c): CLSP_PEAK_CHAINS (12,
 * shared_defs.h) independent fma() chains per work-item, so that the FMA
 * units never wait on a result; the sum is stored so that nothing is
 * optimised away. s < 1 keeps values bounded. */

#define CLSP_PEAK_KERNEL(T, N)                                                \
  kernel void clsp_fma_peak_##N(global float *out, uint n, uint iters,      \
                                float s) {                                   \
    uint g = get_global_id(0);                                               \
    if (g >= n) return;                                                      \
    T m = (T)(s), c = (T)(1e-3f), a0 = (T)((float)(g & 7) * 1e-3f);          \
    T a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c;       \
    T a6 = a5 + c, a7 = a6 + c, a8 = a7 + c, a9 = a8 + c, a10 = a9 + c;      \
    T a11 = a10 + c;                                                         \
    for (uint i = 0; i < iters; i++) {                                       \
      a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c);            \
      a3 = fma(a3, m, c); a4 = fma(a4, m, c); a5 = fma(a5, m, c);            \
      a6 = fma(a6, m, c); a7 = fma(a7, m, c); a8 = fma(a8, m, c);            \
      a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c);        \
    }                                                                        \
    T sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) +              \
            ((a8 + a9) + (a10 + a11));                                       \
    vstore##N(sum, g, out);                                                  \
  }

CLSP_PEAK_KERNEL(float8, 8)
CLSP_PEAK_KERNEL(float16, 16)
