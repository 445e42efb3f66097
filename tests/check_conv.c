/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels: convolution (gather -> GEMM -> scatter, atomic and
 * deterministic, and the fused dataflow; timed interleaved with --bench,
 * every fused tile with --tiles: check_fused.c) against ref_conv_dense,
 * and the element-wise ops against plain C; CLBlast parameter overrides
 * for GEMM experiments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <clblast_c.h>
#include "checkkernels.h"

#define CONV_TOL 1e-5

#define CK_MAX_PARAMS 24

/* "KERNEL:NAME=V,NAME=V,..." (a clblast_tuner_* result; every parameter
 * of the kernel, as CLBlast requires) applied with
 * CLBlastOverrideParameters; 1 when malformed or refused. */
static int override_from_spec(cl_device_id dev, const char *spec) {
  char buf[1024], kernel[64];
  const char *names[CK_MAX_PARAMS];
  size_t values[CK_MAX_PARAMS], n = 0;
  const char *colon = strchr(spec, ':');
  if (!colon || (size_t)(colon - spec) >= sizeof kernel || strlen(colon) >= sizeof buf)
    return 1;
  memcpy(kernel, spec, (size_t)(colon - spec));
  kernel[colon - spec] = 0;
  strcpy(buf, colon + 1);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < CK_MAX_PARAMS;
       t = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(t, '='), *end;
    if (!eq) return 1;
    *eq = 0;
    names[n] = t;
    values[n] = (size_t)strtoull(eq + 1, &end, 10);
    if (end == eq + 1 || *end) return 1;
    n++;
  }
  if (n == 0) return 1;
  CLBlastStatusCode s =
    CLBlastOverrideParameters(dev, kernel, CLBlastPrecisionSingle, n, names, values);
  printf("CLBlast: %s overridden (%zu parameters): %s\n", kernel, n,
         s == CLBlastSuccess ? "ok" : "refused");
  return s != CLBlastSuccess;
}

int ck_clblast_overrides(ck_env *e, int tuned_direct, int all_direct, const char *spec) {
  cl_device_id dev;
  if (clsp_context_cl(e->ctx, NULL, &dev, NULL) != CLSP_SUCCESS) return 1;
  /* Several kernels' sets separated by ';'. */
  char all[2048];
  if (spec && strlen(spec) >= sizeof all) return 1;
  if (spec) strcpy(all, spec);
  for (char *save = NULL, *one = spec ? strtok_r(all, ";", &save) : NULL; one;
       one = strtok_r(NULL, ";", &save))
    if (override_from_spec(dev, one)) return 1;
  /* The best XgemmDirect set clblast_tuner_xgemm_direct found on PoCL
   * pthread (AVX-512 EPYC, m 4096, n k 64): an experiment, not a default. */
  if (tuned_direct) {
    const char *names[] = {"WGD",  "MDIMCD", "NDIMCD", "MDIMAD", "NDIMBD",
                           "KWID", "VWMD",   "VWND",   "PADA",   "PADB"};
    const size_t values[] = {64, 32, 8, 8, 8, 2, 2, 1, 0, 1};
    if (CLBlastOverrideParameters(dev, "XgemmDirect", CLBlastPrecisionSingle, 10, names,
                                  values) != CLBlastSuccess)
      return 1;
  }
  /* Every GEMM of a layer through the direct kernel. */
  if (all_direct) {
    const char *names[] = {"XGEMM_MIN_INDIRECT_SIZE"};
    const size_t values[] = {4096};
    if (CLBlastOverrideParameters(dev, "GemmRoutine", CLBlastPrecisionSingle, 1, names,
                                  values) != CLBlastSuccess)
      return 1;
  }
  if (tuned_direct || all_direct)
    printf("CLBlast: %s XgemmDirect, %s\n", tuned_direct ? "tuned" : "default",
           all_direct ? "direct kernel for every size"
                      : "default direct/indirect switch");
  return 0;
}

clsp_status ck_conv_once(ck_env *e, void *arg, double *device_ms) {
  const ck_conv_case *c = arg;
  clsp_tensor *out = NULL;
  clsp_conv_stats s = {0};
  clsp_status st = clsp_conv_forward(c->ctx, c->rb, c->in, c->w, c->flags, &out, &s);
  (void)e;
  *device_ms = s.total_ms;
  clsp_tensor_destroy(out);
  return st;
}

/* The dataflows and scatter modes checked (and timed interleaved). */
static const ck_conv_mode MODES[CK_CONV_MODES] = {
  {"gemm atomic", CLSP_CONV_ATOMIC},
  {"gemm ordered", CLSP_CONV_GATHER_GEMM | CLSP_CONV_DETERMINISTIC},
  {"fused", CLSP_CONV_FUSED},
};

