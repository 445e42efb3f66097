/* SPDX-License-Identifier: Apache-2.0 */
/* clsp run: a trained network from its SCN ONNX file (NVIDIA's libspconv
 * deployment format) on voxels from .npy files; writes the first output,
 * optionally an intermediate tensor and per-layer statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clsp.h"
#include "clspconv/clspconv.h"
#include "io/npy.h"
#include "io/pointcloud.h"
#include "vox_fields.h"

#define RUN_MAX_REPEAT 100

typedef struct run_opts {
  const char *model, *coords, *feats, *out, *sparse_out, *dump, *stats, *trace, *device,
    *input;
  int repeat, fields, has_size, has_range, max_points;
  int float16; /* --float16-storage */
  float voxel_size[3], range[6];
} run_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: clsp run MODEL.onnx --coords C.npy --feats F.npy --out OUT.npy\n"
          "                [--sparse-out PREFIX] [--dump NAME] [--repeat R]\n"
          "                [--float16-storage]\n"
          "                [--stats S.json|-] [--trace T.json|-] [--device SPEC]\n"
          "       clsp run MODEL.onnx --input SCAN --voxel-size X,Y,Z\n"
          "                --range X0,Y0,Z0,X1,Y1,Z1 [--max-points K] [--fields N]\n"
          "                --out OUT.npy [...]\n\n"
          "Runs the SCN ONNX model on N voxels: C.npy int32 N x (1 + ndim) rows\n"
          "(batch, z, y, x), F.npy float32 N x channels. Writes the first output:\n"
          "dense to OUT.npy (float32, the declared shape with the input's batch),\n"
          "sparse to PREFIX_coords.npy / PREFIX_feats.npy (--sparse-out).\n"
          "--dump NAME also writes tensor (or node) NAME: OUT.NAME.npy when dense,\n"
          "OUT.NAME_coords.npy / OUT.NAME_feats.npy when sparse.\n"
          "--repeat R runs R forwards and reports the median wall time; --stats\n"
          "writes per-layer device time, sites, pairs and peak memory as JSON\n"
          "(timed on a profiling queue, which waits after every layer); --trace a\n"
          "Chrome trace (chrome://tracing, Perfetto) of the last forward.\n"
          "--input voxelizes a scan (.bin, .pcd, .ply) on the device first: the\n"
          "mean of each field of a voxel's points (x y z first; MeanVFE), coordinates\n"
          "(batch, z, y, x),\n"
          "v = floor((p - min) / size) kept inside the range (OpenPCDet's recipe);\n"
          "--max-points K: only the first K points of a voxel in file order count\n"
          "(OpenPCDet's MAX_POINTS_PER_VOXEL: 5 in its KITTI SECOND config, 10 for\n"
          "nuScenes; default 0, every point); --fields N: float32 values per point\n"
          "of a .bin scan, 3..64, each averaged into a channel (default 4: KITTI's\n"
          "x y z intensity; 5: nuScenes' x y z intensity time).\n"
          "--float16-storage keeps weights and sparse tensors as float16 on the\n"
          "device (float32 arithmetic; CLSP_MODEL_FLOAT16_STORAGE).\n"
          "Where the model declares a FLOAT16 input (NVIDIA's exporter does), the\n"
          "features are rounded to float16 on entry, as libspconv's half input is.\n");
}

