/* SPDX-License-Identifier: Apache-2.0 */
/* Argument parsing for `clsp conv`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_conv.h"

static const char usage[] =
  "usage: clsp conv --type subm|conv|transposed|inverse --coords C.npy --feats F.npy\n"
  "                 --weights W.npy [--weight-layout native|torch|spconv] [--bias "
  "B.npy]\n"
  "                 --shape D,H,W --batch N --kernel K[,K..] [--stride S[,..]]\n"
  "                 [--padding P[,..]] [--dilation D[,..]]\n"
  "                 [--target-coords T.npy --target-shape D,H,W]\n"
  "                 --out-coords OC.npy --out-feats OF.npy [--stats S.json]\n"
  "                 [--device SPEC] [--deterministic] [--repeat R]\n"
  "                 [--merge-duplicates sum|first]\n"
  "                 [--grad-out DY.npy [--grad-feats DX.npy] [--grad-weights DW.npy]\n"
  "                  [--grad-bias DB.npy]]\n"
  "  coords: int32 N x (1+D) rows (batch, c1..cD); feats: float32 N x Cin\n"
  "  weights: native [K][Cin][Cout] (or [k..][Cin][Cout]); torch [Cout][Cin][k..]\n"
  "           (transposed/inverse: [Cin][Cout][k..]); spconv [Cout][k..][Cin]\n"
  "  inverse: --target-coords/--target-shape are the input sites and shape of the\n"
  "           regular conv being inverted; --coords are its output sites\n"
  "  backward: DY float32 rows in the order of --out-coords; DX rows in the order of\n"
  "           --coords; DW in the element order of --weight-layout, saved as\n"
  "           [first dim of W, the rest flattened]; DB [Cout]\n"
  "  --merge-duplicates: rows of --coords with equal coordinates become one\n"
  "           site (features summed, or the first row's kept); default: refused\n"
  "  --repeat R: R timed runs (rulebook built each time); with R > 1 one untimed\n"
  "           warm-up run first, and --stats gives their median\n"
  "  --stats -: the JSON to stdout. Exit status: 0 ok, 1 failure, 2 usage error.\n";

/* Parses "a,b,c" into up to `cap` ints >= min; returns the count. */
static int parse_list(const char *opt, const char *s, int min, int cap, int32_t *out) {
  int n = 0;
  const char *p = s;
  while (*p && n < cap) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < min || v > 1 << 30 || (*end && *end != ',')) {
      fprintf(stderr, "clsp conv: %s '%s': expected comma-separated integers >= %d\n",
              opt, s, min);
      return -1;
    }
    out[n++] = (int32_t)v;
    p = *end ? end + 1 : end;
  }
  if (*p || n == 0) {
    fprintf(stderr, "clsp conv: %s '%s': expected 1 to %d values\n", opt, s, cap);
    return -1;
  }
  return n;
}

/* A single value applies to every axis. */
static int expand(const char *opt, const char *s, int min, int ndim, int32_t *out) {
  int32_t v[CLSP_MAX_DIMS];
  int n = parse_list(opt, s, min, CLSP_MAX_DIMS, v);
  if (n < 0) return 0;
  if (n != 1 && n != ndim) {
    fprintf(stderr, "clsp conv: %s '%s': give 1 or %d values (one per axis)\n", opt, s,
            ndim);
    return 0;
  }
  for (int a = 0; a < ndim; a++) out[a] = v[n == 1 ? 0 : a];
  return 1;
}

static int parse_type(const char *s, clsp_conv_kind *k) {
  static const struct {
    const char *name;
    clsp_conv_kind kind;
  } types[] = {{"subm", CLSP_CONV_SUBMANIFOLD},
               {"conv", CLSP_CONV_REGULAR},
               {"transposed", CLSP_CONV_TRANSPOSED},
               {"inverse", CLSP_CONV_INVERSE}};
  for (size_t i = 0; i < 4; i++)
    if (!strcmp(s, types[i].name)) {
      *k = types[i].kind;
      return 1;
    }
  fprintf(stderr, "clsp conv: --type '%s': expected subm, conv, transposed or inverse\n",
          s);
  return 0;
}

static int parse_merge(const char *s, int *merge) {
  if (!strcmp(s, "sum"))
    *merge = CONV_MERGE_SUM;
  else if (!strcmp(s, "first"))
    *merge = CONV_MERGE_FIRST;
  else {
    fprintf(stderr, "clsp conv: --merge-duplicates '%s': expected sum or first\n", s);
    return 0;
  }
  return 1;
}

static int parse_layout(const char *s, clsp_weight_layout *l) {
  if (!strcmp(s, "native"))
    *l = CLSP_LAYOUT_NATIVE;
  else if (!strcmp(s, "torch"))
    *l = CLSP_LAYOUT_TORCH_CONV;
  else if (!strcmp(s, "spconv"))
    *l = CLSP_LAYOUT_SPCONV;
  else {
    fprintf(stderr, "clsp conv: --weight-layout '%s': expected native, torch or spconv\n",
            s);
    return 0;
  }
  return 1;
}

typedef struct raw_geometry {
  const char *kernel, *stride, *padding, *dilation, *target_shape;
} raw_geometry;

static int take(int argc, char **argv, int *i, const char **dst) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "clsp conv: %s needs a value\n", argv[*i]);
    return 0;
  }
  *dst = argv[++*i];
  return 1;
}

