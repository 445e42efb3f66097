/* SPDX-License-Identifier: Apache-2.0 */
/* clsp-bench-rulebook FILE.bin: device times of the rulebook stages on a
 * KITTI scan voxelized with the SECOND recipe (median of 7 runs after a
 * warm-up): hash build, SubM k3 map, regular k3 s2 p1 output sites + map;
 * and the hash's probe lengths. */
#include <stdio.h>
#include <stdlib.h>
#include "pipeline.h"
#include "ref_voxel.h"

#define RUNS 7

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v) {
  qsort(v, RUNS, sizeof *v, cmp_d);
  return v[RUNS / 2];
}

static int fail(clsp_context *ctx, const char *what) {
  fprintf(stderr, "%s: %s\n", what, ctx ? clsp_context_last_error(ctx) : "");
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: clsp-bench-rulebook FILE.bin [device]\n");
    return 2;
  }
  float *pts = NULL;
  size_t np = 0;
  ref_voxels vx;
  if (ref_load_kitti_bin(argv[1], &pts, &np) || ref_voxelize_second(pts, np, 0, &vx)) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  free(pts);
  clsp_context_options o = {0};
  o.flags = CLSP_CONTEXT_PROFILING;
  o.device = argc > 2 ? argv[2] : NULL;
  clsp_context *ctx = NULL;
  if (clsp_context_create(&o, &ctx) != CLSP_SUCCESS) return fail(NULL, "context");
  clsp_tensor_desc d = {3, {vx.shape[0], vx.shape[1], vx.shape[2], 1}, 1, vx.n, 4, 0};
  clsp_tensor *t = NULL;
  if (clsp_tensor_create(ctx, &d, vx.coords, vx.feats, &t) != CLSP_SUCCESS)
    return fail(ctx, "tensor");
  clsp_conv_geometry sub = {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  clsp_conv_geometry down = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  clsp_keyspec ks;
  double hash_ms[RUNS], sub_ms[RUNS], reg_ms[RUNS], mean = 0;
  uint32_t maxp = 0, n = (uint32_t)vx.n, bad;
  size_t sub_pairs = 0, reg_pairs = 0, reg_out = 0;
  if (clsp__keyspec(ctx, 3, d.shape, 1, "in", &ks) != CLSP_SUCCESS) return fail(ctx, "keys");
  for (int r = -1; r < RUNS; r++) {
    clsp_evlist ev = {0};
    cl_mem keys = NULL;
    clsp_hash h;
    if (clsp__keys_from_coords(ctx, &ks, t->coords, n, &keys, &bad, &ev) ||
        clsp__hash_build(ctx, keys, n, &h, &ev))
      return fail(ctx, "hash");
    double ms = clsp__ev_done(ctx, &ev);
    if (r == 0 && clsp__hash_probe_stats(ctx, &h, &mean, &maxp)) return fail(ctx, "stats");
    clsp__hash_release(ctx, &h);
    clsp__buffer_release(ctx, &keys);
    clsp_rulebook *a = NULL, *b = NULL;
    if (clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, t, &a) ||
        clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, t, &b))
      return fail(ctx, "rulebook");
    clsp_rulebook_info ia, ib;
    clsp_rulebook_describe(a, &ia);
    clsp_rulebook_describe(b, &ib);
    if (r >= 0) {
      hash_ms[r] = ms;
      sub_ms[r] = ia.build_ms;
      reg_ms[r] = ib.build_ms;
    }
    sub_pairs = ia.n_pairs;
    reg_pairs = ib.n_pairs;
    reg_out = ib.n_out;
    clsp_rulebook_destroy(a);
    clsp_rulebook_destroy(b);
  }
  const clsp_device_caps *c = clsp_context_caps(ctx);
  printf("device: %s (%s hash path)\n", c->device_name,
         c->int64_atomics ? "64-bit" : "32-bit");
  printf("input: %zu sites, shape (%d, %d, %d), 27 offsets, median of %d runs\n", vx.n,
         (int)vx.shape[0], (int)vx.shape[1], (int)vx.shape[2], RUNS);
  printf("hash probe length (slots read per hit): mean %.3f, max %u\n", mean, maxp);
  double hm = median(hash_ms), sm = median(sub_ms), rm = median(reg_ms);
  printf("hash build (keys + insert): %8.3f ms  %8.2f M sites/s\n", hm, n / hm / 1e3);
  printf("SubM k3 rulebook:           %8.3f ms  %8.2f M pairs/s  (%zu pairs, incl. hash)\n",
         sm, sub_pairs / sm / 1e3, sub_pairs);
  printf("regular k3 s2 p1 rulebook:  %8.3f ms  %8.2f M pairs/s  (%zu out sites, %zu pairs, "
         "incl. hash)\n", rm, reg_pairs / rm / 1e3, reg_out, reg_pairs);
  clsp_tensor_destroy(t);
  clsp_context_destroy(ctx);
  ref_voxels_free(&vx);
  return 0;
}
