/* SPDX-License-Identifier: Apache-2.0 */
#include "scene/scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define N_BEAMS 64
#define N_AZIMUTH 2048
#define SENSOR_HEIGHT 1.73
#define GROUND_Z (-SENSOR_HEIGHT)
#define MAX_RANGE 110.0
#define STREET_HALF_LENGTH 130.0
#define MAX_PRIMS 2048
/* Azimuth culling slack: covers per-beam azimuth offsets and one step. */
#define CULL_MARGIN 0.02

/* ---------------------------------------------------------------------- */
/* splitmix64: tiny, seedable with any value, and identical everywhere,
 * unlike rand(). */

typedef struct {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double rng_uniform(rng *r) {
  return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_range(rng *r, double lo, double hi) {
  return lo + (hi - lo) * rng_uniform(r);
}

static double rng_normal(rng *r) {
  double u1 = 1.0 - rng_uniform(r); /* (0,1], keeps log finite */
  double u2 = rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * PI * u2);
}

/* ---------------------------------------------------------------------- */
/* Scene description */

enum { PRIM_BOX, PRIM_CYLINDER, PRIM_SPHERE };
enum {
  MAT_ROAD,
  MAT_MARKING,
  MAT_TERRAIN,
  MAT_SIDEWALK,
  MAT_WALL,
  MAT_CAR,
  MAT_GLASS,
  MAT_POLE,
  MAT_SIGN,
  MAT_BARK,
  MAT_LEAF
};

typedef struct {
  int kind, mat;
  double cx, cy, cz;  /* box/cylinder: cz unused; sphere centre */
  double hx, hy;      /* box half extents; cylinder/sphere radius in hx */
  double z0, z1;      /* vertical extent of boxes and cylinders */
  double cyaw, syaw;  /* box heading */
  double refl;        /* base reflectivity in [0,1) */
  double porosity;    /* chance a ray passes through (foliage) */
  double az, half_az; /* azimuth window seen from the sensor */
} prim;

typedef struct {
  double right_kerb, left_kerb;   /* y of the kerb lines */
  double right_front, left_front; /* y of the building lines */
  double kerb_height;
  double cross_x0, cross_x1; /* cross street extent along x */
  double lane_split;         /* y of the dashed centre line */
  double phase;              /* ground undulation phase */
} street;

typedef struct {
  street st;
  int nprims;
  prim prims[MAX_PRIMS];
} scene;

static void set_bounds(prim *p, double radius) {
  double dist = hypot(p->cx, p->cy);
  p->az = atan2(p->cy, p->cx);
  p->half_az = dist <= radius + 0.01 ? PI : asin(radius / dist) + CULL_MARGIN;
}

static prim *new_prim(scene *sc, int kind, int mat, double refl) {
  if (sc->nprims == MAX_PRIMS) return NULL; /* layout loops stay far below this */
  prim *p = &sc->prims[sc->nprims++];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->mat = mat;
  p->refl = refl;
  p->cyaw = 1.0;
  return p;
}

static void add_box(scene *sc, double cx, double cy, double hx, double hy, double z0,
                    double z1, double yaw, int mat, double refl, double porosity) {
  prim *p = new_prim(sc, PRIM_BOX, mat, refl);
  if (!p) return;
  p->cx = cx, p->cy = cy, p->hx = hx, p->hy = hy, p->z0 = z0, p->z1 = z1;
  p->cyaw = cos(yaw);
  p->syaw = sin(yaw);
  p->porosity = porosity;
  set_bounds(p, hypot(hx, hy));
}

static void add_aabb(scene *sc, double x0, double x1, double y0, double y1, double z0,
                     double z1, int mat, double refl) {
  add_box(sc, 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * fabs(x1 - x0), 0.5 * fabs(y1 - y0),
          z0, z1, 0.0, mat, refl, 0.0);
}

static void add_cylinder(scene *sc, double cx, double cy, double r, double z0, double z1,
                         int mat, double refl) {
  prim *p = new_prim(sc, PRIM_CYLINDER, mat, refl);
  if (!p) return;
  p->cx = cx, p->cy = cy, p->hx = r, p->z0 = z0, p->z1 = z1;
  set_bounds(p, r);
}

static void add_sphere(scene *sc, double cx, double cy, double cz, double r, int mat,
                       double refl, double porosity) {
  prim *p = new_prim(sc, PRIM_SPHERE, mat, refl);
  if (!p) return;
  p->cx = cx, p->cy = cy, p->cz = cz, p->hx = r;
  p->porosity = porosity;
  set_bounds(p, r);
}

static int in_cross_street(const street *st, double x, double margin) {
  return x > st->cross_x0 - margin && x < st->cross_x1 + margin;
}

/* ---------------------------------------------------------------------- */
/* Layout */

static void build_street(scene *sc, rng *r) {
  street *st = &sc->st;
  st->right_kerb = -rng_range(r, 4.2, 5.0);
  st->left_kerb = rng_range(r, 6.4, 7.4);
  st->kerb_height = rng_range(r, 0.11, 0.16);
  st->right_front = st->right_kerb - rng_range(r, 2.5, 4.0);
  st->left_front = st->left_kerb + rng_range(r, 2.5, 4.0);
  st->cross_x0 = rng_range(r, 28.0, 42.0);
  st->cross_x1 = st->cross_x0 + rng_range(r, 10.0, 14.0);
  st->lane_split = 1.65;
  st->phase = rng_range(r, 0.0, 2.0 * PI);
  /* Sidewalk slabs reach past the building line so building gaps show
     * raised ground; the cross street cuts them in two. */
  double top = GROUND_Z + st->kerb_height, L = STREET_HALF_LENGTH;
  double ys[2][2] = {{st->right_front - 25.0, st->right_kerb},
                     {st->left_kerb, st->left_front + 25.0}};
  for (int s = 0; s < 2; s++) {
    add_aabb(sc, -L, st->cross_x0, ys[s][0], ys[s][1], GROUND_Z - 0.5, top, MAT_SIDEWALK,
             0.32);
    add_aabb(sc, st->cross_x1, L, ys[s][0], ys[s][1], GROUND_Z - 0.5, top, MAT_SIDEWALK,
             0.32);
  }
}

/* side is -1 for the right (negative y) side, +1 for the left. */
static void build_facades(scene *sc, rng *r, double front, double side) {
  const street *st = &sc->st;
  double x = -120.0 + rng_range(r, 0.0, 5.0);
  while (x < 120.0) {
    double len = rng_range(r, 8.0, 30.0);
    if (x < st->cross_x1 && x + len > st->cross_x0) {
      if (x > st->cross_x0 - 3.0) { /* too short a stub; skip past */
        x = st->cross_x1 + rng_range(r, 0.0, 2.0);
        continue;
      }
      len = st->cross_x0 - x;
    }
    double y_near = front + side * rng_range(r, 0.0, 1.5);
    double y_far = y_near + side * rng_range(r, 8.0, 15.0);
    add_aabb(sc, x, x + len, y_near, y_far, GROUND_Z, GROUND_Z + rng_range(r, 5.0, 22.0),
             MAT_WALL, rng_range(r, 0.15, 0.55));
    x += len;
    if (rng_uniform(r) < 0.35) x += rng_range(r, 2.0, 8.0); /* alley or driveway */
  }
}

static void add_car(scene *sc, rng *r, double cx, double cy, double yaw) {
  int van = rng_uniform(r) < 0.15;
  double len = van ? rng_range(r, 5.0, 6.5) : rng_range(r, 3.9, 4.8);
  double wid = van ? rng_range(r, 1.9, 2.1) : rng_range(r, 1.7, 1.9);
  double z0 = GROUND_Z + 0.28; /* wheel gap: the road shows underneath */
  double z1 = z0 + (van ? rng_range(r, 1.8, 2.3) : rng_range(r, 0.65, 0.8));
  add_box(sc, cx, cy, len / 2, wid / 2, z0, z1, yaw, MAT_CAR, rng_range(r, 0.08, 0.6),
          0.0);
  if (van) return;
  double back = 0.08 * len; /* cabins sit behind the car's centre */
  add_box(sc, cx - back * cos(yaw), cy - back * sin(yaw), 0.25 * len, wid / 2 - 0.08, z1,
          z1 + rng_range(r, 0.45, 0.55), yaw, MAT_GLASS, 0.06, 0.0);
}

static void build_parked_cars(scene *sc, rng *r) {
  const street *st = &sc->st;
  double lanes[2] = {st->right_kerb + 1.05, st->left_kerb - 1.05};
  for (int s = 0; s < 2; s++)
    for (double x = -90.0 + rng_range(r, 0, 4); x < 90.0; x += rng_range(r, 5.5, 9.0)) {
      if (rng_uniform(r) >= 0.6 || in_cross_street(st, x, 4.0)) continue;
      double yaw = rng_range(r, -0.04, 0.04) + (s ? PI : 0.0);
      add_car(sc, r, x, lanes[s] + rng_range(r, -0.1, 0.1), yaw);
    }
}

static void build_traffic(scene *sc, rng *r) {
  const street *st = &sc->st;
  double oncoming = 0.5 * (st->lane_split + st->left_kerb - 2.1) + 0.2;
  /* Ego lane: keep clear of the sensor's own car around the origin. */
  for (double x = rng_range(r, 9.0, 20.0); x < 70.0; x += rng_range(r, 12.0, 30.0))
    add_car(sc, r, x, rng_range(r, -0.3, 0.3), rng_range(r, -0.02, 0.02));
  for (double x = -rng_range(r, 9.0, 20.0); x > -60.0; x -= rng_range(r, 12.0, 30.0))
    add_car(sc, r, x, rng_range(r, -0.3, 0.3), rng_range(r, -0.02, 0.02));
  for (double x = -80.0 + rng_range(r, 0, 10); x < 80.0; x += rng_range(r, 10.0, 35.0))
    if (fabs(x) > 4.0) add_car(sc, r, x, oncoming, PI + rng_range(r, -0.02, 0.02));
  double cx = 0.5 * (st->cross_x0 + st->cross_x1);
  add_car(sc, r, cx - 1.6, st->left_front + rng_range(r, 4.0, 20.0), -PI / 2);
  add_car(sc, r, cx + 1.6, st->right_front - rng_range(r, 4.0, 20.0), PI / 2);
}

static void add_street_light(scene *sc, rng *r, double x, double y, double toward_road) {
  double top = GROUND_Z + rng_range(r, 6.0, 9.0);
  add_cylinder(sc, x, y, rng_range(r, 0.08, 0.14), GROUND_Z, top, MAT_POLE, 0.45);
  double y1 = y + toward_road * 1.5;
  add_aabb(sc, x - 0.2, x + 0.2, fmin(y, y1), fmax(y, y1), top - 0.2, top, MAT_POLE, 0.5);
}

static void build_poles(scene *sc, rng *r) {
  const street *st = &sc->st;
  double ys[2] = {st->right_kerb - 0.45, st->left_kerb + 0.45};
  for (int s = 0; s < 2; s++) {
    double toward = s ? -1.0 : 1.0;
    for (double x = -100.0 + rng_range(r, 0, 10); x < 100.0;
         x += rng_range(r, 20.0, 32.0))
      if (!in_cross_street(st, x, 1.0)) add_street_light(sc, r, x, ys[s], toward);
  }
  /* Signs: thin poles with retro-reflective plates (bright returns). */
  for (int i = 0; i < 5; i++) {
    double x = rng_range(r, -60.0, 60.0);
    double y = ys[i & 1] + (i & 1 ? 0.2 : -0.2);
    if (in_cross_street(st, x, 1.0)) continue;
    double top = GROUND_Z + rng_range(r, 2.3, 3.0);
    add_cylinder(sc, x, y, 0.04, GROUND_Z, top, MAT_POLE, 0.4);
    add_box(sc, x, y, 0.03, 0.35, top - 0.6, top, rng_range(r, -0.3, 0.3), MAT_SIGN, 0.9,
            0.0);
  }
}

static void add_tree(scene *sc, rng *r, double x, double y) {
  double top = GROUND_Z + rng_range(r, 2.2, 3.5);
  add_cylinder(sc, x, y, rng_range(r, 0.12, 0.25), GROUND_Z, top, MAT_BARK, 0.2);
  int blobs = 4 + (int)(rng_uniform(r) * 4.0);
  for (int i = 0; i < blobs; i++)
    add_sphere(sc, x + 0.8 * rng_normal(r), y + 0.8 * rng_normal(r),
               top + rng_range(r, 0.5, 2.0), rng_range(r, 0.7, 1.7), MAT_LEAF,
               rng_range(r, 0.15, 0.35), 0.45);
}

static void add_bush(scene *sc, rng *r, double x, double y) {
  double base = GROUND_Z + sc->st.kerb_height;
  if (rng_uniform(r) < 0.5) {
    double rad = rng_range(r, 0.35, 0.9);
    add_sphere(sc, x, y, base + 0.6 * rad, rad, MAT_LEAF, rng_range(r, 0.15, 0.35), 0.3);
  } else { /* hedge */
    add_box(sc, x, y, rng_range(r, 0.75, 2.0), rng_range(r, 0.25, 0.45), base,
            base + rng_range(r, 0.6, 1.2), 0.0, MAT_LEAF, rng_range(r, 0.15, 0.35), 0.35);
  }
}

static void build_vegetation(scene *sc, rng *r) {
  const street *st = &sc->st;
  double tree_y[2] = {st->right_kerb - 1.3, st->left_kerb + 1.3};
  double bush_y[2] = {st->right_front + 0.7, st->left_front - 0.7};
  for (int s = 0; s < 2; s++) {
    for (double x = -110.0 + rng_range(r, 0, 9); x < 110.0; x += rng_range(r, 9.0, 18.0))
      if (rng_uniform(r) < 0.55 && !in_cross_street(st, x, 2.0))
        add_tree(sc, r, x, tree_y[s] + rng_range(r, -0.3, 0.3));
    for (double x = -100.0 + rng_range(r, 0, 6); x < 100.0; x += rng_range(r, 4.0, 12.0))
      if (rng_uniform(r) < 0.4 && !in_cross_street(st, x, 1.0))
        add_bush(sc, r, x, bush_y[s]);
  }
}

static void build_scene(scene *sc, uint64_t seed) {
  rng r = {seed};
  sc->nprims = 0;
  build_street(sc, &r);
  build_facades(sc, &r, sc->st.right_front, -1.0);
  build_facades(sc, &r, sc->st.left_front, 1.0);
  build_parked_cars(sc, &r);
  build_traffic(sc, &r);
  build_poles(sc, &r);
  build_vegetation(sc, &r);
}

/* ---------------------------------------------------------------------- */
/* Ray casting.  Rays start at the sensor (the origin) and d is a unit
 * vector, which keeps every intersection test short. */

typedef struct {
  double t, n[3], refl;
  int mat;
} hit;

static int hit_box(const prim *p, const double d[3], double tmax, hit *h) {
  double c = p->cyaw, s = p->syaw;
  double o[3] = {-(c * p->cx + s * p->cy), -(-s * p->cx + c * p->cy), 0.0};
  double dd[3] = {c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]};
  double lo[3] = {-p->hx, -p->hy, p->z0}, hi[3] = {p->hx, p->hy, p->z1};
  double tnear = 0.0, tfar = tmax, sgn = 0.0;
  int axis = -1;
  for (int i = 0; i < 3; i++) {
    if (fabs(dd[i]) < 1e-12) {
      if (o[i] < lo[i] || o[i] > hi[i]) return 0;
      continue;
    }
    double t1 = (lo[i] - o[i]) / dd[i], t2 = (hi[i] - o[i]) / dd[i];
    double tn = fmin(t1, t2), tf = fmax(t1, t2);
    if (tn > tnear) {
      tnear = tn;
      axis = i;
      sgn = dd[i] > 0 ? -1.0 : 1.0;
    }
    tfar = fmin(tfar, tf);
    if (tnear > tfar) return 0;
  }
  if (axis < 0) return 0; /* sensor inside the box */
  double nl[3] = {0, 0, 0};
  nl[axis] = sgn;
  h->t = tnear;
  h->n[0] = c * nl[0] - s * nl[1];
  h->n[1] = s * nl[0] + c * nl[1];
  h->n[2] = nl[2];
  return 1;
}

