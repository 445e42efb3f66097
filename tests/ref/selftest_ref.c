/* SPDX-License-Identifier: Apache-2.0 */
/* Standalone self-test of the CPU references (not part of the meson build):
 *   gcc -std=c11 -Wall -Wextra -O2 -o selftest_ref selftest_ref.c \
 *       selftest_grad.c ref_rulebook.c ref_conv.c ref_pool.c ref_voxel.c -lm
 *   ./selftest_ref [kitti_dir]      (default /work/shared/data/kitti)
 * Checks the KITTI voxel/rulebook numbers and cross-checks the independent
 * references against each other and against a brute-force enumeration. */
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "ref_conv.h"
#include "ref_rulebook.h"
#include "ref_voxel.h"
#include "selftest_grad.h"

static int n_pass, n_fail;

static void check(int ok, const char *fmt, const char *what, long got, long want) {
  if (ok)
    ++n_pass;
  else
    ++n_fail;
  printf("%s: ", ok ? "PASS" : "FAIL");
  printf(fmt, what, got, want);
  printf("\n");
}

static void check_eq(const char *what, long got, long want) {
  check(got == want, "%s = %ld (want %ld)", what, got, want);
}

/* ---------------------------------------------------------------- KITTI */

static void kitti_voxels(const char *dir, const char *name, long n_second, long n_mink,
                         ref_voxels *second) {
  char path[1024], what[128];
  float *pts = NULL;
  size_t n = 0;
  ref_voxels mk;
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  snprintf(what, sizeof what, "%s load", name);
  check_eq(what, ref_load_kitti_bin(path, &pts, &n), 0);
  snprintf(what, sizeof what, "%s SECOND voxels", name);
  check_eq(what, ref_voxelize_second(pts, n, 0, second) ? -1 : (long)second->n, n_second);
  snprintf(what, sizeof what, "%s MinkUNet voxels", name);
  check_eq(what, ref_voxelize_minkunet(pts, n, 0, &mk) ? -1 : (long)mk.n, n_mink);
  ref_voxels_free(&mk);
  free(pts);
}

static ref_geom geom3(int k0, int k1, int k2, int s0, int s1, int s2, int p0, int p1,
                      int p2) {
  ref_geom g = {3, {k0, k1, k2, 1}, {s0, s1, s2, 1}, {p0, p1, p2, 0}, {1, 1, 1, 1}};
  return g;
}

/* The SECOND middle-encoder chain: SubM at each level, then a downsample. */
static void kitti_chain(const char *name, const ref_voxels *vx, const long *sites,
                        const long *subm, const long *conv) {
  static const int32_t shapes[5][3] = {{41, 1600, 1408},
                                       {21, 800, 704},
                                       {11, 400, 352},
                                       {5, 200, 176},
                                       {2, 200, 176}};
  ref_geom down[4] = {geom3(3, 3, 3, 2, 2, 2, 1, 1, 1), geom3(3, 3, 3, 2, 2, 2, 1, 1, 1),
                      geom3(3, 3, 3, 2, 2, 2, 0, 1, 1), geom3(3, 1, 1, 2, 1, 1, 0, 0, 0)};
  ref_geom sub = geom3(3, 3, 3, 1, 1, 1, 1, 1, 1);
  char what[128];
  size_t n = vx->n;
  int32_t *coords = malloc(n * 4 * sizeof *coords);
  memcpy(coords, vx->coords, n * 4 * sizeof *coords);
  snprintf(what, sizeof what, "%s input shape is (41,1600,1408)", name);
  check_eq(what, memcmp(vx->shape, shapes[0], sizeof shapes[0]) == 0, 1);
  for (int lvl = 0; lvl < 5; ++lvl) {
    ref_rulebook rb;
    snprintf(what, sizeof what, "%s L%d sites", name, lvl);
    check_eq(what, (long)n, sites[lvl]);
    if (lvl < 4) {
      snprintf(what, sizeof what, "%s L%d SubM k3 pairs", name, lvl);
      int rc = ref_rulebook_build(REF_SUBM, &sub, shapes[lvl], 1, n, coords, &rb);
      check_eq(what, rc ? -1 : (long)rb.start[rb.kvol], subm[lvl]);
      ref_rulebook_free(&rb);
    }
    if (lvl == 4) break;
    int rc = ref_rulebook_build(REF_REGULAR, &down[lvl], shapes[lvl], 1, n, coords, &rb);
    snprintf(what, sizeof what, "%s L%d->L%d conv pairs", name, lvl, lvl + 1);
    check_eq(what, rc ? -1 : (long)rb.start[rb.kvol], conv[lvl]);
    snprintf(what, sizeof what, "%s L%d out shape matches", name, lvl + 1);
    check_eq(what, rc ? 0 : memcmp(rb.out_shape, shapes[lvl + 1], sizeof shapes[0]) == 0,
             1);
    free(coords);
    coords = rb.out_coords; /* take ownership of the next level's sites */
    n = rb.n_out;
    rb.out_coords = NULL;
    ref_rulebook_free(&rb);
  }
  free(coords);
}

