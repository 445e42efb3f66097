/* SPDX-License-Identifier: Apache-2.0 */
/* checkkernels: voxelization, the device hash and rulebooks against the
 * CPU references (exact sites, order and pairs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "checkkernels.h"
#include "pipeline.h"

const clsp_conv_geometry ck_geom_subm = {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
const clsp_conv_geometry ck_geom_regular = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
const clsp_conv_geometry ck_geom_transposed = {{2, 2, 2},
                                               {2, 2, 2},
                                               {0, 0, 0},
                                               {1, 1, 1}};

double ck_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

ref_geom ck_ref_geom(const clsp_conv_geometry *g) {
  ref_geom r = {0};
  r.ndim = 3;
  for (int a = 0; a < 3; a++) {
    r.kernel[a] = g->kernel[a];
    r.stride[a] = g->stride[a];
    r.padding[a] = g->padding[a];
    r.dilation[a] = g->dilation[a];
  }
  return r;
}

/* ---- voxelize ---- */

/* Same sites in the same order (first occurrence), same shape (range mode
 * pads z by one: zpad), means within 1e-6 relative. */
static int compare_voxels(ck_env *e, clsp_tensor *t, const ref_voxels *ref, int zpad) {
  clsp_tensor_desc d;
  if (clsp_tensor_describe(t, &d) != CLSP_SUCCESS || d.n_sites != ref->n ||
      d.shape[0] != ref->shape[0] + zpad || d.shape[1] != ref->shape[1] ||
      d.shape[2] != ref->shape[2]) {
    printf("  %zu voxels of shape (%d, %d, %d), reference %zu of (%d, %d, %d)\n",
           d.n_sites, (int)d.shape[0], (int)d.shape[1], (int)d.shape[2], ref->n,
           (int)ref->shape[0] + zpad, (int)ref->shape[1], (int)ref->shape[2]);
    return 1;
  }
  size_t n = d.n_sites;
  int32_t *c = malloc((n ? n : 1) * 16);
  float *f = malloc((n ? n : 1) * 16);
  int bad = !c || !f || clsp_tensor_download(e->ctx, t, c, f) != CLSP_SUCCESS ||
            (n && memcmp(c, ref->coords, n * 16) != 0);
  for (size_t i = 0; !bad && i < 4 * n; i++)
    if (!(fabsf(f[i] - ref->feats[i]) <= 1e-6f * fabsf(ref->feats[i]) + 1e-30f)) {
      printf("  mean %zu: %.9g, reference %.9g\n", i, (double)f[i],
             (double)ref->feats[i]);
      bad = 1;
    }
  free(c);
  free(f);
  return bad;
}

static clsp_status voxelize_once(ck_env *e, void *arg, double *device_ms) {
  clsp_voxelize_options o;
  clsp_voxelize_defaults(*(const clsp_voxel_recipe *)arg, &o);
  clsp_tensor *t = NULL;
  clsp_voxelize_stats s;
  clsp_status st = clsp_voxelize(e->ctx, &o, e->points, e->n_points, &t, &s);
  *device_ms = s.device_ms;
  clsp_tensor_destroy(t);
  return st;
}

static int voxelize_check(ck_env *e, clsp_voxel_recipe recipe, const ref_voxels *ref,
                          int zpad) {
  clsp_voxelize_options o;
  clsp_voxelize_defaults(recipe, &o);
  clsp_tensor *t = NULL;
  int bad = clsp_voxelize(e->ctx, &o, e->points, e->n_points, &t, NULL) != CLSP_SUCCESS ||
            compare_voxels(e, t, ref, zpad);
  clsp_tensor_destroy(t);
  return bad || ck_time(e, "voxelize", voxelize_once, &recipe, 0);
}

int ck_voxelize_second(ck_env *e) {
  return voxelize_check(e, CLSP_VOXEL_SECOND, &e->vox, 0); /* both pad z */
}