static int hit_cylinder(const prim *p, const double d[3], double tmax, hit *h) {
  double a = d[0] * d[0] + d[1] * d[1];
  if (a < 1e-12) return 0;
  double b = -2.0 * (d[0] * p->cx + d[1] * p->cy);
  double c = p->cx * p->cx + p->cy * p->cy - p->hx * p->hx;
  double disc = b * b - 4.0 * a * c;
  if (disc < 0.0) return 0;
  double t = (-b - sqrt(disc)) / (2.0 * a);
  double z = t * d[2];
  if (t <= 0.0 || t >= tmax || z < p->z0 || z > p->z1) return 0;
  h->t = t;
  h->n[0] = (t * d[0] - p->cx) / p->hx;
  h->n[1] = (t * d[1] - p->cy) / p->hx;
  h->n[2] = 0.0;
  return 1;
}

static int hit_sphere(const prim *p, const double d[3], double tmax, hit *h) {
  double b = d[0] * p->cx + d[1] * p->cy + d[2] * p->cz;
  double c = p->cx * p->cx + p->cy * p->cy + p->cz * p->cz - p->hx * p->hx;
  double disc = b * b - c;
  if (disc < 0.0) return 0;
  double t = b - sqrt(disc);
  if (t <= 0.0 || t >= tmax) return 0;
  h->t = t;
  h->n[0] = (t * d[0] - p->cx) / p->hx;
  h->n[1] = (t * d[1] - p->cy) / p->hx;
  h->n[2] = (t * d[2] - p->cz) / p->hx;
  return 1;
}