/* ------------------------------------------------------- random inputs */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) /* xorshift64* */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static float rnd_float(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; }

static size_t grid_cells(int nd, const int32_t *shape) {
  size_t c = 1;
  for (int a = 0; a < nd; ++a) c *= (size_t)shape[a];
  return c;
}

/* Unique random sites: each grid cell of each batch kept with prob. ~dens%,
 * then shuffled so the input order is not sorted. */
static size_t random_sites(int nd, const int32_t *shape, int batch, int dens,
                           int32_t **coords_out) {
  size_t cells = grid_cells(nd, shape), n = 0;
  int32_t *c = malloc(cells * (size_t)batch * (size_t)(1 + nd) * sizeof *c);
  for (int b = 0; b < batch; ++b)
    for (size_t cell = 0; cell < cells; ++cell) {
      if (rnd_int(0, 99) >= dens) continue;
      int32_t *row = c + n * (size_t)(1 + nd);
      size_t rem = cell;
      row[0] = b;
      for (int a = nd - 1; a >= 0; --a) {
        row[1 + a] = (int32_t)(rem % (size_t)shape[a]);
        rem /= (size_t)shape[a];
      }
      ++n;
    }
  for (size_t j = n; j > 1; --j) { /* Fisher-Yates on rows */
    size_t k = rnd() % j;
    for (int a = 0; a <= nd; ++a) {
      int32_t tmp = c[(j - 1) * (size_t)(1 + nd) + (size_t)a];
      c[(j - 1) * (size_t)(1 + nd) + (size_t)a] = c[k * (size_t)(1 + nd) + (size_t)a];
      c[k * (size_t)(1 + nd) + (size_t)a] = tmp;
    }
  }
  *coords_out = c;
  return n;
}

/* Random geometry valid for kind (kind 3 uses a regular geometry). */
static int random_geom(int kind, int nd, const int32_t *shape, ref_geom *g,
                       int32_t *out_shape) {
  for (int tries = 0; tries < 1000; ++tries) {
    memset(g, 0, sizeof *g);
    g->ndim = nd;
    for (int a = 0; a < nd; ++a) {
      g->kernel[a] = kind == REF_SUBM ? 2 * rnd_int(0, 2) + 1 : rnd_int(1, 4);
      g->stride[a] = kind == REF_SUBM ? 1 : rnd_int(1, 3);
      g->dilation[a] = rnd_int(1, 2);
      g->padding[a] = rnd_int(0, g->kernel[a] - 1);
    }
    int k = kind == REF_INVERSE ? REF_REGULAR : kind;
    if (ref_out_shape(k, g, shape, out_shape) == 0) return 0;
  }
  return -1;
}

/* Does input coordinate i connect to output coordinate o at tap offsets ta?
 * The defining relation of each kind, checked literally per axis. */
static int relation(int kind, const ref_geom *g, const int32_t *i, const int32_t *o,
                    const int32_t *ta) {
  for (int a = 0; a < g->ndim; ++a) {
    int s = g->stride[a], p = g->padding[a], d = g->dilation[a];
    int c = (g->kernel[a] - 1) / 2;
    int ok = kind == REF_SUBM      ? i[a] == o[a] + (ta[a] - c) * d
             : kind == REF_REGULAR ? i[a] == o[a] * s - p + ta[a] * d
                                   : o[a] == i[a] * s - p + ta[a] * d;
    if (!ok) return 0;
  }
  return 1;
}

/* Brute force: enumerate every candidate output (grid cells in lexicographic
 * order, or the inputs for SubM) against every input and tap. */