int ck_conv_mode_check(ck_env *e, const ck_conv_case *c, const char *mode,
                       const double *ref, size_t n_out) {
  clsp_tensor *out = NULL;
  clsp_conv_stats s = {0};
  size_t elems = n_out * e->cout;
  float *got = malloc((elems ? elems : 1) * sizeof *got);
  int bad =
    !got ||
    clsp_conv_forward(c->ctx, c->rb, c->in, c->w, c->flags, &out, &s) != CLSP_SUCCESS ||
    clsp_tensor_download(c->ctx, out, NULL, got) != CLSP_SUCCESS;
  double err = bad ? INFINITY : ref_rel_error(got, ref, elems);
  printf(
    "  %-13s ||out-ref||/||ref|| = %.2e (tolerance %.0e); %s, %zu GEMM groups, %zu "
    "chunks; device gather %.2f gemm %.2f scatter %.2f other %.2f ms\n",
    mode, err, CONV_TOL, s.fused ? "fused" : "gather-GEMM-scatter", s.gemm_groups,
    s.chunks, s.stage_ms[CLSP_STAGE_GATHER], s.stage_ms[CLSP_STAGE_GEMM],
    s.stage_ms[CLSP_STAGE_SCATTER], s.stage_ms[CLSP_STAGE_OTHER]);
  bad = bad || !(err < CONV_TOL) || s.fused != ((c->flags & CLSP_CONV_FUSED) != 0);
  clsp_tensor_destroy(out);
  free(got);
  return bad;
}

/* The reference output at the device rulebook's output sites. */
static double *conv_reference(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g,
                              const clsp_rulebook *rb, const float *w, const float *bias,
                              size_t *n_out) {
  clsp_rulebook_info i;
  clsp_rulebook_describe(rb, &i);
  int32_t *oc = malloc((i.n_out ? i.n_out : 1) * 16);
  double *ref = malloc((i.n_out ? i.n_out : 1) * e->cout * sizeof *ref);
  ref_geom rg = ck_ref_geom(g);
  if (!oc || !ref || clsp_rulebook_download_out_coords(e->ctx, rb, oc) != CLSP_SUCCESS ||
      ref_conv_dense((int)kind, &rg, e->vox.shape, 1, e->vox.n, e->vox.coords, e->feats,
                     e->cin, i.n_out, oc, e->cout, w, bias, ref) != 0) {
    free(ref);
    ref = NULL;
  }
  free(oc);
  *n_out = i.n_out;
  return ref;
}

static int conv_check(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g) {
  size_t kvol = (size_t)g->kernel[0] * g->kernel[1] * g->kernel[2], n_out = 0;
  float *w = ck_random_floats(kvol * e->cin * e->cout, e->seed + 2);
  float *bias = ck_random_floats(e->cout, e->seed + 3);
  ck_conv_case c = {0};
  c.ctx = e->ctx;
  c.in = e->in;
  double *ref = NULL;
  int bad =
    !w || !bias || clsp_rulebook_build(e->ctx, kind, g, e->in, &c.rb) != CLSP_SUCCESS ||
    clsp_weights_create(e->ctx, kvol, e->cin, e->cout, w, bias, &c.w) != CLSP_SUCCESS;
  if (!bad) bad = !(ref = conv_reference(e, kind, g, c.rb, w, bias, &n_out));
  if (!bad) {
    clsp_rulebook_info i;
    clsp_rulebook_describe(c.rb, &i);
    double gflop = 2e-9 * (double)i.n_pairs * (double)e->cin * (double)e->cout;
    printf("  %zu -> %zu sites, %zu pairs, %zu -> %zu channels, %.3f GFLOP\n", e->vox.n,
           n_out, i.n_pairs, e->cin, e->cout, gflop);
    ck_conv_case modes[CK_CONV_MODES];
    for (int m = 0; m < CK_CONV_MODES; m++) {
      modes[m] = c;
      modes[m].flags = MODES[m].flags;
      bad = ck_conv_mode_check(e, &modes[m], MODES[m].name, ref, n_out) || bad;
    }
    if (!bad) bad = ck_time_modes(e, MODES, modes, CK_CONV_MODES, gflop);
    for (int m = 0; m < CK_CONV_MODES && !bad; m++)
      if (MODES[m].flags & CLSP_CONV_FUSED)
        bad = ck_time_openblas(e, &modes[m], w, bias, ref, gflop);
    if (!bad && e->tiles) bad = ck_conv_tiles(e, kind, g, w, bias, ref, n_out, gflop);
  }
  clsp_weights_destroy(c.w);
  clsp_rulebook_destroy(c.rb);
  free(ref);
  free(w);
  free(bias);
  return bad;
}