static int hit_prim(const prim *p, const double d[3], double tmax, hit *h) {
  switch (p->kind) {
    case PRIM_BOX: return hit_box(p, d, tmax, h);
    case PRIM_CYLINDER: return hit_cylinder(p, d, tmax, h);
    default: return hit_sphere(p, d, tmax, h);
  }
}

static int road_marking(const street *st, double x, double y) {
  if (fabs(y - st->lane_split) < 0.075 && fmod(x + 1000.0, 9.0) < 3.5)
    return 1; /* dashed centre line */
  if (fabs(y - (st->right_kerb + 2.3)) < 0.06 || fabs(y - (st->left_kerb - 2.3)) < 0.06)
    return !in_cross_street(st, x, 0.0); /* parking strip edges */
  double before = st->cross_x0 - x;
  if (before > 0.5 && before < 3.0)
    return fmod(y + 100.0, 1.0) < 0.5; /* zebra crossing */
  return before >= 3.0 && before < 3.4 && y < st->lane_split &&
         y > st->right_kerb; /* stop line */
}

static void ground_material(const street *st, const double d[3], hit *h) {
  double x = h->t * d[0], y = h->t * d[1];
  int road = (y > st->right_kerb && y < st->left_kerb) || in_cross_street(st, x, 0.0);
  if (road && road_marking(st, x, y)) {
    h->mat = MAT_MARKING;
    h->refl = 0.7;
  } else {
    h->mat = road ? MAT_ROAD : MAT_TERRAIN;
    h->refl = road ? 0.12 : 0.25;
  }
}

