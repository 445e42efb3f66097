/* SPDX-License-Identifier: Apache-2.0 */
/* Finite-difference checks of the gradient references (part of the
 * reference self-test, called from selftest_ref.c's main): for the loss
 * L = sum(y * dy), every analytic gradient entry of ref_conv_backward,
 * ref_pool and ref_global_pool is compared with the central difference
 * (L(v + h) - L(v - h)) / (v+h - (v-h)) of the forward references, with the
 * perturbation taken as the float values actually stored. Conv is linear
 * and the pools are piecewise linear, so the difference is exact up to
 * rounding away from ties (random data, small h). Plus the tie rule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_conv.h"
#include "ref_pool.h"
#include "ref_rulebook.h"
#include "selftest_grad.h"

static uint64_t fd_rng = 0x2545f4914f6cdd1dull;

static float fd_unit(void) {
  fd_rng ^= fd_rng >> 12, fd_rng ^= fd_rng << 25, fd_rng ^= fd_rng >> 27;
  uint32_t r = (uint32_t)((fd_rng * 0x2545f4914f6cdd1dull) >> 32);
  return (float)r / 4294967296.0f * 2.0f - 1.0f;
}

static float *fd_floats(size_t n) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  for (size_t j = 0; f && j < n; ++j) f[j] = fd_unit();
  return f;
}

/* A problem: input sites/features, output sites, upstream gradient. */
typedef struct fd_case {
  int kind, ndim;
  ref_geom g;
  int32_t batch, shape[4];
  const int32_t *in_shape, *in_coords, *out_coords;
  size_t n_in, n_out, cin, cout;
  float *x, *w, *b, *dy;
  ref_rulebook reg, rb;
  int32_t *sites;
} fd_case;

/* Every other cell of a small grid (and a few more) is active. */
static size_t fd_sites(int nd, const int32_t *shape, int32_t batch, int32_t **out) {
  size_t cells = (size_t)batch;
  for (int a = 0; a < nd; ++a) cells *= (size_t)shape[a];
  int32_t *c = malloc(cells * (size_t)(nd + 1) * sizeof *c);
  size_t n = 0;
  for (size_t v = 0; c && v < cells; ++v) {
    if (fd_unit() < 0.1f) continue; /* ~45% of the cells */
    size_t r = v;
    int32_t *row = c + n++ * (size_t)(nd + 1);
    for (int a = nd - 1; a >= 0; --a) {
      row[1 + a] = (int32_t)(r % (size_t)shape[a]);
      r /= (size_t)shape[a];
    }
    row[0] = (int32_t)r;
  }
  *out = c;
  return n;
}

static int fd_setup(fd_case *c, int kind, int nd, int k, int s, int p) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->ndim = nd;
  c->g.ndim = nd;
  c->batch = 2;
  for (int a = 0; a < nd; ++a) {
    c->g.kernel[a] = k, c->g.stride[a] = s, c->g.padding[a] = p;
    c->g.dilation[a] = 1;
    c->shape[a] = nd == 1 ? 9 : nd == 2 ? 5 : 4;
  }
  size_t n = fd_sites(nd, c->shape, c->batch, &c->sites);
  int bkind = kind == REF_INVERSE ? REF_REGULAR : kind;
  if (ref_rulebook_build(bkind, &c->g, c->shape, c->batch, n, c->sites, &c->reg))
    return -1;
  if (kind == REF_INVERSE) {
    c->in_coords = c->reg.out_coords, c->in_shape = c->reg.out_shape;
    c->n_in = c->reg.n_out, c->out_coords = c->sites, c->n_out = n;
  } else {
    c->in_coords = c->sites, c->in_shape = c->shape, c->n_in = n;
    c->out_coords = c->reg.out_coords, c->n_out = c->reg.n_out;
  }
  c->cin = 3, c->cout = 2;
  size_t kvol = ref_kernel_volume(&c->g);
  c->x = fd_floats(c->n_in * c->cin);
  c->w = fd_floats(kvol * c->cin * c->cout);
  c->b = fd_floats(c->cout);
  c->dy = fd_floats(c->n_out * c->cout);
  return 0;
}