static int brute_force_matches(int kind, const ref_geom *g, int batch,
                               const int32_t *out_shape, size_t n, const int32_t *coords,
                               const ref_rulebook *rb) {
  int nd = g->ndim, nd1 = 1 + nd;
  size_t kvol = ref_kernel_volume(g);
  size_t cells = kind == REF_SUBM ? n : grid_cells(nd, out_shape) * (size_t)batch;
  size_t n_out = 0, *fill = calloc(kvol, sizeof *fill);
  int ok = 1;
  for (size_t cell = 0; cell < cells && ok; ++cell) {
    int32_t o[5];
    if (kind == REF_SUBM) {
      memcpy(o, coords + cell * (size_t)nd1, (size_t)nd1 * sizeof *o);
    } else {
      size_t rem = cell;
      for (int a = nd - 1; a >= 0; --a) {
        o[1 + a] = (int32_t)(rem % (size_t)out_shape[a]);
        rem /= (size_t)out_shape[a];
      }
      o[0] = (int32_t)rem;
    }
    int active = kind == REF_SUBM;
    for (size_t t = 0; t < kvol; ++t) {
      int32_t ta[4];
      ref_tap_offsets(g, t, ta);
      for (size_t r = 0; r < n; ++r) {
        const int32_t *i = coords + r * (size_t)nd1;
        if (i[0] != o[0] || !relation(kind, g, i + 1, o + 1, ta)) continue;
        active = 1;
        size_t j = rb->start[t] + fill[t]++;
        ok =
          ok && j < rb->start[t + 1] && rb->in_rows[j] == r && rb->out_rows[j] == n_out;
      }
    }
    if (active) {
      ok = ok && n_out < rb->n_out &&
           memcmp(rb->out_coords + n_out * (size_t)nd1, o, (size_t)nd1 * sizeof *o) == 0;
      ++n_out;
    }
  }
  ok = ok && n_out == rb->n_out;
  for (size_t t = 0; t < kvol && ok; ++t) ok = fill[t] == rb->start[t + 1] - rb->start[t];
  free(fill);
  return ok;
}

static void random_shape(int nd, int32_t *shape) {
  int hi = nd == 4 ? 5 : nd == 3 ? 7 : nd == 2 ? 12 : 30;
  for (int a = 0; a < nd; ++a) shape[a] = rnd_int(1, hi);
}

static void test_brute_force(int trials) {
  int fails = 0;
  for (int tr = 0; tr < trials; ++tr) {
    int kind = tr % 3, nd = 1 + (tr / 3) % 4, batch = rnd_int(1, 2);
    int32_t shape[4], out_shape[4], *coords;
    ref_geom g;
    ref_rulebook rb;
    random_shape(nd, shape);
    size_t n = random_sites(nd, shape, batch, rnd_int(5, 60), &coords);
    if (random_geom(kind, nd, shape, &g, out_shape) != 0 ||
        ref_rulebook_build(kind, &g, shape, batch, n, coords, &rb) != 0) {
      ++fails;
    } else {
      fails += !brute_force_matches(kind, &g, batch, out_shape, n, coords, &rb);
      ref_rulebook_free(&rb);
    }
    free(coords);
  }
  check_eq("rulebook == brute-force enumeration (kinds 0-2, 1D-4D), failures", fails, 0);
}

/* Position of coordinate row c among rows, or -1 (linear scan). */
static long find_row(const int32_t *rows, size_t n, int nd1, const int32_t *c) {
  for (size_t r = 0; r < n; ++r)
    if (memcmp(rows + r * (size_t)nd1, c, (size_t)nd1 * sizeof *c) == 0) return (long)r;
  return -1;
}

typedef struct triple {
  uint32_t t, o, i;
} triple;

