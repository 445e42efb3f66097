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

/* CLBlast compiles its kernels inside the call that first needs them, once
 * per process (the OpenCL driver may cache the binaries across processes):
 * a call that held the host over a second says so, since the enqueue
 * itself returns in microseconds. */
static void note_slow_call(clsp_context *ctx, double t0) {
  double ms = clsp__now_ms() - t0;
  if (ms > 1000.0)
    clsp__log(ctx, CLSP_LOG_INFO,
              "compiling CLBlast's GEMM kernels for %s took %.1f s (first use in this "
              "process; clsp_context_warmup_launches does it up front)",
              ctx->caps.device_name, ms / 1000.0);
}

/* CLBlast 1.5.3's SgemmStridedBatched returns wrong results on its
 * indirect path (the one it picks above XGEMM_MIN_INDIRECT_SIZE: ~10^9
 * multiply-adds on PoCL, 128^3-192^3 on some Intel and ARM GPUs in its
 * database) when B's offset is not 0; plain Sgemm with an offset is right.
 * Found 2026-12-03: a KITTI SubM 64->64 layer with the indirect kernel
 * forced gave rel. error 1.08 (tests/meson.build: checkkernels_indirect).
 * So B (batch x cin x cout floats) is first copied to a buffer of its own
 * at offset 0; the in-order queue orders the copy, and the pending GEMM
 * keeps the buffer alive after its release here. */
static clsp_status b_at_offset_zero(clsp_context *ctx, size_t batch, size_t cin,
                                    size_t cout, cl_mem b, size_t b_off, cl_mem *out) {
  size_t bytes = batch * cin * cout * sizeof(float);
  clsp_status st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL,
                                       "GEMM B operand at offset 0", out);
  if (st != CLSP_SUCCESS) return st;
  cl_int err = clEnqueueCopyBuffer(ctx->queue, b, *out, b_off * sizeof(float), 0, bytes,
                                   0, NULL, NULL);
  if (err == CL_SUCCESS) return CLSP_SUCCESS;
  clsp__buffer_release(ctx, out);
  return clsp__cl_fail(ctx, err, "copying the GEMM B operand");
}

clsp_status clsp__gemm(clsp_context *ctx, size_t rows, size_t cin, size_t cout,
                       size_t batch, cl_mem a, size_t a_off, cl_mem b, size_t b_off,
                       float beta, cl_mem c, size_t c_off, cl_event *ev) {
  cl_mem b0 = NULL;
  if (batch > 1 && b_off != 0) {
    clsp_status st = b_at_offset_zero(ctx, batch, cin, cout, b, b_off, &b0);
    if (st != CLSP_SUCCESS) return st;
    b = b0;
    b_off = 0;
  }
  CLBlastStatusCode s;
  atomic_store(&clblast_used, 1);
  double t0 = clsp__now_ms();
  if (batch == 1)
    s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, rows,
                     cout, cin, 1.0f, a, a_off, cin, b, b_off, cout, beta, c, c_off, cout,
                     &ctx->queue, ev);
  else
    s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                   CLBlastTransposeNo, rows, cout, cin, 1.0f, a, a_off,
                                   cin, rows * cin, b, b_off, cout, cin * cout, beta, c,
                                   c_off, cout, rows * cout, batch, &ctx->queue, ev);
  note_slow_call(ctx, t0);
  clsp__buffer_release(ctx, &b0);
  if (s != CLBlastSuccess)
    return clsp__fail(ctx, (clsp_status)s,
                      "CLBlastSgemm%s(m = %zu, n = %zu, k = %zu, batch = %zu): %s (%d)",
                      batch == 1 ? "" : "StridedBatched", rows, cout, cin, batch,
                      clsp_status_string(s), (int)s);
  return CLSP_SUCCESS;
}

/* Edges of the GEMMs that warm-up runs: CLBlast picks its direct kernel
 * below about 384^3 multiply-adds (XGEMM_MIN_INDIRECT_SIZE) and its
 * indirect one above, copying operands whose sizes are multiples of its
 * tiles and padding the others, so a small, a large and a large odd shape
 * launch every kernel once (drivers such as PoCL compile at first launch). */
#define WARM_SMALL 8
#define WARM_LARGE 512
#define WARM_ODD 509

clsp_status clsp__blas_warmup(clsp_context *ctx) {
  const size_t n = WARM_LARGE, bytes = 2 * n * n * sizeof(float);
  cl_mem a = NULL, b = NULL, c = NULL;
  clsp_status st =
    clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "warm-up A", &a);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "warm-up B", &b);
  if (st == CLSP_SUCCESS)
    st = clsp__buffer_create(ctx, CL_MEM_READ_WRITE, bytes, NULL, "warm-up C", &c);
  /* The library's two routines (batch 1: Sgemm; batch 2: strided batched),
   * each at both edges. Operands are left as they are: only the compiled
   * kernels matter, and beta = 0 never reads C. */
  const size_t edge[3] = {WARM_SMALL, WARM_LARGE, WARM_ODD};
  for (int batch = 1; batch <= 2 && st == CLSP_SUCCESS; batch++)
    for (int e = 0; e < 3 && st == CLSP_SUCCESS; e++)
      st = clsp__gemm(ctx, edge[e], edge[e], edge[e], (size_t)batch, a, 0, b, 0, 0.0f, c,
                      0, NULL);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  clsp__buffer_release(ctx, &a);
  clsp__buffer_release(ctx, &b);
  clsp__buffer_release(ctx, &c);
  return st;
}
