/* SPDX-License-Identifier: Apache-2.0 */
/* clsp bench: voxelize a point cloud and run a network (or one layer) on
 * it with seeded random weights; per-layer and per-stage device times
 * (median of --repeat runs after a warm-up), FLOPs, memory; a table on
 * stdout, optional JSON and Chrome trace files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_report.h"
#include "clsp.h"
#include "io/pointcloud.h"
#include "io/scene.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: clsp bench [--net second|minkunet | --layer SPEC] [--input FILE]\n"
          "                  [--voxel-size X,Y,Z] [--range X0,Y0,Z0,X1,Y1,Z1]\n"
          "                  [--repeat R] [--json FILE] [--trace FILE]\n"
          "                  [--device SPEC] [--seed S]\n\n"
          "Voxelizes FILE (.bin KITTI, .pcd, .ply; default: the built-in synthetic\n"
          "scene) and runs the network with seeded random weights: SECOND's\n"
          "VoxelBackBone8x (default) or TorchSparse's MinkUNet, or one layer:\n"
          "  subm:CIN:COUT:K  conv:CIN:COUT:K:S  transposed:CIN:COUT:K:S\n"
          "Reports the median of R runs (default 5) after one warm-up run.\n"
          "GFLOP counts multiply-adds as 2 FLOPs: 2 x pairs x Cin x Cout / 1e9.\n");
}

int clsp_tool_parse_floats(const char *s, float *out, int n) {
  for (int i = 0; i < n; i++) {
    char *end;
    out[i] = strtof(s, &end);
    if (end == s || (i < n - 1 ? *end != ',' : *end != 0)) return 1;
    s = end + 1;
  }
  return 0;
}

static int parse_args(int argc, char **argv, bench_opts *o) {
  memset(o, 0, sizeof *o);
  o->net = "second";
  o->repeat = 5;
  o->seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "clsp bench: %s needs a value (or unknown option)\n", a);
      return 1;
    }
    i++;
    if (!strcmp(a, "--net")) {
      if (strcmp(v, "second") && strcmp(v, "minkunet")) {
        fprintf(stderr, "clsp bench: --net '%s': expected second or minkunet\n", v);
        return 1;
      }
      o->net = v;
    } else if (!strcmp(a, "--layer")) o->layer = v;
    else if (!strcmp(a, "--input")) o->input = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else if (!strcmp(a, "--trace")) o->trace = v;
    else if (!strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "--repeat")) {
      o->repeat = atoi(v);
      if (o->repeat < 1 || o->repeat > BENCH_MAX_RUNS) {
        fprintf(stderr, "clsp bench: --repeat %s: expected 1..%d\n", v, BENCH_MAX_RUNS);
        return 1;
      }
    } else if (!strcmp(a, "--voxel-size")) {
      if (clsp_tool_parse_floats(v, o->voxel_size, 3)) {
        fprintf(stderr, "clsp bench: --voxel-size '%s': expected X,Y,Z\n", v);
        return 1;
      }
      o->has_size = 1;
    } else if (!strcmp(a, "--range")) {
      if (clsp_tool_parse_floats(v, o->range, 6)) {
        fprintf(stderr, "clsp bench: --range '%s': expected X0,Y0,Z0,X1,Y1,Z1\n", v);
        return 1;
      }
      o->has_range = 1;
    } else {
      fprintf(stderr, "clsp bench: unknown option '%s' (see --help)\n", a);
      return 1;
    }
  }
  return 0;
}

static int load_points(const bench_opts *o, float **pts, size_t *n, char *label,
                       size_t cap) {
  char err[512] = "";
  int rc;
  if (o->input) {
    rc = clsp_cloud_read(o->input, pts, n, err, sizeof err);
    snprintf(label, cap, "%s", o->input);
  } else {
    rc = clsp_scene_generate(o->seed, pts, n, err, sizeof err);
    snprintf(label, cap, "built-in scene (seed %llu)", (unsigned long long)o->seed);
  }
  if (rc) fprintf(stderr, "clsp bench: %s\n", err[0] ? err : "cannot read the input");
  return rc;
}

/* Voxelization recipe: the network's, overridden by --voxel-size/--range. */
static clsp_voxelize_options vox_options(const bench_opts *o) {
  clsp_voxelize_options v;
  int mink = !o->layer && !strcmp(o->net, "minkunet");
  clsp_voxelize_defaults(mink ? CLSP_VOXEL_MINKUNET : CLSP_VOXEL_SECOND, &v);
  if (o->has_range) {
    v.recipe = CLSP_VOXEL_RANGE;
    memcpy(v.range, o->range, sizeof v.range);
  }
  if (o->has_size) {
    v.recipe = (mink && !o->has_range) ? CLSP_VOXEL_ROUND : CLSP_VOXEL_RANGE;
    memcpy(v.voxel_size, o->voxel_size, sizeof v.voxel_size);
  }
  return v;
}