static int parse_one(int argc, char **argv, int *i, conv_args *a, raw_geometry *r) {
  const char *o = argv[*i], *v = NULL;
  static const char *const string_opts[] = {"--coords",        "--feats",
                                            "--weights",       "--bias",
                                            "--target-coords", "--out-coords",
                                            "--out-feats",     "--stats",
                                            "--device",        "--grad-out",
                                            "--grad-feats",    "--grad-weights",
                                            "--grad-bias"};
  const char **string_dst[] = {&a->coords,    &a->feats,         &a->weights,
                               &a->bias,      &a->target_coords, &a->out_coords,
                               &a->out_feats, &a->stats,         &a->device,
                               &a->grad_out,  &a->grad_feats,    &a->grad_weights,
                               &a->grad_bias};
  for (size_t k = 0; k < sizeof string_opts / sizeof string_opts[0]; k++)
    if (!strcmp(o, string_opts[k])) return take(argc, argv, i, string_dst[k]);
  if (!strcmp(o, "--deterministic")) return a->deterministic = 1;
  if (!strcmp(o, "--type")) return take(argc, argv, i, &v) && parse_type(v, &a->kind);
  if (!strcmp(o, "--merge-duplicates"))
    return take(argc, argv, i, &v) && parse_merge(v, &a->merge);
  if (!strcmp(o, "--weight-layout"))
    return take(argc, argv, i, &v) && parse_layout(v, &a->layout_family);
  if (!strcmp(o, "--shape")) {
    if (!take(argc, argv, i, &v)) return 0;
    return (a->ndim = parse_list(o, v, 1, CLSP_MAX_DIMS, a->shape)) > 0;
  }
  if (!strcmp(o, "--batch") || !strcmp(o, "--repeat")) {
    int32_t x;
    if (!take(argc, argv, i, &v) || parse_list(o, v, 1, 1, &x) != 1) return 0;
    *(o[2] == 'b' ? &a->batch : &a->repeat) = x;
    return 1;
  }
  const char **geo[] = {&r->kernel, &r->stride, &r->padding, &r->dilation,
                        &r->target_shape};
  static const char *const geo_opts[] = {"--kernel", "--stride", "--padding",
                                         "--dilation", "--target-shape"};
  for (size_t k = 0; k < 5; k++)
    if (!strcmp(o, geo_opts[k])) return take(argc, argv, i, geo[k]);
  fprintf(stderr, "clsp conv: unknown option '%s'\n%s", o, usage);
  return 0;
}

static int require(const char *value, const char *opt) {
  if (value) return 1;
  fprintf(stderr, "clsp conv: %s is required\n%s", opt, usage);
  return 0;
}

static int finish_geometry(conv_args *a, const raw_geometry *r) {
  for (int k = 0; k < CLSP_MAX_DIMS; k++) {
    a->g.stride[k] = a->g.dilation[k] = 1;
    a->g.padding[k] = 0;
  }
  if (!expand("--kernel", r->kernel, 1, a->ndim, a->g.kernel)) return 0;
  if (r->stride && !expand("--stride", r->stride, 1, a->ndim, a->g.stride)) return 0;
  if (r->padding && !expand("--padding", r->padding, 0, a->ndim, a->g.padding)) return 0;
  if (r->dilation && !expand("--dilation", r->dilation, 1, a->ndim, a->g.dilation))
    return 0;
  if (a->kind != CLSP_CONV_INVERSE) return 1;
  if (!require(a->target_coords, "--target-coords (for --type inverse)") ||
      !require(r->target_shape, "--target-shape (for --type inverse)"))
    return 0;
  int32_t ts[CLSP_MAX_DIMS];
  int n = parse_list("--target-shape", r->target_shape, 1, CLSP_MAX_DIMS, ts);
  if (n != a->ndim) {
    if (n >= 0)
      fprintf(stderr, "clsp conv: --target-shape '%s': needs %d values like --shape\n",
              r->target_shape, a->ndim);
    return 0;
  }
  memcpy(a->target_shape, ts, sizeof ts);
  return a->have_target_shape = 1;
}

/* The --grad-* outputs need --grad-out, and --grad-out needs an output. */
static int check_grad_args(const conv_args *a) {
  int wanted = a->grad_feats || a->grad_weights || a->grad_bias;
  if (a->grad_feats && a->merge) {
    fprintf(stderr,
            "clsp conv: --grad-feats cannot follow the rows of --coords when "
            "--merge-duplicates merges them\n%s",
            usage);
    return 0;
  }
  if (wanted == (a->grad_out != NULL)) return 1;
  fprintf(stderr, "clsp conv: %s\n%s",
          wanted ? "--grad-feats, --grad-weights and --grad-bias need --grad-out DY.npy"
                 : "--grad-out needs at least one of --grad-feats, --grad-weights, "
                   "--grad-bias",
          usage);
  return 0;
}

int conv_parse_args(int argc, char **argv, conv_args *a) {
  memset(a, 0, sizeof *a);
  a->kind = (clsp_conv_kind)-1;
  a->repeat = 1;
  raw_geometry r = {0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!parse_one(argc, argv, &i, a, &r)) return 0;
  }
  if ((int)a->kind < 0) return require(NULL, "--type");
  if (!require(a->coords, "--coords") || !require(a->feats, "--feats") ||
      !require(a->weights, "--weights") || !require(a->out_coords, "--out-coords") ||
      !require(a->out_feats, "--out-feats") || !require(r.kernel, "--kernel") ||
      !require(a->ndim ? "" : NULL, "--shape") ||
      !require(a->batch ? "" : NULL, "--batch"))
    return 0;
  return check_grad_args(a) && finish_geometry(a, &r);
}