static int cmp_triple(const void *pa, const void *pb) {
  const triple *a = pa, *b = pb;
  if (a->t != b->t) return a->t < b->t ? -1 : 1;
  if (a->o != b->o) return a->o < b->o ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

/* (a) SubM == regular (stride 1, centred padding) restricted to outputs at
 * input sites, with output rows mapped to input order. */
static void test_subm_vs_regular(int trials) {
  int fails = 0;
  for (int tr = 0; tr < trials; ++tr) {
    int nd = 1 + tr % 4, batch = rnd_int(1, 2), nd1 = 1 + nd;
    int32_t shape[4], out_shape[4], *coords;
    ref_geom g;
    ref_rulebook sub, reg;
    random_shape(nd, shape);
    size_t n = random_sites(nd, shape, batch, rnd_int(5, 60), &coords);
    random_geom(REF_SUBM, nd, shape, &g, out_shape);
    ref_geom gr = g;
    for (int a = 0; a < nd; ++a) gr.padding[a] = g.dilation[a] * (g.kernel[a] - 1) / 2;
    int ok = ref_rulebook_build(REF_SUBM, &g, shape, batch, n, coords, &sub) == 0 &&
             ref_rulebook_build(REF_REGULAR, &gr, shape, batch, n, coords, &reg) == 0;
    size_t np = ok ? reg.start[reg.kvol] : 0, m = 0;
    triple *want = malloc((np ? np : 1) * sizeof *want);
    for (size_t t = 0; ok && t < reg.kvol; ++t)
      for (size_t j = reg.start[t]; j < reg.start[t + 1]; ++j) {
        long o = find_row(coords, n, nd1, reg.out_coords + reg.out_rows[j] * (size_t)nd1);
        if (o >= 0) want[m++] = (triple){(uint32_t)t, (uint32_t)o, reg.in_rows[j]};
      }
    qsort(want, m, sizeof *want, cmp_triple);
    ok = ok && sub.start[sub.kvol] == m && sub.n_out == n;
    for (size_t t = 0; ok && t < sub.kvol; ++t)
      for (size_t j = sub.start[t]; ok && j < sub.start[t + 1]; ++j)
        ok =
          want[j].t == t && want[j].o == sub.out_rows[j] && want[j].i == sub.in_rows[j];
    fails += !ok;
    free(want);
    ref_rulebook_free(&sub);
    ref_rulebook_free(&reg);
    free(coords);
  }
  check_eq("(a) SubM == regular(s=1, p=d(k-1)/2) at input sites, failures", fails, 0);
}

/* Sum over the rulebook's pairs, in double. */
static void conv_by_pairs(const ref_rulebook *rb, const float *x, size_t cin, size_t cout,
                          const float *w, const float *bias, double *out) {
  for (size_t r = 0; r < rb->n_out; ++r)
    for (size_t co = 0; co < cout; ++co) out[r * cout + co] = bias[co];
  for (size_t t = 0; t < rb->kvol; ++t)
    for (size_t j = rb->start[t]; j < rb->start[t + 1]; ++j)
      for (size_t ci = 0; ci < cin; ++ci)
        for (size_t co = 0; co < cout; ++co)
          out[rb->out_rows[j] * cout + co] +=
            (double)w[(t * cin + ci) * cout + co] * (double)x[rb->in_rows[j] * cin + ci];
}

static double rel_err_d(const double *a, const double *b, size_t n) {
  double num = 0, den = 0;
  for (size_t j = 0; j < n; ++j) {
    num += (a[j] - b[j]) * (a[j] - b[j]);
    den += b[j] * b[j];
  }
  return den == 0 ? (num == 0 ? 0 : INFINITY) : sqrt(num / den);
}

static float *random_floats(size_t n) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  for (size_t j = 0; j < n; ++j) f[j] = rnd_float();
  return f;
}

static size_t sum_outputs, sum_pairs; /* shows the trials are not empty */

/* One (b) trial; returns worst relative error (inf on setup failure). */
static double dense_vs_pairs_trial(int kind, int nd) {
  int batch = rnd_int(1, 2);
  size_t cin = (size_t)rnd_int(1, 5), cout = (size_t)rnd_int(1, 5);
  int32_t shape[4], out_shape[4], *coords;
  ref_geom g;
  ref_rulebook reg, rb;
  random_shape(nd, shape);
  size_t n = random_sites(nd, shape, batch, rnd_int(10, 70), &coords);
  if (random_geom(kind, nd, shape, &g, out_shape) != 0) {
    free(coords);
    return INFINITY;
  }
  int bkind = kind == REF_INVERSE ? REF_REGULAR : kind;
  int rc = ref_rulebook_build(bkind, &g, shape, batch, n, coords, &reg);
  if (rc == 0 && kind == REF_INVERSE)
    rc = ref_rulebook_inverse(&reg, n, coords, &rb);
  else if (rc == 0)
    rb = reg, memset(&reg, 0, sizeof reg);
  double err = INFINITY;
  if (rc == 0) {
    /* Inverse is fed the regular conv's output sites and shape. */
    const int32_t *in_c = kind == REF_INVERSE ? reg.out_coords : coords;
    const int32_t *in_s = kind == REF_INVERSE ? reg.out_shape : shape;
    size_t n_in = kind == REF_INVERSE ? reg.n_out : n;
    float *x = random_floats(n_in * cin);
    float *w = random_floats(ref_kernel_volume(&g) * cin * cout);
    float *bias = random_floats(cout);
    double *a = malloc((rb.n_out ? rb.n_out : 1) * cout * sizeof *a);
    double *b = malloc((rb.n_out ? rb.n_out : 1) * cout * sizeof *b);
    conv_by_pairs(&rb, x, cin, cout, w, bias, a);
    if (ref_conv_dense(kind, &g, in_s, batch, n_in, in_c, x, cin, rb.n_out, rb.out_coords,
                       cout, w, bias, b) == 0)
      err = rel_err_d(b, a, rb.n_out * cout);
    sum_outputs += rb.n_out;
    sum_pairs += rb.start[rb.kvol];
    free(x), free(w), free(bias), free(a), free(b);
    ref_rulebook_free(&rb);
  }
  ref_rulebook_free(&reg);
  free(coords);
  return err;
}