static int trace(const scene *sc, const int *cand, int ncand, const double d[3], rng *r,
                 hit *best) {
  int found = 0;
  best->t = MAX_RANGE;
  if (d[2] < -1e-9 && GROUND_Z / d[2] < best->t) {
    best->t = GROUND_Z / d[2];
    best->n[0] = best->n[1] = 0.0;
    best->n[2] = 1.0;
    ground_material(&sc->st, d, best);
    found = 1;
  }
  for (int i = 0; i < ncand; i++) {
    const prim *p = &sc->prims[cand[i]];
    hit h;
    if (!hit_prim(p, d, best->t, &h)) continue;
    if (p->porosity > 0.0 && rng_uniform(r) < p->porosity)
      continue; /* ray slipped through the foliage */
    h.mat = p->mat;
    h.refl = p->refl;
    *best = h;
    found = 1;
  }
  return found;
}

static int collect_candidates(const scene *sc, double phi, int *cand) {
  int n = 0;
  for (int i = 0; i < sc->nprims; i++) {
    double delta = remainder(phi - sc->prims[i].az, 2.0 * PI);
    if (fabs(delta) <= sc->prims[i].half_az) cand[n++] = i;
  }
  return n;
}

/* ---------------------------------------------------------------------- */
/* Sensor model */