static void fd_free(fd_case *c) {
  free(c->x), free(c->w), free(c->b), free(c->dy), free(c->sites);
  ref_rulebook_free(&c->reg);
}

/* L = sum(y * dy) of the forward reference of `op` (0 conv, 1 max pool,
 * 2 avg pool); cout = cin for pools. */
static double fd_loss(const fd_case *c, int op) {
  size_t cout = op ? c->cin : c->cout;
  double *y = malloc((c->n_out * cout + 1) * sizeof *y), l = 0.0;
  int rc =
    op ? ref_pool(op == 1 ? REF_POOL_MAX : REF_POOL_AVG, c->kind, &c->g, c->in_shape,
                  c->batch, c->n_in, c->in_coords, c->x, c->cin, c->n_out, c->out_coords,
                  NULL, y, NULL)
       : ref_conv_dense(c->kind, &c->g, c->in_shape, c->batch, c->n_in, c->in_coords,
                        c->x, c->cin, c->n_out, c->out_coords, c->cout, c->w, c->b, y);
  for (size_t j = 0; rc == 0 && j < c->n_out * cout; ++j) l += y[j] * (double)c->dy[j];
  free(y);
  return rc == 0 ? l : NAN;
}

/* Worst |analytic - fd| / max|analytic| over the n entries of v. */
static double fd_compare(fd_case *c, int op, float *v, size_t n, const double *grad) {
  const float h = 1e-3f;
  double worst = 0.0, scale = 0.0;
  for (size_t j = 0; j < n; ++j) scale = fmax(scale, fabs(grad[j]));
  for (size_t j = 0; j < n; ++j) {
    float keep = v[j], up = keep + h, down = keep - h;
    v[j] = up;
    double lu = fd_loss(c, op);
    v[j] = down;
    double ld = fd_loss(c, op);
    v[j] = keep;
    double fd = (lu - ld) / ((double)up - (double)down);
    double e = fabs(fd - grad[j]) / (scale > 0 ? scale : 1.0);
    if (!(e <= worst)) worst = e;
  }
  return scale > 0 ? worst : INFINITY;
}

static void report(int *pass, int *fail, const char *what, double err, double tol) {
  int ok = err <= tol;
  ++*(ok ? pass : fail);
  printf("%s: %s, worst |grad - fd| / max|grad| %.3g (tol %.0e)\n", ok ? "PASS" : "FAIL",
         what, err, tol);
}

static void fd_conv(int *pass, int *fail) {
  static const char *names[4] = {"subm", "regular", "transposed", "inverse"};
  static const int geo[4][3] = {{3, 1, 0}, {3, 2, 1}, {3, 2, 1}, {2, 2, 0}};
  for (int kind = 0; kind < 4; ++kind)
    for (int nd = 1; nd <= 3; ++nd) {
      fd_case c;
      double ex = INFINITY, ew = INFINITY, eb = INFINITY;
      if (fd_setup(&c, kind, nd, geo[kind][0], geo[kind][1], geo[kind][2]) == 0) {
        size_t kvol = ref_kernel_volume(&c.g);
        double *dx = malloc((c.n_in * c.cin + 1) * sizeof *dx);
        double *dw = malloc((kvol * c.cin * c.cout + 1) * sizeof *dw);
        double db[2];
        if (ref_conv_backward(kind, &c.g, c.in_shape, c.batch, c.n_in, c.in_coords, c.x,
                              c.cin, c.n_out, c.out_coords, c.dy, c.cout, c.w, dx, dw,
                              db) == 0) {
          ex = fd_compare(&c, 0, c.x, c.n_in * c.cin, dx);
          ew = fd_compare(&c, 0, c.w, kvol * c.cin * c.cout, dw);
          eb = fd_compare(&c, 0, c.b, c.cout, db);
        }
        free(dx), free(dw);
      }
      fd_free(&c);
      char what[96];
      double e = fmax(ex, fmax(ew, eb));
      snprintf(what, sizeof what, "(g) conv backward == finite differences, %s %dD",
               names[kind], nd);
      report(pass, fail, what, e, 1e-6);
    }
}

