/* SPDX-License-Identifier: Apache-2.0 */
/* GEMM stage: grouping of kernel taps by pair count and the CLBlast calls.
 *
 * Grouping (after TorchSparse's adaptive grouping): taps are sorted by
 * descending pair count; a group opens with the largest remaining tap and
 * takes the next ones while 1 - count/max <= CLSP_GROUP_BOUND. Every member
 * is padded to the group's max, so padding is bounded by
 * bound / (1 - bound) of the real rows (1/3 at 0.25); conv stats report
 * the actual gemm_rows vs pair_rows.
 *
 * CLBlast call: CLBlastSgemmStridedBatched (one member: CLBlastSgemm).
 * Its scalar alpha/beta and fixed strides need no host arrays, whereas
 * CLBlastSgemmBatched uploads its alpha/beta/offset arrays with blocking
 * writes on every call, i.e. a host round trip that drains the queue:
 * measured on PoCL pthread behind a queued 1024^3 GEMM, the batched call
 * held the host ~130 ms (until that GEMM finished), the strided one
 * returned after 0.02 ms.
 * Fixed strides need the members' weights at a fixed stride too: conv.c
 * passes the weights buffer itself when the members are consecutive taps,
 * else a per-call copy of the weights in sorted tap order. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <clblast_c.h>
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
    int opens = g == 0 ||
                1.0 - (double)taps[i].count / (double)groups[g - 1].max > bound;
    if (opens) groups[g++] = (clsp__group){(uint32_t)i, 0, taps[i].count};
    groups[g - 1].count++;
  }
  free(taps);
  *n_taps = n;
  *n_groups = g;
  return CLSP_SUCCESS;
}

static atomic_int clblast_used;

/* Live contexts in the process. CLBlast's program cache is process-wide:
 * clearing it while another context is inside a CLBlast call (or between
 * CLBlast's cache lookup and its use) would pull programs from under that
 * call, so the cache is cleared only when the last context goes, under a
 * lock that also serialises context registration. */
static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t live_contexts;

void clsp__gemm_context_opened(void) {
  pthread_mutex_lock(&clblast_lock);
  live_contexts++;
  pthread_mutex_unlock(&clblast_lock);
}

void clsp__gemm_context_closed(void) {
  pthread_mutex_lock(&clblast_lock);
  if (live_contexts > 0) live_contexts--;
  if (live_contexts == 0 && atomic_exchange(&clblast_used, 0)) CLBlastClearCache();
  pthread_mutex_unlock(&clblast_lock);
}

clsp_status clsp__gemm(clsp_context *ctx, size_t rows, size_t cin, size_t cout,
                       size_t batch, cl_mem a, size_t a_off, cl_mem b, size_t b_off,
                       float beta, cl_mem c, size_t c_off, cl_event *ev) {
  CLBlastStatusCode s;
  atomic_store(&clblast_used, 1);
  if (batch == 1)
    s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, rows,
                     cout, cin, 1.0f, a, a_off, cin, b, b_off, cout, beta, c, c_off, cout,
                     &ctx->queue, ev);
  else
    s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                   CLBlastTransposeNo, rows, cout, cin, 1.0f, a, a_off,
                                   cin, rows * cin, b, b_off, cout, cin * cout, beta, c,
                                   c_off, cout, rows * cout, batch, &ctx->queue, ev);
  if (s != CLBlastSuccess)
    return clsp__fail(ctx, (clsp_status)s,
                      "CLBlastSgemm%s(m = %zu, n = %zu, k = %zu, batch = %zu): %s (%d)",
                      batch == 1 ? "" : "StridedBatched", rows, cout, cin, batch,
                      clsp_status_string(s), (int)s);
  return CLSP_SUCCESS;
}
