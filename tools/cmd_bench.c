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
#include "progress.h"
#include "scene/scene.h"
#include "vox_fields.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: clsp bench [--net second|minkunet | --layer SPEC] [--input FILE]\n"
          "                  [--voxel-size X,Y,Z] [--range X0,Y0,Z0,X1,Y1,Z1]\n"
          "                  [--fields N] [--repeat R] [--json FILE|-] [--trace FILE|-]\n"
          "                  [--device SPEC] [--seed S] [--quiet]\n\n"
          "Voxelizes FILE (.bin, .pcd, .ply; default: the built-in synthetic\n"
          "scene) and runs the network with seeded random weights: SECOND's\n"
          "VoxelBackBone8x (default) or TorchSparse's MinkUNet, or one layer:\n"
          "  subm:CIN:COUT:K  conv:CIN:COUT:K:S  transposed:CIN:COUT:K:S\n"
          "Reports the median of R runs (default 5) after one warm-up run.\n"
          "GFLOP counts multiply-adds as 2 FLOPs: 2 x pairs x Cin x Cout / 1e9.\n"
          "--fields N: float32 values per point of a .bin scan, x y z first\n"
          "  (default 4: KITTI; 5: nuScenes; 6: ScanNet; 3: xyz only); the voxel\n"
          "  features are the means of all N (MeanVFE), so the network takes N\n"
          "  channels.\n"
          "--json - / --trace - write to stdout (the table then goes to stderr).\n"
          "Progress (warm-up, each run, the running median) goes to stderr;\n"
          "--quiet silences it. Before the warm-up run, every kernel is built\n"
          "and launched once (clsp_context_warmup_launches: the start-up of an\n"
          "application; fast after `clsp warmup`), so the warm-up run is a\n"
          "first frame. Exit status: 0 ok, 1 failure, 2 usage error.\n");
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

static int bad_value(const char *opt, const char *v, const char *expected) {
  fprintf(stderr, "clsp bench: %s '%s': expected %s (see --help)\n", opt, v, expected);
  return 2;
}

/* Options with a value; returns 0, or 2 after naming the problem. */
static int parse_value(bench_opts *o, const char *a, const char *v) {
  char *end;
  if (!strcmp(a, "--net")) {
    if (strcmp(v, "second") && strcmp(v, "minkunet"))
      return bad_value(a, v, "second or minkunet");
    o->net = v;
  } else if (!strcmp(a, "--layer"))
    o->layer = v;
  else if (!strcmp(a, "--input"))
    o->input = v;
  else if (!strcmp(a, "--json"))
    o->json = v;
  else if (!strcmp(a, "--trace"))
    o->trace = v;
  else if (!strcmp(a, "--device"))
    o->device = v;
  else if (!strcmp(a, "--seed")) {
    o->seed = strtoull(v, &end, 0);
    if (end == v || *end) return bad_value(a, v, "an unsigned integer");
  } else if (!strcmp(a, "--repeat")) {
    long r = strtol(v, &end, 10);
    if (end == v || *end || r < 1 || r > BENCH_MAX_RUNS)
      return bad_value(a, v, "an integer in 1..100");
    o->repeat = (int)r;
  } else if (!strcmp(a, "--fields")) {
    if (vox_fields_parse("clsp bench", v, &o->fields)) return 2;
  } else if (!strcmp(a, "--voxel-size")) {
    if (clsp_tool_parse_floats(v, o->voxel_size, 3)) return bad_value(a, v, "X,Y,Z");
    o->has_size = 1;
  } else if (!strcmp(a, "--range")) {
    if (clsp_tool_parse_floats(v, o->range, 6))
      return bad_value(a, v, "X0,Y0,Z0,X1,Y1,Z1");
    o->has_range = 1;
  } else {
    fprintf(stderr, "clsp bench: unknown option '%s' (see --help)\n", a);
    return 2;
  }
  return 0;
}

/* A malformed --layer spec is a usage error, found before any file or
 * device is touched: net_build_layer() checks the spec before it needs a
 * context, and its messages about the spec start with "--layer". */