static void test_dense_vs_pairs(int trials) {
  static const char *names[4] = {"subm", "regular", "transposed", "inverse"};
  for (int kind = 0; kind < 4; ++kind)
    for (int nd = 1; nd <= 4; ++nd) {
      double worst = 0;
      sum_outputs = sum_pairs = 0;
      for (int tr = 0; tr < trials; ++tr) {
        double e = dense_vs_pairs_trial(kind, nd);
        if (!(e <= worst)) worst = e; /* NaN/inf propagate as failures */
      }
      char what[96];
      snprintf(what, sizeof what, "(b) dense == pairs, %s %dD", names[kind], nd);
      int ok = worst <= 1e-12 && sum_pairs > 0;
      ++*(ok ? &n_pass : &n_fail);
      printf("%s: %s, worst rel err %.3g (tol 1e-12; %zu sites, %zu pairs)\n",
             ok ? "PASS" : "FAIL", what, worst, sum_outputs, sum_pairs);
    }
}

/* KITTI-scale (b): SubM, the first downsample and its inverse on real
 * voxels with their mean features (Cin 4, Cout 16). */
static void kitti_dense(const char *name, const ref_voxels *vx) {
  static const char *names[4] = {"subm", "regular", "", "inverse"};
  static const int kinds[3] = {REF_SUBM, REF_REGULAR, REF_INVERSE};
  ref_geom g[3] = {geom3(3, 3, 3, 1, 1, 1, 1, 1, 1), geom3(3, 3, 3, 2, 2, 2, 1, 1, 1),
                   geom3(3, 3, 3, 2, 2, 2, 1, 1, 1)};
  size_t cin = 4, cout = 16;
  for (int v = 0; v < 3; ++v) {
    int kind = kinds[v];
    ref_rulebook reg, rb;
    float *w = random_floats(27 * cin * cout), *bias = random_floats(cout);
    int rc = ref_rulebook_build(kind == REF_INVERSE ? REF_REGULAR : kind, &g[v],
                                vx->shape, 1, vx->n, vx->coords, &reg);
    if (rc == 0 && kind == REF_INVERSE)
      rc = ref_rulebook_inverse(&reg, vx->n, vx->coords, &rb);
    else if (rc == 0)
      rb = reg, memset(&reg, 0, sizeof reg);
    double err = INFINITY;
    if (rc == 0) {
      /* The inverse is fed the downsampled sites with random features. */
      int inv = kind == REF_INVERSE;
      float *x = inv ? random_floats(reg.n_out * cin) : vx->feats;
      double *a = malloc(rb.n_out * cout * sizeof *a);
      double *b = malloc(rb.n_out * cout * sizeof *b);
      conv_by_pairs(&rb, x, cin, cout, w, bias, a);
      if (ref_conv_dense(kind, &g[v], inv ? reg.out_shape : vx->shape, 1,
                         inv ? reg.n_out : vx->n, inv ? reg.out_coords : vx->coords, x,
                         cin, rb.n_out, rb.out_coords, cout, w, bias, b) == 0)
        err = rel_err_d(b, a, rb.n_out * cout);
      if (inv) free(x);
      free(a), free(b);
    }
    char what[96];
    snprintf(what, sizeof what, "%s dense == pairs, %s k3 (KITTI scale)", name,
             names[kind]);
    int ok = err <= 1e-12;
    ++*(ok ? &n_pass : &n_fail);
    printf("%s: %s, rel err %.3g\n", ok ? "PASS" : "FAIL", what, err);
    ref_rulebook_free(&rb);
    ref_rulebook_free(&reg);
    free(w), free(bias);
  }
}

