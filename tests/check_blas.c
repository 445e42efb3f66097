/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels --bench: the conv layer through OpenBLAS on the host,
 * timed interleaved with the library's fused dataflow on the device, and
 * both against the device's FMA peak: the CPU-BLAS baseline of
 * BENCHMARKS.md's leading table. For each tap t the gathered input rows
 * X_t (pairs_t x Cin) times W_t (Cin x Cout) is one cblas_sgemm, whose
 * product is scatter-added into the output rows. "GEMM only" is the time
 * of the sgemm calls alone: the same GEMMs the gather -> GEMM -> scatter
 * dataflow runs, at OpenBLAS speed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkkernels.h"

#ifdef CK_HAVE_OPENBLAS
#include <cblas.h>

/* The layer on the host: pairs, weights, scratch and output. */
typedef struct blas_layer {
  size_t kvol, cin, cout, n_out, max_pairs;
  uint32_t *start, *in_rows, *out_rows;
  const float *x, *w, *bias;
  float *gathered, *prod, *y;
} blas_layer;

static void blas_free(blas_layer *b) {
  free(b->start);
  free(b->in_rows);
  free(b->out_rows);
  free(b->gathered);
  free(b->prod);
  free(b->y);
}

static int blas_open(ck_env *e, const clsp_rulebook *rb, const float *w,
                     const float *bias, blas_layer *b) {
  clsp_rulebook_info i;
  clsp_rulebook_describe(rb, &i);
  memset(b, 0, sizeof *b);
  b->kvol = i.kernel_volume;
  b->cin = e->cin;
  b->cout = e->cout;
  b->n_out = i.n_out;
  b->x = e->feats;
  b->w = w;
  b->bias = bias;
  size_t np = i.n_pairs ? i.n_pairs : 1;
  b->start = malloc((b->kvol + 1) * sizeof *b->start);
  b->in_rows = malloc(np * sizeof *b->in_rows);
  b->out_rows = malloc(np * sizeof *b->out_rows);
  b->y = malloc((b->n_out ? b->n_out : 1) * b->cout * sizeof *b->y);
  if (!b->start || !b->in_rows || !b->out_rows || !b->y ||
      clsp_rulebook_download(e->ctx, rb, b->start, b->in_rows, b->out_rows) !=
        CLSP_SUCCESS)
    return 0;
  for (size_t t = 0; t < b->kvol; t++) {
    size_t n = b->start[t + 1] - b->start[t];
    if (n > b->max_pairs) b->max_pairs = n;
  }
  size_t mp = b->max_pairs ? b->max_pairs : 1;
  b->gathered = malloc(mp * b->cin * sizeof *b->gathered);
  b->prod = malloc(mp * b->cout * sizeof *b->prod);
  return b->gathered && b->prod;
}

/* One forward; *gemm_ms gets the time spent inside cblas_sgemm. */
static void blas_forward(blas_layer *b, double *gemm_ms) {
  *gemm_ms = 0.0;
  for (size_t o = 0; o < b->n_out; o++)
    memcpy(b->y + o * b->cout, b->bias, b->cout * sizeof *b->y);
  for (size_t t = 0; t < b->kvol; t++) {
    size_t p0 = b->start[t], n = b->start[t + 1] - p0;
    if (!n) continue;
    for (size_t p = 0; p < n; p++)
      memcpy(b->gathered + p * b->cin, b->x + (size_t)b->in_rows[p0 + p] * b->cin,
             b->cin * sizeof *b->gathered);
    double t0 = ck_now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)b->cout,
                (int)b->cin, 1.0f, b->gathered, (int)b->cin, b->w + t * b->cin * b->cout,
                (int)b->cout, 0.0f, b->prod, (int)b->cout);
    *gemm_ms += ck_now_ms() - t0;
    for (size_t p = 0; p < n; p++) {
      float *dst = b->y + (size_t)b->out_rows[p0 + p] * b->cout;
      const float *src = b->prod + p * b->cout;
      for (size_t c = 0; c < b->cout; c++) dst[c] += src[c];
    }
  }
}

static void print_rate(const ck_env *e, const char *name, double ms, double gflop) {
  double rate = gflop / (ms * 1e-3);
  printf("    %-24s median %9.3f ms, %7.2f GFLOP/s", name, ms, rate);
  if (e->peak > 0) printf(" = %5.1f%% of the FMA peak", 100.0 * rate / e->peak);
  printf("\n");
}

int ck_time_openblas(ck_env *e, const ck_conv_case *fused, const float *w,
                     const float *bias, const double *ref, double gflop) {
  if (!e->bench) return 0;
  blas_layer b;
  int bad = !blas_open(e, fused->rb, w, bias, &b);
  double *t = calloc(3 * (size_t)e->reps, sizeof *t);
  bad = bad || !t;
  for (int r = -1; r < e->reps && !bad; r++) { /* r = -1: warm-up */
    double dms = 0.0, gemm = 0.0, t0 = ck_now_ms();
    bad = ck_conv_once(e, (void *)fused, &dms) != CLSP_SUCCESS ||
          clsp_context_finish(fused->ctx) != CLSP_SUCCESS;
    double t1 = ck_now_ms();
    blas_forward(&b, &gemm);
    double t2 = ck_now_ms();
    if (r >= 0) {
      t[r] = t1 - t0;
      t[e->reps + r] = t2 - t1;
      t[2 * e->reps + r] = gemm;
    }
  }
  if (!bad) {
    double err = ref_rel_error(b.y, ref, b.n_out * b.cout);
    printf("    %s (%d threads), ||out-ref||/||ref|| = %.2e; %d interleaved runs:\n",
           openblas_get_config(), openblas_get_num_threads(), err, e->reps);
    bad = !(err < 1e-5);
    double fused_ms = ck_median(t, e->reps), blas_ms = ck_median(t + e->reps, e->reps);
    double gemm_ms = ck_median(t + 2 * e->reps, e->reps);
    print_rate(e, "clspconv fused (device)", fused_ms, gflop);
    print_rate(e, "OpenBLAS gather+GEMM+add", blas_ms, gflop);
    print_rate(e, "OpenBLAS GEMM only", gemm_ms, gflop);
    printf(
      "    fused speed-up: %.2fx over OpenBLAS with gather/add, %.2fx over its GEMMs\n",
      blas_ms / fused_ms, gemm_ms / fused_ms);
  } else {
    printf("    OpenBLAS comparison failed: %s\n", clsp_context_last_error(fused->ctx));
  }
  free(t);
  blas_free(&b);
  return bad;
}

#else

int ck_time_openblas(ck_env *e, const ck_conv_case *fused, const float *w,
                     const float *bias, const double *ref, double gflop) {
  (void)fused, (void)w, (void)bias, (void)ref, (void)gflop;
  if (e->bench) printf("    OpenBLAS comparison skipped: built without OpenBLAS\n");
  return 0;
}

#endif