static int check_layer_spec(const char *spec) {
  net *tmp = calloc(1, sizeof *tmp);
  char err[512] = "";
  int c_in = 0, rc = 0;
  if (tmp && net_build_layer(tmp, NULL, 0, spec, &c_in, err, sizeof err) &&
      !strncmp(err, "--layer", 7)) {
    fprintf(stderr, "clsp bench: %s\n", err);
    rc = 2;
  }
  if (tmp) net_free(tmp); /* the layer's host weights */
  free(tmp);
  return rc;
}

/* Combinations the options cannot take; 0 or 2. */
static int check_opts(const bench_opts *o) {
  if (o->layer && check_layer_spec(o->layer)) return 2;
  if (vox_fields_check("clsp bench", o->fields, o->input)) return 2;
  if (o->json && o->trace && !strcmp(o->json, "-") && !strcmp(o->trace, "-")) {
    fprintf(stderr, "clsp bench: --json - and --trace - cannot both write to stdout\n");
    return 2;
  }
  return 0;
}

void bench_opts_defaults(bench_opts *o) {
  memset(o, 0, sizeof *o);
  o->net = "second";
  o->repeat = 5;
  o->seed = 1;
  o->fields = 4;
}

/* Returns 0 to run, 2 on a usage error, -1 after --help. */
static int parse_args(int argc, char **argv, bench_opts *o) {
  bench_opts_defaults(o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return -1;
    }
    if (!strcmp(a, "--quiet")) {
      o->quiet = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "clsp bench: %s needs a value (or is unknown; see --help)\n", a);
      return 2;
    }
    i++;
    int rc = parse_value(o, a, v);
    if (rc) return rc;
  }
  return check_opts(o);
}

int bench_load_points(const char *tool, const bench_opts *o, float **pts, size_t *n,
                      char *label, size_t cap) {
  char err[512] = "";
  int rc;
  if (o->input && clsp_cloud_is_bin(o->input)) {
    rc = clsp_cloud_read_bin(o->input, o->fields, pts, n, err, sizeof err);
    snprintf(label, cap, "%s", o->input);
  } else if (o->input) {
    rc = clsp_cloud_read(o->input, pts, n, err, sizeof err);
    snprintf(label, cap, "%s", o->input);
  } else {
    rc = clsp_scene_generate(o->seed, pts, n, err, sizeof err);
    snprintf(label, cap, "built-in scene (seed %llu)", (unsigned long long)o->seed);
  }
  if (rc) fprintf(stderr, "%s: %s\n", tool, err[0] ? err : "cannot read the input");
  return rc ? 1 : 0;
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

/* The single-layer input: the voxels' features tiled to c_in channels. */
static clsp_status widen(clsp_context *ctx, clsp_tensor *vox, int c_in,
                         clsp_tensor **out) {
  clsp_tensor_desc d;
  clsp_tensor_describe(vox, &d);
  size_t n = d.n_sites, ch = d.channels;
  int32_t *c = malloc(n * 16 + 16);
  float *fv = malloc(n * ch * 4 + 4), *f = malloc(n * (size_t)c_in * 4 + 4);
  clsp_status st = (c && fv && f) ? clsp_tensor_download(ctx, vox, c, fv)
                                  : CLSP_ERROR_OUT_OF_HOST_MEMORY;
  if (st == CLSP_SUCCESS) {
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < c_in; k++)
        f[i * (size_t)c_in + k] = fv[i * ch + (size_t)k % ch];
    d.channels = (size_t)c_in;
    d.flags = CLSP_TENSOR_TRUSTED_UNIQUE;
    st = clsp_tensor_create(ctx, &d, c, f, out);
  }
  free(c);
  free(fv);
  free(f);
  return st;
}