/* HDL-64E-like: a denser upper block and a sparser lower block. */
static void beam_table(double elev[N_BEAMS], double az_off[N_BEAMS],
                       double gain[N_BEAMS]) {
  for (int b = 0; b < N_BEAMS; b++) {
    double deg =
      b < 32 ? 2.0 - b * (10.33 / 31.0) : -8.83 - (b - 32) * ((24.8 - 8.83) / 31.0);
    elev[b] = deg * PI / 180.0;
    az_off[b] = ((b % 4) - 1.5) * 0.0015;
    gain[b] = 0.95 + 0.1 * (double)((b * 37) % 11) / 10.0;
  }
}

static double smoothstep(double e0, double e1, double x) {
  double t = (x - e0) / (e1 - e0);
  t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
  return t * t * (3.0 - 2.0 * t);
}

static int is_flat_ground(const hit *h) {
  return h->n[2] > 0.99 && (h->mat == MAT_ROAD || h->mat == MAT_MARKING ||
                            h->mat == MAT_TERRAIN || h->mat == MAT_SIDEWALK);
}

/* Applies dropout, noise and intensity; returns 0 when the return is lost. */
static int make_return(const street *st, const hit *h, const double d[3], double gain,
                       rng *r, float out[4]) {
  double cosi = fabs(d[0] * h->n[0] + d[1] * h->n[1] + d[2] * h->n[2]);
  double keep =
    0.985 * (1.0 - 0.85 * smoothstep(30.0, MAX_RANGE, h->t)) * (0.7 + 0.3 * sqrt(cosi));
  if (rng_uniform(r) >= keep) return 0;
  double range = h->t + (0.015 + 0.00015 * h->t) * rng_normal(r);
  double x = range * d[0], y = range * d[1], z = range * d[2];
  if (is_flat_ground(h))
    z += 0.02 * sin(0.21 * x + st->phase) * cos(0.17 * y) + 0.008 * rng_normal(r);
  double inten = h->refl * gain * (0.3 + 0.7 * cosi) * (1.0 - 0.3 * h->t / MAX_RANGE) +
                 0.015 * rng_normal(r);
  inten = inten < 0.0 ? 0.0 : inten > 0.99 ? 0.99 : inten;
  out[0] = (float)x;
  out[1] = (float)y;
  out[2] = (float)z;
  out[3] = (float)inten;
  return 1;
}

