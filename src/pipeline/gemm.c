/* SPDX-License-Identifier: Apache-2.0 */
/* GEMM stage: grouping of kernel taps by pair count.
 *
 * Grouping (after TorchSparse's adaptive grouping): taps are sorted by
 * descending pair count; a group opens with the largest remaining tap and
 * takes the next ones while 1 - count/max <= CLSP_GROUP_BOUND. Every member
 * is padded to the group's max, so padding is bounded by
 * bound / (1 - bound) of the real rows (1/3 at 0.25); conv stats report
 * the actual gemm_rows vs pair_rows.
 *
 * Each group runs as one CLBlastSgemmStridedBatched call (src/core/blas.c:
 * clsp__gemm), whose fixed strides need the members' weights at a fixed
 * stride too: conv.c
 * passes the weights buffer itself when the members are consecutive taps,
 * else a per-call copy of the weights in sorted tap order. */
#include <stdlib.h>
#include "conv_stages.h"

typedef struct tap_count {
  uint32_t tap, count;
} tap_count;

static int by_count_desc(const void *pa, const void *pb) {
  const tap_count *a = pa, *b = pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return (a->tap > b->tap) - (a->tap < b->tap);
}

clsp_status clsp__group_taps(clsp_context *ctx, const uint32_t *start, size_t kvol,
                             long skip, double bound, uint32_t *order, size_t *n_taps,
                             clsp__group *groups, size_t *n_groups) {
  tap_count *taps = malloc(kvol * sizeof *taps);
  if (!taps) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "tap grouping");
  size_t n = 0;
  for (size_t t = 0; t < kvol; t++) {
    uint32_t count = start[t + 1] - start[t];
    if ((long)t != skip && count > 0) taps[n++] = (tap_count){(uint32_t)t, count};
  }
  qsort(taps, n, sizeof *taps, by_count_desc);
  size_t g = 0;
  for (size_t i = 0; i < n; i++) {
    order[i] = taps[i].tap;
    int opens = g == 0 || 1.0 - (double)taps[i].count / (double)groups[g - 1].max > bound;
    if (opens) groups[g++] = (clsp__group){(uint32_t)i, 0, taps[i].count};
    groups[g - 1].count++;
  }
  free(taps);
  *n_taps = n;
  *n_groups = g;
  return CLSP_SUCCESS;
}