int ck_conv_subm(ck_env *e) {
  return conv_check(e, CLSP_CONV_SUBMANIFOLD, &ck_geom_subm);
}

int ck_conv_regular(ck_env *e) {
  return conv_check(e, CLSP_CONV_REGULAR, &ck_geom_regular);
}

int ck_conv_transposed(ck_env *e) {
  return conv_check(e, CLSP_CONV_TRANSPOSED, &ck_geom_transposed);
}

/* ---- element-wise ops ---- */

/* got == want within 1e-6 of mag[i] (NULL: of |want[i]|): scale_shift
 * may round x * s + b once (fma) or twice. */
static int expect_feats(ck_env *e, const clsp_tensor *t, const float *want,
                        const float *mag, size_t n, const char *op) {
  float *got = malloc((n ? n : 1) * sizeof *got);
  int bad = !got || clsp_tensor_download(e->ctx, t, NULL, got) != CLSP_SUCCESS;
  for (size_t i = 0; !bad && i < n; i++)
    if (!(fabsf(got[i] - want[i]) <= 1e-6f * (mag ? mag[i] : fabsf(want[i])))) {
      printf("  %s: element %zu = %.9g, expected %.9g\n", op, i, (double)got[i],
             (double)want[i]);
      bad = 1;
    }
  free(got);
  return bad;
}

/* relu, add (a + a, then relu), scale_shift and concat on a copy of the
 * input tensor, against the same operations in C. */
int ck_ops(ck_env *e) {
  size_t ch = e->cin, n = e->vox.n * ch;
  clsp_tensor_desc d = {3,  {e->vox.shape[0], e->vox.shape[1], e->vox.shape[2], 1},
                        1,  e->vox.n,
                        ch, 0};
  float *want = malloc((2 * n + 1) * sizeof *want), *mag = malloc((n + 1) * sizeof *mag);
  float *scale = ck_random_floats(ch, e->seed + 4),
        *shift = ck_random_floats(ch, e->seed + 5);
  clsp_tensor *t = NULL, *cat = NULL;
  int bad = !want || !mag || !scale || !shift ||
            clsp_tensor_create(e->ctx, &d, e->vox.coords, e->feats, &t) != CLSP_SUCCESS;
  for (size_t i = 0; !bad && i < n; i++) want[i] = fmaxf(e->feats[i], 0.0f);
  bad = bad || clsp_relu(e->ctx, t, NULL) || expect_feats(e, t, want, NULL, n, "relu");
  for (size_t i = 0; !bad && i < n; i++) want[i] = fmaxf(want[i] + want[i], 0.0f);
  bad =
    bad || clsp_add(e->ctx, t, t, 1, NULL) || expect_feats(e, t, want, NULL, n, "add");
  for (size_t i = 0; !bad && i < n; i++) {
    double x = (double)want[i] * scale[i % ch];
    mag[i] = (float)(fabs(x) + fabs(shift[i % ch]));
    want[i] = (float)(x + shift[i % ch]);
  }
  bad = bad || clsp_scale_shift(e->ctx, t, scale, shift, NULL) ||
        expect_feats(e, t, want, mag, n, "scale_shift");
  for (size_t r = e->vox.n; !bad && r-- > 0;) { /* rows [x x], back to front */
    memmove(want + 2 * r * ch, want + r * ch, ch * sizeof *want);
    memcpy(want + (2 * r + 1) * ch, want + 2 * r * ch, ch * sizeof *want);
  }
  bad = bad || clsp_concat(e->ctx, t, t, &cat, NULL) ||
        expect_feats(e, cat, want, NULL, 2 * n, "concat");
  clsp_tensor_destroy(cat);
  clsp_tensor_destroy(t);
  free(want);
  free(mag);
  free(scale);
  free(shift);
  return bad;
}

const ck_check ck_checks[] = {
  {"voxelize_second", ck_voxelize_second},
  {"voxelize_minkunet", ck_voxelize_minkunet},
  {"hash", ck_hash},
  {"rulebook_subm", ck_rulebook_subm},
  {"rulebook_regular", ck_rulebook_regular},
  {"rulebook_transposed", ck_rulebook_transposed},
  {"conv_subm", ck_conv_subm},
  {"conv_regular", ck_conv_regular},
  {"conv_transposed", ck_conv_transposed},
  {"ops", ck_ops},
  {"fma_peak", ck_fma_peak},
};
const size_t ck_n_checks = sizeof ck_checks / sizeof ck_checks[0];
