/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels: the dataflow comparison of the conv checks (modes timed
 * interleaved against the FMA peak), every fused tile (--tiles), and the
 * FMA peak probe (clsp_device_fma_peak). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkkernels.h"

#define MAX_TILES 16

/* Median wall ms of each of n modes over e->reps interleaved rounds
 * (after one warm-up round) into med[]; nonzero when a call failed. */
static int interleaved_medians(ck_env *e, const ck_conv_case *cases, int n, double *med) {
  double *wall = calloc((size_t)e->reps * (size_t)n, sizeof *wall);
  int rc = !wall;
  for (int r = -1; r < e->reps && !rc; r++)
    for (int m = 0; m < n && !rc; m++) {
      double dms = 0.0, t0 = ck_now_ms();
      rc = ck_conv_once(e, (void *)&cases[m], &dms) != CLSP_SUCCESS ||
           clsp_context_finish(cases[m].ctx) != CLSP_SUCCESS;
      if (r >= 0) wall[(size_t)m * (size_t)e->reps + (size_t)r] = ck_now_ms() - t0;
    }
  for (int m = 0; m < n && !rc; m++)
    med[m] = ck_median(wall + (size_t)m * (size_t)e->reps, e->reps);
  free(wall);
  return rc;
}

static void print_median(const ck_env *e, const char *name, double ms, double gflop) {
  double rate = gflop / (ms * 1e-3);
  printf("    %-14s median %9.3f ms wall, %7.2f GFLOP/s", name, ms, rate);
  if (e->peak > 0) printf(" = %4.1f%% of the FMA peak", 100.0 * rate / e->peak);
  printf("  (%d interleaved runs)\n", e->reps);
}

int ck_time_modes(ck_env *e, const ck_conv_mode *modes, const ck_conv_case *cases, int n,
                  double gflop) {
  if (!e->bench) return 0;
  double med[CK_CONV_MODES] = {0};
  if (n > CK_CONV_MODES || interleaved_medians(e, cases, n, med)) {
    printf("    timing failed: %s\n", clsp_context_last_error(e->ctx));
    return 1;
  }
  int fused = -1;
  for (int m = 0; m < n; m++) {
    print_median(e, modes[m].name, med[m], gflop);
    if (modes[m].flags & CLSP_CONV_FUSED) fused = m;
  }
  for (int m = 0; fused >= 0 && m < n; m++)
    if (m != fused)
      printf("    fused speed-up over %s: %.2fx\n", modes[m].name, med[m] / med[fused]);
  return 0;
}

/* ---- tiles ---- */

typedef struct tile_run {
  char name[16];
  ck_conv_case c;
} tile_run;

/* A context with CLSP_FUSED_TILE=name and the layer's objects in it. */
static int tile_open(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g,
                     const float *w, const float *bias, tile_run *t) {
  size_t kvol = (size_t)g->kernel[0] * g->kernel[1] * g->kernel[2];
  clsp_context_options co = {0};
  clsp_tensor_desc d;
  co.device = e->device;
  co.flags = CLSP_CONTEXT_PROFILING;
  setenv("CLSP_FUSED_TILE", t->name, 1);
  int bad = clsp_context_create(&co, &t->c.ctx) != CLSP_SUCCESS;
  unsetenv("CLSP_FUSED_TILE");
  t->c.flags = CLSP_CONV_FUSED;
  bad =
    bad || clsp_tensor_describe(e->in, &d) != CLSP_SUCCESS ||
    clsp_tensor_create(t->c.ctx, &d, e->vox.coords, e->feats, &t->c.in) != CLSP_SUCCESS ||
    clsp_rulebook_build(t->c.ctx, kind, g, t->c.in, &t->c.rb) != CLSP_SUCCESS ||
    clsp_weights_create(t->c.ctx, kvol, e->cin, e->cout, w, bias, &t->c.w) !=
      CLSP_SUCCESS;
  return bad;
}

static void tile_close(tile_run *t) {
  clsp_weights_destroy(t->c.w);
  clsp_rulebook_destroy(t->c.rb);
  clsp_tensor_destroy(t->c.in);
  clsp_context_destroy(t->c.ctx);
}

/* The rulebook of a new context must list its outputs as e's does (the
 * reference is at those sites): same count here, same sites by
 * construction of the deterministic builder. */
static int same_outputs(const tile_run *t, size_t n_out) {
  clsp_rulebook_info i;
  return clsp_rulebook_describe(t->c.rb, &i) == CLSP_SUCCESS && i.n_out == n_out;
}

int ck_conv_tiles(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g,
                  const float *w, const float *bias, const double *ref, size_t n_out,
                  double gflop) {
  tile_run t[MAX_TILES];
  ck_conv_case cases[MAX_TILES];
  char list[256];
  int n = 0, bad = 0;
  snprintf(list, sizeof list, "%s", e->tiles);
  memset(t, 0, sizeof t);
  for (char *s = strtok(list, ","); s && n < MAX_TILES; s = strtok(NULL, ",")) {
    snprintf(t[n].name, sizeof t[n].name, "%s", s);
    int open_bad = tile_open(e, kind, g, w, bias, &t[n]) || !same_outputs(&t[n], n_out);
    char label[32];
    snprintf(label, sizeof label, "fused %.15s", t[n].name);
    bad = open_bad || ck_conv_mode_check(e, &t[n].c, label, ref, n_out) || bad;
    cases[n] = t[n].c;
    n++;
  }
  if (!bad && e->bench) {
    double med[MAX_TILES];
    bad = interleaved_medians(e, cases, n, med);
    for (int i = 0; !bad && i < n; i++) {
      char label[32];
      snprintf(label, sizeof label, "fused %.15s", t[i].name);
      print_median(e, label, med[i], gflop);
    }
  }
  for (int i = 0; i < n; i++) tile_close(&t[i]);
  return bad;
}

/* ---- FMA peak ---- */

/* clsp_device_fma_peak: a positive, finite rate, the same when asked
 * again (cached per device). The kernel's arithmetic is checked against a
 * double reference by the perf suite. */
int ck_fma_peak(ck_env *e) {
  double g = 0, again = 0;
  double t0 = ck_now_ms();
  int bad = clsp_device_fma_peak(e->ctx, &g) != CLSP_SUCCESS || !(g > 0) || !isfinite(g);
  double t1 = ck_now_ms();
  bad = bad || clsp_device_fma_peak(e->ctx, &again) != CLSP_SUCCESS || again != g;
  printf("  FMA peak %.1f GFLOP/s (first call %.0f ms: 0 when measured earlier)\n", g,
         t1 - t0);
  if (!bad) e->peak = g;
  return bad;
}