/* The single-layer input: the voxels' 4 features tiled to c_in channels. */
static clsp_status widen(clsp_context *ctx, clsp_tensor *vox, int c_in, clsp_tensor **out) {
  clsp_tensor_desc d;
  clsp_tensor_describe(vox, &d);
  size_t n = d.n_sites;
  int32_t *c = malloc(n * 16 + 16);
  float *f4 = malloc(n * 16 + 16), *f = malloc(n * (size_t)c_in * 4 + 4);
  clsp_status st = (c && f4 && f) ? clsp_tensor_download(ctx, vox, c, f4)
                                  : CLSP_ERROR_OUT_OF_HOST_MEMORY;
  if (st == CLSP_SUCCESS) {
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < c_in; k++) f[i * (size_t)c_in + k] = f4[i * 4 + k % 4];
    d.channels = (size_t)c_in;
    d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
    st = clsp_tensor_create(ctx, &d, c, f, out);
  }
  free(c);
  free(f4);
  free(f);
  return st;
}

/* One forward pass: voxelize, (widen), network. Fills run `r`. */
static clsp_status one_pass(bench_state *b, int r) {
  bench_run *run = &b->runs[r];
  clsp_voxelize_options vo = vox_options(&b->o);
  clsp_tensor *vox = NULL, *in = NULL, *out = NULL;
  run->start_ms = clsp_tool_now_ms();
  clsp_status st = clsp_voxelize(b->ctx, &vo, b->points, b->n_points, &vox, &run->vox);
  run->vox_end_ms = clsp_tool_now_ms();
  if (st == CLSP_SUCCESS && b->c_in != 4) st = widen(b->ctx, vox, b->c_in, &in);
  if (st == CLSP_SUCCESS)
    st = net_forward(&b->net, b->ctx, in ? in : vox, run->layers, &out);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(b->ctx);
  run->end_ms = clsp_tool_now_ms();
  if (st != CLSP_SUCCESS)
    fprintf(stderr, "clsp bench: run %d: %s (%d): %s\n", r, clsp_status_string(st), (int)st,
            clsp_context_last_error(b->ctx));
  clsp_tensor_destroy(out);
  clsp_tensor_destroy(in);
  clsp_tensor_destroy(vox);
  return st;
}

static int build_net(bench_state *b) {
  char err[512] = "";
  int rc;
  b->c_in = 4;
  if (b->o.layer) {
    rc = net_build_layer(&b->net, b->ctx, b->o.seed, b->o.layer, &b->c_in, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "layer %s", b->o.layer);
  } else if (!strcmp(b->o.net, "minkunet")) {
    rc = net_build_minkunet(&b->net, b->ctx, b->o.seed, 4, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "minkunet");
  } else {
    rc = net_build_second(&b->net, b->ctx, b->o.seed, 4, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "second");
  }
  if (rc) fprintf(stderr, "clsp bench: %s\n", err);
  return rc;
}

static int run_all(bench_state *b) {
  double t0 = clsp_tool_now_ms();
  int progress = 0;
  for (int r = -1; r < b->o.repeat; r++) { /* run -1: warm-up, not kept */
    if (one_pass(b, r < 0 ? BENCH_MAX_RUNS : r) != CLSP_SUCCESS) return 1;
    double el = clsp_tool_now_ms() - t0;
    if (el > 1000.0) {
      progress = 1;
      fprintf(stderr, "\rclsp bench: %s: %s %d/%d (%.1f s)   ", b->net_name,
              r < 0 ? "warm-up" : "run", r < 0 ? 1 : r + 1, r < 0 ? 1 : b->o.repeat,
              el / 1e3);
      fflush(stderr);
    }
  }
  if (progress) fprintf(stderr, "\n");
  return 0;
}

int clsp_cmd_bench(int argc, char **argv) {
  bench_state *b = calloc(1, sizeof *b);
  if (!b) return 1;
  int rc = parse_args(argc, argv, &b->o);
  if (!rc) rc = load_points(&b->o, &b->points, &b->n_points, b->input_label,
                            sizeof b->input_label);
  clsp_context_options co = {0};
  co.flags = CLSP_CONTEXT_PROFILING;
  co.device = b->o.device;
  clsp_status st = rc ? CLSP_SUCCESS : clsp_context_create(&co, &b->ctx);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp bench: context: %s (%s)\n", clsp_status_string(st),
            clsp_context_last_error(NULL));
    rc = 1;
  }
  if (!rc) rc = build_net(b);
  if (!rc) rc = run_all(b);
  if (!rc) rc = bench_report(b);
  if (b->ctx) net_free(&b->net);
  clsp_context_destroy(b->ctx);
  free(b->points);
  free(b);
  return rc;
}
