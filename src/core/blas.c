/* SPDX-License-Identifier: Apache-2.0 */
/* The CLBlast adapter: the one GEMM entry point and the lifecycle of
 * CLBlast's process-wide program cache.
 *
 * CLBlastSgemmStridedBatched (one member: CLBlastSgemm): its scalar
 * alpha/beta and fixed strides need no host arrays, whereas
 * CLBlastSgemmBatched uploads its alpha/beta/offset arrays with blocking
 * writes on every call, i.e. a host round trip that drains the queue:
 * measured on PoCL pthread behind a queued 1024^3 GEMM, the batched call
 * held the host ~130 ms (until that GEMM finished), the strided one
 * returned after 0.02 ms. */
#include <pthread.h>
#include <stdatomic.h>
#include <clblast_c.h>
#include "internal.h"

static atomic_int clblast_used;

/* Live contexts in the process. CLBlast's program cache is process-wide:
 * clearing it while another context is inside a CLBlast call (or between
 * CLBlast's cache lookup and its use) would pull programs from under that
 * call, so the cache is cleared only when the last context goes, under a
 * lock that also serialises context registration. */
static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t live_contexts;

void clsp__blas_context_opened(void) {
  pthread_mutex_lock(&clblast_lock);
  live_contexts++;
  pthread_mutex_unlock(&clblast_lock);
}

void clsp__blas_context_closed(void) {
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