int ck_voxelize_minkunet(ck_env *e) {
  ref_voxels ref;
  if (ref_voxelize_minkunet(e->points, e->n_points, 0, &ref) != 0) return 1;
  int bad = voxelize_check(e, CLSP_VOXEL_MINKUNET, &ref, 0);
  ref_voxels_free(&ref);
  return bad;
}

/* ---- device hash (library internals) ---- */

static cl_command_queue queue_of(clsp_context *ctx) {
  cl_command_queue q = NULL;
  clsp_context_cl(ctx, NULL, NULL, &q);
  return q;
}

typedef struct hash_case {
  clsp_keyspec ks;
  cl_mem coords;
  uint32_t n;
} hash_case;

/* Keys and hash of the case's rows; *dup_row from clsp__hash_firsts. */
static clsp_status hash_run(ck_env *e, const hash_case *hc, cl_mem sel, uint32_t *dup_row,
                            double *device_ms) {
  clsp_events ev = {0};
  cl_mem keys = NULL;
  clsp_hash h = {0};
  uint32_t bad = 0;
  clsp_status st =
    clsp__keys_from_coords(e->ctx, &hc->ks, hc->coords, hc->n, &keys, &bad, &ev);
  if (st == CLSP_SUCCESS && bad != CLSP_NONE_U32) st = CLSP_ERROR_OUT_OF_RANGE;
  if (st == CLSP_SUCCESS) st = clsp__hash_build(e->ctx, keys, hc->n, &h, &ev);
  if (st == CLSP_SUCCESS) st = clsp__events_finish(e->ctx, &ev, NULL, 0, device_ms, NULL);
  if (st == CLSP_SUCCESS && sel) st = clsp__hash_firsts(e->ctx, &h, sel, dup_row, NULL);
  if (st == CLSP_SUCCESS && sel) {
    double mean = 0;
    uint32_t max = 0;
    st = clsp__hash_probe_stats(e->ctx, &h, &mean, &max);
    printf("  %u keys: probe length mean %.3f, max %u\n", hc->n, mean, max);
  }
  clsp__hash_release(e->ctx, &h);
  clsp__buffer_release(e->ctx, &keys);
  clsp__events_release(&ev);
  return st;
}

static clsp_status hash_once(ck_env *e, void *arg, double *device_ms) {
  return hash_run(e, arg, NULL, NULL, device_ms);
}

/* The voxel sites plus repeats of some of them: the first row of every
 * key must be selected, every repeat not, the first repeat reported. */
int ck_hash(ck_env *e) {
  uint32_t n0 = (uint32_t)e->vox.n, reps = n0 < 1000 ? n0 : 1000, n = n0 + reps;
  int32_t *rows = malloc((size_t)n * 16);
  uint32_t *sel = malloc((size_t)n * 4);
  hash_case hc = {.n = n};
  cl_mem sel_buf = NULL;
  uint32_t dup = 0;
  uint64_t s = e->seed + 7;
  int bad = !rows || !sel || n0 == 0;
  if (!bad) {
    memcpy(rows, e->vox.coords, (size_t)n0 * 16);
    for (uint32_t i = 0; i < reps; i++)
      memcpy(rows + 4 * (n0 + i), e->vox.coords + 4 * (ck_next(&s) % n0), 16);
    bad =
      clsp__keyspec(e->ctx, 3, e->vox.shape, 1, "in", &hc.ks) != CLSP_SUCCESS ||
      clsp__buffer_create(e->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)n * 16,
                          rows, "check coords", &hc.coords) != CLSP_SUCCESS ||
      clsp__buffer_create(e->ctx, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, "check sel",
                          &sel_buf) != CLSP_SUCCESS;
  }
  double ms = 0;
  if (!bad) bad = hash_run(e, &hc, sel_buf, &dup, &ms) != CLSP_SUCCESS;
  if (!bad)
    bad = clEnqueueReadBuffer(queue_of(e->ctx), sel_buf, CL_TRUE, 0, (size_t)n * 4, sel,
                              0, NULL, NULL) != CL_SUCCESS;
  for (uint32_t i = 0; !bad && i < n; i++) bad = sel[i] != (i < n0 ? i : CLSP_NONE_U32);
  if (!bad && reps > 0 && dup != n0) {
    printf("  first repeated row %u, expected %u\n", dup, n0);
    bad = 1;
  }
  if (!bad) bad = ck_time(e, "keys + hash build", hash_once, &hc, 0);
  clsp__buffer_release(e->ctx, &hc.coords);
  clsp__buffer_release(e->ctx, &sel_buf);
  free(rows);
  free(sel);
  return bad;
}