static int parse_args(int argc, char **argv, run_opts *o) {
  memset(o, 0, sizeof *o);
  o->repeat = 1;
  o->fields = 4;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return -1;
    }
    if (a[0] != '-') {
      if (o->model) {
        fprintf(stderr, "clsp run: '%s': one model file expected (have '%s')\n", a,
                o->model);
        return 1;
      }
      o->model = a;
      continue;
    }
    if (!strcmp(a, "--float16-storage")) {
      o->float16 = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "clsp run: %s needs a value (or unknown option)\n", a);
      return 1;
    }
    i++;
    if (!strcmp(a, "--coords"))
      o->coords = v;
    else if (!strcmp(a, "--feats"))
      o->feats = v;
    else if (!strcmp(a, "--out"))
      o->out = v;
    else if (!strcmp(a, "--sparse-out"))
      o->sparse_out = v;
    else if (!strcmp(a, "--dump"))
      o->dump = v;
    else if (!strcmp(a, "--stats"))
      o->stats = v;
    else if (!strcmp(a, "--trace"))
      o->trace = v;
    else if (!strcmp(a, "--device"))
      o->device = v;
    else if (!strcmp(a, "--input"))
      o->input = v;
    else if (!strcmp(a, "--voxel-size") && !clsp_tool_parse_floats(v, o->voxel_size, 3))
      o->has_size = 1;
    else if (!strcmp(a, "--range") && !clsp_tool_parse_floats(v, o->range, 6))
      o->has_range = 1;
    else if (!strcmp(a, "--fields")) {
      if (vox_fields_parse("clsp run", v, &o->fields)) return 1;
    } else if (!strcmp(a, "--max-points")) {
      char *end;
      long k = strtol(v, &end, 10);
      if (*end || end == v || k < 0 || k > (1L << 30)) {
        fprintf(stderr, "clsp run: --max-points '%s': expected 0..%ld (0: every point)\n",
                v, 1L << 30);
        return 1;
      }
      o->max_points = (int)k;
    } else if (!strcmp(a, "--repeat")) {
      char *end;
      long r = strtol(v, &end, 10);
      if (*end || r < 1 || r > RUN_MAX_REPEAT) {
        fprintf(stderr, "clsp run: --repeat '%s': expected 1..%d\n", v, RUN_MAX_REPEAT);
        return 1;
      }
      o->repeat = (int)r;
    } else {
      fprintf(stderr, "clsp run: %s '%s': unknown option or malformed value\n", a, v);
      return 1;
    }
  }
  int voxels = o->coords && o->feats, scan = o->input && o->has_size && o->has_range;
  if (!o->model || voxels == scan || (!o->out && !o->sparse_out)) {
    fprintf(stderr,
            "clsp run: MODEL, either --coords and --feats or --input, --voxel-size and "
            "--range, and --out (or --sparse-out) are required (--help)\n");
    return 1;
  }
  if (o->stats && o->trace && !strcmp(o->stats, "-") && !strcmp(o->trace, "-")) {
    fprintf(stderr, "clsp run: --stats - and --trace - cannot both write to stdout\n");
    return 1;
  }
  return o->input && vox_fields_check("clsp run", o->fields, o->input) ? 1 : 0;
}

typedef struct run_input {
  clsp_npy_array coords, feats;
  int32_t batch;
  float *points; /* --input: n_points x fields */
  size_t n_points, n_sites;
} run_input;

/* --input: a .bin scan of o->fields floats per point, or a PCD / PLY. */
static int read_scan(const run_opts *o, run_input *r) {
  char err[512];
  int rc = clsp_cloud_is_bin(o->input)
             ? clsp_cloud_read_bin(o->input, o->fields, &r->points, &r->n_points, err,
                                   sizeof err)
             : clsp_cloud_read(o->input, &r->points, &r->n_points, err, sizeof err);
  if (rc) fprintf(stderr, "clsp run: %s\n", err);
  return rc != 0;
}

/* Reads and checks the voxels against the model's declared input. */
static int read_input(const run_opts *o, const clsp_model_value_info *in, run_input *r) {
  char err[512];
  if (o->input && in->channels != (size_t)o->fields) {
    fprintf(stderr,
            "clsp run: the model's input '%s' has %zu channels and a scan voxelizes to "
            "one per point field: %d fields read (--fields %zu for a .bin scan of %zu "
            "float32 values per point)\n",
            in->name, in->channels, o->fields, in->channels, in->channels);
    return 1;
  }
  if (o->input) return read_scan(o, r);
  if (clsp_npy_read(o->coords, &r->coords, err, sizeof err) ||
      clsp_npy_read(o->feats, &r->feats, err, sizeof err)) {
    fprintf(stderr, "clsp run: %s\n", err);
    return 1;
  }
  const clsp_npy_array *c = &r->coords, *f = &r->feats;
  if (c->dtype != CLSP_NPY_I32 || c->rank != 2 || c->shape[1] != (size_t)(1 + in->ndim)) {
    fprintf(stderr, "clsp run: %s: int32 N x %d (batch + %d axes) expected\n", o->coords,
            1 + in->ndim, in->ndim);
    return 1;
  }
  if (f->dtype != CLSP_NPY_F32 || f->rank != 2 || f->shape[1] != in->channels ||
      f->shape[0] != c->shape[0]) {
    fprintf(stderr,
            "clsp run: %s: float32 %zu x %zu expected (the model's input '%s' has %zu "
            "channels)\n",
            o->feats, c->shape[0], in->channels, in->name, in->channels);
    return 1;
  }
  const int32_t *rows = c->data;
  r->batch = 1;
  r->n_sites = c->shape[0];
  for (size_t i = 0; i < c->shape[0]; i++)
    if (rows[i * c->shape[1]] >= r->batch) r->batch = rows[i * c->shape[1]] + 1;
  return 0;
}