clsp_status bench_one_pass(bench_state *b, int r) {
  bench_run *run = &b->runs[r];
  clsp_voxelize_options vo = vox_options(&b->o);
  clsp_tensor *vox = NULL, *in = NULL, *out = NULL;
  run->start_ms = clsp_tool_now_ms();
  clsp_status st =
    vox_fields_run(b->ctx, &vo, b->points, b->n_points, b->o.fields, &vox, &run->vox);
  run->vox_end_ms = clsp_tool_now_ms();
  if (st == CLSP_SUCCESS && b->c_in != b->o.fields) st = widen(b->ctx, vox, b->c_in, &in);
  if (st == CLSP_SUCCESS)
    st = net_forward(&b->net, b->ctx, in ? in : vox, run->layers, &out);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(b->ctx);
  run->end_ms = clsp_tool_now_ms();
  if (st != CLSP_SUCCESS)
    fprintf(stderr, "%s: run %d: %s (%d): %s\n", b->tool, r, clsp_status_string(st),
            (int)st, clsp_context_last_error(b->ctx));
  clsp_tensor_destroy(out);
  clsp_tensor_destroy(in);
  clsp_tensor_destroy(vox);
  return st;
}

int bench_build_net(bench_state *b) {
  char err[512] = "";
  int rc;
  b->c_in = b->o.fields;
  if (b->o.layer) {
    rc =
      net_build_layer(&b->net, b->ctx, b->o.seed, b->o.layer, &b->c_in, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "layer %s", b->o.layer);
  } else if (!strcmp(b->o.net, "minkunet")) {
    rc = net_build_minkunet(&b->net, b->ctx, b->o.seed, b->c_in, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "minkunet");
  } else {
    rc = net_build_second(&b->net, b->ctx, b->o.seed, b->c_in, err, sizeof err);
    snprintf(b->net_name, sizeof b->net_name, "second");
  }
  if (rc) fprintf(stderr, "%s: %s\n", b->tool, err);
  return rc ? 1 : 0;
}

/* Warm-up, then the timed runs, with progress on stderr. */
static int run_all(bench_state *b) {
  progress p;
  progress_begin(&p, "clsp bench", b->net_name, 1, b->o.repeat, b->o.quiet);
  int rc = 0;
  for (int r = -1; r < b->o.repeat && !rc; r++) { /* run -1: warm-up, not kept */
    bench_run *run = &b->runs[r < 0 ? BENCH_MAX_RUNS : r];
    progress_pass_start(&p, r);
    if (bench_one_pass(b, r < 0 ? BENCH_MAX_RUNS : r) != CLSP_SUCCESS)
      rc = 1;
    else
      progress_pass_done(&p, r, run->end_ms - run->start_ms);
  }
  progress_end(&p);
  return rc;
}

int bench_start_up(bench_state *b) {
  double t0 = clsp_tool_now_ms();
  clsp_status st = clsp_context_warmup_launches(b->ctx);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "%s: start-up: %s: %s\n", b->tool, clsp_status_string(st),
            clsp_context_last_error(b->ctx));
    return 1;
  }
  if (!b->o.quiet)
    fprintf(stderr, "%s: start-up (every kernel built and launched once) %.1f ms\n",
            b->tool, clsp_tool_now_ms() - t0);
  return 0;
}

int clsp_cmd_bench(int argc, char **argv) {
  bench_state *b = calloc(1, sizeof *b);
  if (!b) return 1;
  b->tool = "clsp bench";
  int rc = parse_args(argc, argv, &b->o);
  if (rc < 0) {
    free(b);
    return 0; /* --help */
  }
  if (!rc) rc = bench_setup(b, 0);
  if (!rc) rc = run_all(b);
  if (!rc) rc = bench_report(b);
  bench_free(b);
  return rc;
}

int bench_setup(bench_state *b, uint32_t context_flags) {
  int rc = bench_load_points(b->tool, &b->o, &b->points, &b->n_points, b->input_label,
                             sizeof b->input_label);
  clsp_context_options co = {.log = clsp_tool_log_notes};
  co.flags = CLSP_CONTEXT_PROFILING | context_flags;
  co.device = b->o.device;
  clsp_status st = rc ? CLSP_SUCCESS : clsp_context_create(&co, &b->ctx);
  if (st != CLSP_SUCCESS) {
    clsp_tool_context_fail(b->tool, b->o.device, st);
    rc = 1;
  }
  if (!rc) rc = bench_start_up(b);
  if (!rc) rc = bench_build_net(b);
  return rc;
}

void bench_free(bench_state *b) {
  if (b->ctx) net_free(&b->net);
  clsp_context_destroy(b->ctx);
  free(b->points);
  free(b);
}