/* ---- rulebooks ---- */

static int compare_rulebook(ck_env *e, const clsp_rulebook *rb, const ref_rulebook *ref) {
  clsp_rulebook_info i;
  clsp_rulebook_describe(rb, &i);
  if (i.n_out != ref->n_out || i.n_pairs != ref->start[ref->kvol]) {
    printf("  %zu outputs, %zu pairs; reference %zu, %zu\n", i.n_out, i.n_pairs,
           ref->n_out, ref->start[ref->kvol]);
    return 1;
  }
  uint32_t *start = malloc((i.kernel_volume + 1) * 4);
  uint32_t *in = malloc((i.n_pairs ? i.n_pairs : 1) * 4);
  uint32_t *out = malloc((i.n_pairs ? i.n_pairs : 1) * 4);
  int32_t *oc = malloc((i.n_out ? i.n_out : 1) * 16);
  int bad = !start || !in || !out || !oc ||
            clsp_rulebook_download(e->ctx, rb, start, in, out) != CLSP_SUCCESS ||
            clsp_rulebook_download_out_coords(e->ctx, rb, oc) != CLSP_SUCCESS ||
            memcmp(oc, ref->out_coords, i.n_out * 16) != 0;
  for (size_t t = 0; !bad && t <= i.kernel_volume; t++) bad = start[t] != ref->start[t];
  for (size_t p = 0; !bad && p < i.n_pairs; p++)
    bad = in[p] != ref->in_rows[p] || out[p] != ref->out_rows[p];
  free(start);
  free(in);
  free(out);
  free(oc);
  return bad;
}

typedef struct rb_case {
  clsp_conv_kind kind;
  const clsp_conv_geometry *g;
} rb_case;

static clsp_status rulebook_once(ck_env *e, void *arg, double *device_ms) {
  const rb_case *c = arg;
  clsp_rulebook *rb = NULL;
  clsp_status st = clsp_rulebook_build(e->ctx, c->kind, c->g, e->in, &rb);
  clsp_rulebook_info i = {0};
  if (st == CLSP_SUCCESS) clsp_rulebook_describe(rb, &i);
  *device_ms = i.build_ms;
  clsp_rulebook_destroy(rb);
  return st;
}

static int rulebook_check(ck_env *e, clsp_conv_kind kind, const clsp_conv_geometry *g) {
  ref_geom rg = ck_ref_geom(g);
  ref_rulebook ref;
  if (ref_rulebook_build((int)kind, &rg, e->vox.shape, 1, e->vox.n, e->vox.coords, &ref))
    return 1;
  clsp_rulebook *rb = NULL;
  int bad = clsp_rulebook_build(e->ctx, kind, g, e->in, &rb) != CLSP_SUCCESS ||
            compare_rulebook(e, rb, &ref);
  rb_case c = {kind, g};
  if (!bad) {
    printf("  %zu sites -> %zu, %zu pairs\n", e->vox.n, ref.n_out, ref.start[ref.kvol]);
    bad = ck_time(e, "rulebook build", rulebook_once, &c, 0);
  }
  clsp_rulebook_destroy(rb);
  ref_rulebook_free(&ref);
  return bad;
}

int ck_rulebook_subm(ck_env *e) {
  return rulebook_check(e, CLSP_CONV_SUBMANIFOLD, &ck_geom_subm);
}

int ck_rulebook_regular(ck_env *e) {
  return rulebook_check(e, CLSP_CONV_REGULAR, &ck_geom_regular);
}

int ck_rulebook_transposed(ck_env *e) {
  return rulebook_check(e, CLSP_CONV_TRANSPOSED, &ck_geom_transposed);
}