static void fd_pool(int *pass, int *fail) {
  for (int op = 1; op <= 2; ++op)
    for (int nd = 2; nd <= 3; ++nd) {
      fd_case c;
      double e = INFINITY;
      if (fd_setup(&c, REF_REGULAR, nd, 3, 2, 1) == 0) {
        free(c.dy);
        c.dy = fd_floats(c.n_out * c.cin);
        double *dx = malloc((c.n_in * c.cin + 1) * sizeof *dx);
        if (ref_pool(op == 1 ? REF_POOL_MAX : REF_POOL_AVG, c.kind, &c.g, c.in_shape,
                     c.batch, c.n_in, c.in_coords, c.x, c.cin, c.n_out, c.out_coords,
                     c.dy, NULL, dx) == 0)
          e = fd_compare(&c, op, c.x, c.n_in * c.cin, dx);
        free(dx);
      }
      fd_free(&c);
      char what[96];
      snprintf(what, sizeof what, "(g) %s pool backward == finite differences, %dD",
               op == 1 ? "max" : "avg", nd);
      report(pass, fail, what, e, 1e-6);
    }
}

/* Global pooling: fd of sum(y * dy) over every input entry. */
static void fd_global(int *pass, int *fail) {
  int32_t shape[2] = {5, 5}, *coords;
  size_t n = fd_sites(2, shape, 3, &coords), ch = 4;
  float *x = fd_floats(n * ch), *dy = fd_floats(3 * ch);
  double *dx = malloc(n * ch * sizeof *dx), y[12], worst = 0.0;
  for (int type = 0; type < 2; ++type) {
    ref_global_pool(type, 2, 3, n, coords, x, ch, dy, NULL, dx);
    for (size_t j = 0; j < n * ch; ++j) {
      float keep = x[j], up = keep + 1e-3f, down = keep - 1e-3f;
      double lu = 0, ld = 0;
      x[j] = up;
      ref_global_pool(type, 2, 3, n, coords, x, ch, NULL, y, NULL);
      for (int k = 0; k < 12; ++k) lu += y[k] * dy[k];
      x[j] = down;
      ref_global_pool(type, 2, 3, n, coords, x, ch, NULL, y, NULL);
      for (int k = 0; k < 12; ++k) ld += y[k] * dy[k];
      x[j] = keep;
      worst = fmax(worst, fabs((lu - ld) / ((double)up - (double)down) - dx[j]));
    }
  }
  report(pass, fail, "(g) global max/avg pool backward == finite differences", worst,
         1e-6);
  free(coords), free(x), free(dy), free(dx);
}

/* Ties: equal maxima give the gradient to the lowest input row only. */
static void tie_rule(int *pass, int *fail) {
  ref_geom g = {1, {3}, {1}, {1}, {1}};
  int32_t shape[1] = {3}, in[6] = {0, 2, 0, 0, 0, 1}, out[2] = {0, 1};
  float x[3] = {0.5f, 0.5f, -2.0f}, dy[1] = {1.0f};
  double y[1], dx[3];
  int rc =
    ref_pool(REF_POOL_MAX, REF_REGULAR, &g, shape, 1, 3, in, x, 1, 1, out, dy, y, dx);
  /* Rows 0 and 1 (sites 2 and 0) tie at 0.5: row 0 gets it. */
  int ok = rc == 0 && y[0] == 0.5 && dx[0] == 1.0 && dx[1] == 0.0 && dx[2] == 0.0;
  report(pass, fail, "(g) max pool tie goes to the lowest input row", ok ? 0.0 : 1.0,
         0.0);
}

void selftest_grad(int *pass, int *fail) {
  fd_conv(pass, fail);
  fd_pool(pass, fail);
  fd_global(pass, fail);
  tie_rule(pass, fail);
}