static size_t scan(const scene *sc, uint64_t seed, float *pts, int *cand) {
  double elev[N_BEAMS], az_off[N_BEAMS], gain[N_BEAMS];
  beam_table(elev, az_off, gain);
  rng r = {seed ^ 0x5ca1ab1e0ddba11ull}; /* separate stream from layout */
  size_t n = 0;
  for (int a = 0; a < N_AZIMUTH; a++) {
    double phi = 2.0 * PI * a / N_AZIMUTH;
    int ncand = collect_candidates(sc, phi, cand);
    for (int b = 0; b < N_BEAMS; b++) {
      double ce = cos(elev[b]), az = phi + az_off[b];
      double d[3] = {ce * cos(az), ce * sin(az), sin(elev[b])};
      hit h;
      if (trace(sc, cand, ncand, d, &r, &h) &&
          make_return(&sc->st, &h, d, gain[b], &r, pts + 4 * n))
        n++;
    }
  }
  return n;
}

int clsp_scene_generate(uint64_t seed, float **points, size_t *n, char *err,
                        size_t errlen) {
  *points = NULL;
  *n = 0;
  scene *sc = malloc(sizeof *sc);
  int *cand = malloc(MAX_PRIMS * sizeof *cand);
  float *pts = malloc((size_t)N_AZIMUTH * N_BEAMS * 4 * sizeof *pts);
  if (!sc || !cand || !pts) {
    free(sc);
    free(cand);
    free(pts);
    if (err && errlen)
      snprintf(err, errlen, "synthetic scene (seed %llu): out of memory",
               (unsigned long long)seed);
    return -1;
  }
  build_scene(sc, seed);
  size_t count = scan(sc, seed, pts, cand);
  free(sc);
  free(cand);
  float *shrunk = realloc(pts, (count ? count : 1) * 4 * sizeof *pts);
  *points = shrunk ? shrunk : pts;
  *n = count;
  return 0;
}

void clsp_scene_free(float *points) { free(points); }
