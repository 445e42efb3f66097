/* SPDX-License-Identifier: Apache-2.0 */
/* clsp pool: sparse max or average pooling (and its backward) from .npy
 * files. Output sites are those of the regular conv with the same kernel,
 * stride and padding (clsp_pool_forward in train.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clsp.h"
#include "clspconv/clspconv.h"
#include "io/npy.h"

static const char pool_usage[] =
  "usage: clsp pool --type max|avg --coords C.npy --feats F.npy --shape D,H,W\n"
  "                 --batch N --kernel K[,K..] [--stride S[,..]] [--padding P[,..]]\n"
  "                 --out-coords OC.npy --out-feats OF.npy\n"
  "                 [--grad-out DY.npy --grad-feats DX.npy] [--device SPEC]\n"
  "  max: over the window's active inputs; gradient to the arg-max (lowest row on\n"
  "       ties). avg: mean over the active inputs. DY rows in the order of\n"
  "       --out-coords, DX rows in the order of --coords. Stride defaults to the\n"
  "       kernel, padding to 0.\n";

typedef struct pool_args {
  clsp_pool_type type;
  const char *coords, *feats, *out_coords, *out_feats, *grad_out, *grad_feats, *device;
  const char *shape, *batch, *kernel, *stride, *padding, *type_name;
  int ndim;
  int32_t dims[CLSP_MAX_DIMS], n_batch;
  clsp_conv_geometry g;
} pool_args;

static int pool_fail(const char *fmt, const char *detail) {
  fprintf(stderr, "clsp pool: ");
  fprintf(stderr, fmt, detail);
  fprintf(stderr, "\n");
  return 0;
}

/* Comma-separated ints >= min; one value applies to every axis when
 * `ndim` > 0. Returns the count (ndim when expanded) or -1. */
static int parse_axes(const char *opt, const char *s, int min, int ndim, int32_t *out) {
  int32_t v[CLSP_MAX_DIMS];
  int n = 0;
  for (const char *p = s; p && *p;) {
    char *end;
    errno = 0;
    long x = strtol(p, &end, 10);
    if (end == p || errno || x < min || x > 1 << 30 || (*end && *end != ',') ||
        n == CLSP_MAX_DIMS) {
      fprintf(stderr, "clsp pool: %s '%s': expected 1 to %d integers >= %d\n", opt, s,
              CLSP_MAX_DIMS, min);
      return -1;
    }
    v[n++] = (int32_t)x;
    p = *end ? end + 1 : end;
  }
  if (n == 0 || (ndim > 0 && n != 1 && n != ndim)) {
    fprintf(stderr, "clsp pool: %s '%s': give 1 or %d values\n", opt, s ? s : "",
            ndim > 0 ? ndim : 1);
    return -1;
  }
  int count = ndim > 0 ? ndim : n;
  for (int a = 0; a < count; a++) out[a] = v[n == 1 ? 0 : a];
  return count;
}

static int parse_pool_args(int argc, char **argv, pool_args *a) {
  static const char *const opts[] = {"--type",      "--coords",   "--feats",
                                     "--shape",     "--batch",    "--kernel",
                                     "--stride",    "--padding",  "--out-coords",
                                     "--out-feats", "--grad-out", "--grad-feats",
                                     "--device"};
  const char **dst[] = {&a->type_name,  &a->coords,    &a->feats,    &a->shape,
                        &a->batch,      &a->kernel,    &a->stride,   &a->padding,
                        &a->out_coords, &a->out_feats, &a->grad_out, &a->grad_feats,
                        &a->device};
  for (int i = 1; i < argc; i++) {
    size_t k = 0;
    while (k < sizeof opts / sizeof opts[0] && strcmp(argv[i], opts[k])) k++;
    if (k == sizeof opts / sizeof opts[0]) {
      fputs(pool_usage, stderr);
      return pool_fail("unknown option '%s'", argv[i]);
    }
    if (i + 1 >= argc) return pool_fail("%s needs a value", argv[i]);
    *dst[k] = argv[++i];
  }
  const char *need[] = {a->type_name, a->coords, a->feats,      a->shape,
                        a->batch,     a->kernel, a->out_coords, a->out_feats};
  static const char *const need_name[] = {"--type",       "--coords",   "--feats",
                                          "--shape",      "--batch",    "--kernel",
                                          "--out-coords", "--out-feats"};
  for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
    if (!need[k]) {
      fputs(pool_usage, stderr);
      return pool_fail("%s is required", need_name[k]);
    }
  if (!a->grad_out != !a->grad_feats)
    return pool_fail("%s", "--grad-out and --grad-feats go together");
  if (!strcmp(a->type_name, "max"))
    a->type = CLSP_POOL_MAX;
  else if (!strcmp(a->type_name, "avg"))
    a->type = CLSP_POOL_AVG;
  else
    return pool_fail("--type '%s': expected max or avg", a->type_name);
  if ((a->ndim = parse_axes("--shape", a->shape, 1, 0, a->dims)) < 0 ||
      parse_axes("--batch", a->batch, 1, 1, &a->n_batch) < 0)
    return 0;
  for (int d = 0; d < CLSP_MAX_DIMS; d++) {
    a->g.kernel[d] = a->g.stride[d] = a->g.dilation[d] = 1;
    a->g.padding[d] = 0;
  }
  if (parse_axes("--kernel", a->kernel, 1, a->ndim, a->g.kernel) < 0) return 0;
  memcpy(a->g.stride, a->g.kernel, sizeof a->g.stride);
  if (a->stride && parse_axes("--stride", a->stride, 1, a->ndim, a->g.stride) < 0)
    return 0;
  if (a->padding && parse_axes("--padding", a->padding, 0, a->ndim, a->g.padding) < 0)
    return 0;
  return 1;
}