/* (c) derive torch/spconv layouts from a native tensor by explicit index
 * formulas, then convert back with the library converters. */
static void test_weight_converters(void) {
  size_t k[3] = {3, 2, 5}, kvol = 30, cin = 4, cout = 7;
  size_t sz = kvol * cin * cout;
  float *nat = random_floats(sz), *src = malloc(sz * sizeof *src);
  float *back = malloc(sz * sizeof *back);
  const char *names[3] = {"torch", "torch transposed", "spconv"};
  for (int v = 0; v < 3; ++v) {
    for (size_t a = 0; a < k[0]; ++a)
      for (size_t b = 0; b < k[1]; ++b)
        for (size_t c = 0; c < k[2]; ++c)
          for (size_t ci = 0; ci < cin; ++ci)
            for (size_t co = 0; co < cout; ++co) {
              size_t t = (a * k[1] + b) * k[2] + c, dst;
              if (v == 0) /* [Cout][Cin][k0][k1][k2] */
                dst = (((co * cin + ci) * k[0] + a) * k[1] + b) * k[2] + c;
              else if (v == 1) /* [Cin][Cout][k0][k1][k2] */
                dst = (((ci * cout + co) * k[0] + a) * k[1] + b) * k[2] + c;
              else /* [Cout][k0][k1][k2][Cin] */
                dst = (((co * k[0] + a) * k[1] + b) * k[2] + c) * cin + ci;
              src[dst] = nat[(t * cin + ci) * cout + co];
            }
    memset(back, 0, sz * sizeof *back);
    if (v == 0)
      ref_weights_from_torch(src, kvol, cin, cout, back);
    else if (v == 1)
      ref_weights_from_torch_transposed(src, kvol, cin, cout, back);
    else
      ref_weights_from_spconv(src, kvol, cin, cout, back);
    char what[64];
    snprintf(what, sizeof what, "(c) %s -> native round trip, mismatches", names[v]);
    long bad = 0;
    for (size_t j = 0; j < sz; ++j) bad += back[j] != nat[j];
    check_eq(what, bad, 0);
  }
  free(nat), free(src), free(back);
}

static void test_rel_error(void) {
  float f[2] = {1.0f, 2.0f}, z[2] = {0, 0};
  double r[2] = {1.0, 2.0}, rz[2] = {0, 0};
  int ok = ref_rel_error(f, r, 2) == 0.0 && ref_rel_error(z, rz, 2) == 0.0 &&
           isinf(ref_rel_error(f, rz, 2)) && fabs(ref_rel_error(z, r, 2) - 1.0) < 1e-15;
  check_eq("ref_rel_error edge cases ok", ok, 1);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : getenv("CLSP_KITTI_DIR");
  if (!dir || !dir[0]) dir = CLSP_KITTI_DEFAULT_DIR;
  int have_kitti = access(dir, R_OK) == 0;
  ref_voxels v0 = {0}, v8 = {0};
  static const long s0[5] = {41281, 50539, 25233, 8595, 6332};
  static const long m0[4] = {234303, 678151, 415771, 146597};
  static const long c0[4] = {142316, 172488, 82877, 11570};
  static const long s8[5] = {13092, 20309, 12361, 5298, 4236};
  static const long m8[4] = {55906, 230351, 177683, 78864};
  static const long c8[4] = {44136, 67846, 39986, 7116};

  if (have_kitti) {
    kitti_voxels(dir, "000000", 41281, 79893, &v0);
    kitti_voxels(dir, "000008", 13092, 13992, &v8);
  } else {
    printf("SKIP kitti: %s absent (set CLSP_KITTI_DIR); real-data checks not run\n", dir);
  }
  if (v0.n) kitti_chain("000000", &v0, s0, m0, c0);
  if (v8.n) kitti_chain("000008", &v8, s8, m8, c8);
  if (v0.n) kitti_dense("000000", &v0);
  ref_voxels_free(&v0);
  ref_voxels_free(&v8);

  test_brute_force(120);
  test_subm_vs_regular(40);
  test_dense_vs_pairs(10);
  test_weight_converters();
  test_rel_error();
  selftest_grad(&n_pass, &n_fail);

  printf("selftest: %d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