static int write_result(clsp_model *m, const char *name, const char *dense_path,
                        const char *prefix) {
  clsp_model_value_info info;
  char err[512], path[1024];
  clsp_status st = clsp_model_result(m, name, &info);
  if (st != CLSP_SUCCESS) return 1;
  size_t n = 1, shape[CLSP_MODEL_MAX_DIMS];
  for (int k = 0; info.dense && k < info.n_dims; k++)
    n *= (shape[k] = (size_t)info.dims[k]);
  if (!info.dense) n = info.n_sites * info.channels;
  float *v = malloc((n ? n : 1) * sizeof *v);
  int32_t *c =
    info.dense
      ? NULL
      : malloc((info.n_sites ? info.n_sites : 1) * (size_t)(1 + info.ndim) * sizeof *c);
  int rc = !v || (!info.dense && !c);
  if (!rc && clsp_model_result_download(m, name, v, c) != CLSP_SUCCESS) rc = 1;
  if (!rc && info.dense) {
    if (!dense_path) fprintf(stderr, "clsp run: '%s' is dense: give --out\n", info.name);
    rc = !dense_path || clsp_npy_write_nd(dense_path, CLSP_NPY_F32, info.n_dims, shape, v,
                                          err, sizeof err);
  } else if (!rc) {
    if (!prefix)
      fprintf(stderr, "clsp run: '%s' is sparse: give --sparse-out\n", info.name);
    size_t cs[2] = {info.n_sites, (size_t)(1 + info.ndim)},
           fs[2] = {info.n_sites, info.channels};
    snprintf(path, sizeof path, "%s_coords.npy", prefix ? prefix : "");
    rc = !prefix || clsp_npy_write(path, CLSP_NPY_I32, 2, cs, c, err, sizeof err);
    snprintf(path, sizeof path, "%s_feats.npy", prefix ? prefix : "");
    rc = rc || clsp_npy_write(path, CLSP_NPY_F32, 2, fs, v, err, sizeof err);
  }
  if (rc && (dense_path || prefix))
    fprintf(stderr, "clsp run: writing '%s' failed: %s\n", info.name, err);
  free(v);
  free(c);
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int write_stats(const run_opts *o, clsp_context *ctx, clsp_model *m,
                       const clsp_model_stats *s, const double *wall, double load_ms,
                       size_t n_sites) {
  FILE *f = clsp_tool_open_out(o->stats);
  if (!f) return 1;
  fprintf(f, "{\n  \"model\": ");
  clsp_tool_json_string(f, o->model);
  fprintf(f, ",\n  \"device\": ");
  clsp_tool_json_string(f, clsp_context_caps(ctx)->device_name);
  fprintf(f, ",\n  \"input_sites\": %zu,\n  \"load_ms\": %.3f,\n  \"repeat\": %d,\n",
          n_sites, load_ms, o->repeat);
  fprintf(f, "  \"wall_ms\": [");
  for (int r = 0; r < o->repeat; r++) fprintf(f, "%s%.3f", r ? ", " : "", wall[r]);
  double med[RUN_MAX_REPEAT];
  memcpy(med, wall, (size_t)o->repeat * sizeof *wall);
  qsort(med, (size_t)o->repeat, sizeof *med, cmp_double);
  fprintf(f, "],\n  \"median_wall_ms\": %.3f,\n  \"device_ms\": %.3f,\n",
          med[o->repeat / 2], s->device_ms);
  fprintf(f,
          "  \"peak_device_bytes\": %llu,\n  \"held_device_bytes\": %llu,\n"
          "  \"rulebooks_built\": %zu,\n  \"layers\": [\n",
          (unsigned long long)s->peak_device_bytes,
          (unsigned long long)s->held_device_bytes, s->rulebooks_built);
  size_t nodes = 0;
  clsp_model_node_count(m, &nodes);
  for (size_t i = 0; i < nodes; i++) {
    clsp_model_layer_stats l;
    clsp_model_node_stats(m, i, &l);
    fprintf(f, "    {\"name\": ");
    clsp_tool_json_string(f, l.name);
    fprintf(f, ", \"op\": ");
    clsp_tool_json_string(f, l.op);
    fprintf(f,
            ", \"device_ms\": %.4f, \"rulebook_ms\": %.4f, \"in_sites\": %zu, "
            "\"out_sites\": %zu, \"pairs\": %zu, \"epilogue_of\": ",
            l.device_ms, l.rulebook_ms, l.in_sites, l.out_sites, l.pairs);
    if (l.epilogue_of)
      clsp_tool_json_string(f, l.epilogue_of);
    else
      fprintf(f, "null");
    fprintf(f, "}%s\n", i + 1 < nodes ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  return clsp_tool_close_out(f);
}

/* One frame: voxelize the scan (--input) and run, or run the voxels. */
static clsp_status run_frame(const run_opts *o, clsp_context *ctx, clsp_model *m,
                             run_input *in, clsp_model_stats *s) {
  const char *keep[1] = {o->dump};
  size_t n_keep = o->dump ? 1 : 0;
  if (!o->input)
    return clsp_model_forward_host(m, in->coords.data, in->feats.data, in->n_sites,
                                   in->batch, keep, n_keep, s);
  clsp_voxelize_options v = {0};
  v.recipe = CLSP_VOXEL_RANGE;
  memcpy(v.voxel_size, o->voxel_size, sizeof v.voxel_size);
  memcpy(v.range, o->range, sizeof v.range);
  v.max_points_per_voxel = o->max_points;
  clsp_tensor *t = NULL;
  clsp_status st = vox_fields_run(ctx, &v, in->points, in->n_points, o->fields, &t, NULL);
  clsp_tensor_desc d;
  if (st == CLSP_SUCCESS && (st = clsp_tensor_describe(t, &d)) == CLSP_SUCCESS) {
    in->n_sites = d.n_sites;
    in->batch = d.batch_size;
    st = clsp_model_forward(m, t, keep, n_keep, s);
  }
  clsp_tensor_destroy(t);
  return st;
}

/* Host calls of the last forward on one track, their device stages back
 * to back on another (durations are measured, device start times not). */
static int write_trace(const char *path, clsp_model *m) {
  FILE *f = clsp_tool_open_out(path);
  if (!f) return 1;
  size_t nodes = 0;
  clsp_model_node_count(m, &nodes);
  clsp_model_layer_stats l;
  clsp_model_node_stats(m, 0, &l);
  double t0 = l.host_start_ms, dev_t = 0.0;
  fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [");
  int first = 1;
  for (size_t i = 0; i < nodes; i++) {
    clsp_model_node_stats(m, i, &l);
    double h0 = l.host_start_ms - t0;
    clsp_tool_trace_event(f, &first, l.name, "host", 1, h0,
                          l.host_end_ms - l.host_start_ms);
    if (dev_t < h0) dev_t = h0;
    for (int st = 0; st < CLSP_STAGE_COUNT; st++) {
      if (l.stage_ms[st] <= 0) continue;
      char nm[160];
      snprintf(nm, sizeof nm, "%s %s", l.name, clsp_stage_name((clsp_stage)st));
      clsp_tool_trace_event(f, &first, nm, clsp_stage_name((clsp_stage)st), 2, dev_t,
                            l.stage_ms[st]);
      dev_t += l.stage_ms[st];
    }
  }
  fprintf(f, "\n]}\n");
  return clsp_tool_close_out(f);
}

static FILE *summary_stream(const run_opts *o) {
  int doc = (o->stats && !strcmp(o->stats, "-")) || (o->trace && !strcmp(o->trace, "-"));
  return doc ? stderr : stdout;
}

/* Runs the forwards; wall[r] is each one's wall time (waited). */
static int run_frames(const run_opts *o, clsp_context *ctx, clsp_model *m, run_input *in,
                      double *wall, clsp_model_stats *s) {
  for (int r = 0; r < o->repeat; r++) {
    double t0 = clsp_tool_now_ms();
    clsp_status st = run_frame(o, ctx, m, in, o->stats || o->trace ? s : NULL);
    if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
    wall[r] = clsp_tool_now_ms() - t0;
    if (st != CLSP_SUCCESS) {
      fprintf(stderr, "clsp run: forward: %s: %s\n", clsp_status_string(st),
              clsp_context_last_error(ctx));
      return 1;
    }
  }
  double med[RUN_MAX_REPEAT];
  memcpy(med, wall, (size_t)o->repeat * sizeof *wall);
  qsort(med, (size_t)o->repeat, sizeof *med, cmp_double);
  /* The summary goes to stderr when a document (--stats - / --trace -)
   * has stdout. */
  FILE *sum = summary_stream(o);
  fprintf(sum, "%zu voxels, batch %d: median %.1f ms per %s over %d run(s) on %s\n",
          in->n_sites, (int)in->batch, med[o->repeat / 2],
          o->input ? "voxelization + forward" : "forward", o->repeat,
          clsp_context_caps(ctx)->device_name);
  if (o->repeat > 1) { /* first-frame latency (BENCHMARKS.md) */
    memcpy(med, wall + 1, (size_t)(o->repeat - 1) * sizeof *wall);
    qsort(med, (size_t)(o->repeat - 1), sizeof *med, cmp_double);
    double rest = med[(o->repeat - 1) / 2];
    fprintf(sum, "first %s %.1f ms, median of the other %d %.1f ms (%.2fx)\n",
            o->input ? "frame" : "forward", wall[0], o->repeat - 1, rest, wall[0] / rest);
  }
  return 0;
}

/* The dump's file names, from --out's stem (or --sparse-out). */
static int write_dump(const run_opts *o, clsp_model *m) {
  char dense[1024], prefix[1024];
  const char *base = o->out ? o->out : o->sparse_out;
  size_t len = strlen(base);
  if (len > 4 && !strcmp(base + len - 4, ".npy")) len -= 4;
  snprintf(dense, sizeof dense, "%.*s.%s.npy", (int)len, base, o->dump);
  snprintf(prefix, sizeof prefix, "%.*s.%s", (int)len, base, o->dump);
  return write_result(m, o->dump, dense, prefix);
}

static int run_model(const run_opts *o, clsp_context *ctx) {
  double t0 = clsp_tool_now_ms();
  clsp_model *m = NULL;
  clsp_model_options mo = {o->float16 ? CLSP_MODEL_FLOAT16_STORAGE : 0u};
  clsp_status st = clsp_model_load_file(ctx, o->model, &mo, &m);
  double load_ms = clsp_tool_now_ms() - t0;
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp run: %s: %s: %s\n", o->model, clsp_status_string(st),
            clsp_context_last_error(ctx));
    return 1;
  }
  clsp_model_value_info in;
  run_input input;
  memset(&input, 0, sizeof input);
  clsp_model_stats s;
  memset(&s, 0, sizeof s);
  double wall[RUN_MAX_REPEAT];
  clsp_model_input(m, &in);
  int rc = read_input(o, &in, &input);
  if (!rc) rc = run_frames(o, ctx, m, &input, wall, &s);
  if (!rc) rc = write_result(m, NULL, o->out, o->sparse_out);
  if (!rc && o->dump) rc = write_dump(o, m);
  if (!rc && o->stats) rc = write_stats(o, ctx, m, &s, wall, load_ms, input.n_sites);
  if (!rc && o->trace) rc = write_trace(o->trace, m);
  if (rc && clsp_context_last_error(ctx)[0])
    fprintf(stderr, "clsp run: %s\n", clsp_context_last_error(ctx));
  clsp_npy_free(&input.coords);
  clsp_npy_free(&input.feats);
  free(input.points);
  clsp_model_destroy(m);
  return rc;
}

int clsp_cmd_run(int argc, char **argv) {
  run_opts o;
  int parsed = parse_args(argc, argv, &o);
  if (parsed) return parsed < 0 ? 0 : 2; /* --help, or a usage error */
  clsp_context_options co = {.log = clsp_tool_log_notes};
  co.device = o.device;
  if (o.stats || o.trace) co.flags |= CLSP_CONTEXT_PROFILING;
  clsp_context *ctx = NULL;
  clsp_status st = clsp_context_create(&co, &ctx);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp run: no context: %s (%d)\n", clsp_status_string(st), st);
    return 1;
  }
  int rc = run_model(&o, ctx);
  clsp_context_destroy(ctx);
  return rc;
}