static int read_2d(const char *path, clsp_npy_dtype dtype, size_t rows, size_t cols,
                   clsp_npy_array *out) {
  char err[512];
  if (clsp_npy_read(path, out, err, sizeof err) != 0) return pool_fail("%s", err);
  if (out->dtype == dtype && out->rank == 2 && (rows == 0 || out->shape[0] == rows) &&
      (cols == 0 || out->shape[1] == cols))
    return 1;
  fprintf(stderr,
          "clsp pool: %s: expected %s rank 2 with %zu rows and %zu columns "
          "(0: any), got rank %d %zu x %zu\n",
          path, dtype == CLSP_NPY_F32 ? "float32" : "int32", rows, cols, out->rank,
          out->shape[0], out->rank > 1 ? out->shape[1] : (size_t)1);
  return 0;
}

static int lib_fail(clsp_context *ctx, const char *what, clsp_status st) {
  fprintf(stderr, "clsp pool: %s: %s: %s\n", what, clsp_status_string(st),
          clsp_context_last_error(ctx));
  return 0;
}

/* Downloads `t` and writes its coordinates (if coords_path) and features. */
static int write_tensor(clsp_context *ctx, const clsp_tensor *t, const char *coords_path,
                        const char *feats_path) {
  clsp_tensor_desc d;
  clsp_tensor_describe(t, &d);
  size_t n = d.n_sites, w = 1 + (size_t)d.ndim;
  int32_t *c = malloc((n ? n : 1) * w * sizeof *c);
  float *f = malloc((n ? n : 1) * d.channels * sizeof *f);
  int ok = c && f;
  clsp_status st = ok ? clsp_tensor_download(ctx, t, c, f) : CLSP_SUCCESS;
  if (st != CLSP_SUCCESS) ok = lib_fail(ctx, "download", st);
  char err[512];
  size_t cs[2] = {n, w}, fs[2] = {n, d.channels};
  if (ok && ((coords_path &&
              clsp_npy_write(coords_path, CLSP_NPY_I32, 2, cs, c, err, sizeof err)) ||
             clsp_npy_write(feats_path, CLSP_NPY_F32, 2, fs, f, err, sizeof err)))
    ok = pool_fail("%s", err);
  free(c);
  free(f);
  return ok;
}

typedef struct pool_state {
  clsp_npy_array coords, feats, dy;
  clsp_tensor *in, *out, *d_out, *dx;
  clsp_rulebook *rb;
} pool_state;

static int run_pool(clsp_context *ctx, const pool_args *a, pool_state *s) {
  clsp_tensor_desc d = {0};
  d.ndim = a->ndim;
  memcpy(d.shape, a->dims, sizeof d.shape);
  d.batch_size = a->n_batch;
  d.n_sites = s->coords.shape[0];
  d.channels = s->feats.shape[1];
  clsp_status st = clsp_tensor_create(ctx, &d, s->coords.data, s->feats.data, &s->in);
  if (st != CLSP_SUCCESS) return lib_fail(ctx, "input tensor", st);
  st = clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &a->g, s->in, &s->rb);
  if (st != CLSP_SUCCESS) return lib_fail(ctx, "pooling windows", st);
  st = clsp_pool_forward(ctx, s->rb, a->type, s->in, &s->out);
  if (st != CLSP_SUCCESS) return lib_fail(ctx, "pooling", st);
  if (!write_tensor(ctx, s->out, a->out_coords, a->out_feats)) return 0;
  if (!a->grad_out) return 1;
  clsp_rulebook_info info;
  clsp_rulebook_describe(s->rb, &info);
  if (!read_2d(a->grad_out, CLSP_NPY_F32, info.n_out, d.channels, &s->dy)) return 0;
  st = clsp_tensor_create_on_output(ctx, s->rb, d.channels, s->dy.data, &s->d_out);
  if (st == CLSP_SUCCESS)
    st = clsp_pool_backward(ctx, s->rb, a->type, s->in, s->d_out, &s->dx);
  if (st != CLSP_SUCCESS) return lib_fail(ctx, "pooling backward", st);
  return write_tensor(ctx, s->dx, NULL, a->grad_feats);
}

int clsp_cmd_pool(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help")) return fputs(pool_usage, stdout), 0;
  pool_args a = {0};
  if (!parse_pool_args(argc, argv, &a)) return 2;
  pool_state s = {0};
  clsp_context *ctx = NULL;
  int ok = read_2d(a.coords, CLSP_NPY_I32, 0, 1 + (size_t)a.ndim, &s.coords) &&
           read_2d(a.feats, CLSP_NPY_F32, s.coords.shape[0], 0, &s.feats);
  if (ok) {
    clsp_context_options o = {.log = clsp_tool_log_notes};
    o.device = a.device;
    clsp_status st = clsp_context_create(&o, &ctx);
    if (st != CLSP_SUCCESS)
      ok = pool_fail("no OpenCL context: %s", clsp_status_string(st));
  }
  if (ok) ok = run_pool(ctx, &a, &s);
  clsp_tensor_desc od = {0};
  if (ok && clsp_tensor_describe(s.out, &od) == CLSP_SUCCESS)
    fprintf(stderr, "clsp pool: %zu -> %zu sites\n", s.coords.shape[0], od.n_sites);
  clsp_tensor_destroy(s.dx);
  clsp_tensor_destroy(s.d_out);
  clsp_tensor_destroy(s.out);
  clsp_rulebook_destroy(s.rb);
  clsp_tensor_destroy(s.in);
  clsp_context_destroy(ctx);
  clsp_npy_free(&s.coords);
  clsp_npy_free(&s.feats);
  clsp_npy_free(&s.dy);
  return ok ? 0 : 1;
}
