/* SPDX-License-Identifier: Apache-2.0 */
/* clsp conv: one sparse convolution layer from .npy files, so results can
 * be checked against PyTorch, spconv or anything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clsp.h"
#include "cmd_conv.h"
#include "progress.h"

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "clsp conv: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  return 0;
}

/* numpy's default dtypes: int64 where int32 is wanted is narrowed when
 * every value fits (else the row is named); float64 where float32 is
 * wanted is converted, with a note. */
static int narrow(const char *path, clsp_npy_array *a) {
  clsp_npy_dtype from = a->dtype;
  size_t bad = 0, cols = 1;
  for (int d = 1; d < a->rank; d++) cols *= a->shape[d];
  if (clsp_npy_narrow(a, &bad) != 0) {
    /* clsp_npy_narrow leaves the offending element as it was read */
    if (from == CLSP_NPY_I64)
      fprintf(stderr,
              "clsp conv: %s: row %zu, column %zu: int64 value %lld does not fit "
              "int32\n",
              path, bad / cols, bad % cols, (long long)((const int64_t *)a->data)[bad]);
    else
      fprintf(stderr,
              "clsp conv: %s: row %zu, column %zu: float64 value %g does not fit "
              "float32\n",
              path, bad / cols, bad % cols, ((const double *)a->data)[bad]);
    return 0;
  }
  if (from == CLSP_NPY_F64)
    fprintf(stderr, "clsp conv: note: %s is float64; converted to float32\n", path);
  return 1;
}

static const char *dtype_name(clsp_npy_dtype t) {
  return t == CLSP_NPY_F32   ? "float32"
         : t == CLSP_NPY_I32 ? "int32"
         : t == CLSP_NPY_F64 ? "float64"
                             : "int64";
}

static int read_npy(const char *path, clsp_npy_dtype dtype, clsp_npy_array *a) {
  char err[512];
  if (clsp_npy_read(path, a, err, sizeof err) != 0) return fail(err, NULL);
  int wide = (dtype == CLSP_NPY_I32 && a->dtype == CLSP_NPY_I64) ||
             (dtype == CLSP_NPY_F32 && a->dtype == CLSP_NPY_F64);
  if (wide && !narrow(path, a)) return 0;
  if (a->dtype != dtype) {
    fprintf(stderr, "clsp conv: %s: dtype is %s, expected %s\n", path,
            dtype_name(a->dtype), dtype_name(dtype));
    return 0;
  }
  return 1;
}

static size_t kernel_volume(const conv_args *a) {
  size_t v = 1;
  for (int d = 0; d < a->ndim; d++) v *= (size_t)a->g.kernel[d];
  return v;
}

static int check_coords_array(const char *path, const clsp_npy_array *c, int ndim) {
  if (c->rank == 2 && c->shape[1] == (size_t)(1 + ndim)) return 1;
  fprintf(stderr,
          "clsp conv: %s: coordinates must be N x %d int32 (batch + %d axes), "
          "got rank %d with %zu columns\n",
          path, 1 + ndim, ndim, c->rank, c->rank == 2 ? c->shape[1] : (size_t)0);
  return 0;
}

/* The weight dims as layout family `fam` reads them: Cin, Cout, the
 * product of the kernel axes, and the exact layout (torch transposed).
 * Returns 0 when the rank does not fit the family. */
typedef struct weight_fit {
  size_t cin, cout, taps;
  clsp_weight_layout layout;
} weight_fit;

static int fit_layout(const conv_args *a, clsp_weight_layout fam, const clsp_npy_array *w,
                      weight_fit *f) {
  int transposed = a->kind == CLSP_CONV_TRANSPOSED || a->kind == CLSP_CONV_INVERSE;
  f->layout = fam;
  f->taps = 1;
  if (w->rank == 3 && fam == CLSP_LAYOUT_NATIVE) {
    f->cin = w->shape[1];
    f->cout = w->shape[2];
    f->taps = w->shape[0];
    return 1;
  }
  if (w->rank != 2 + a->ndim) return 0;
  int first_k = fam == CLSP_LAYOUT_NATIVE ? 0 : fam == CLSP_LAYOUT_SPCONV ? 1 : 2;
  for (int d = 0; d < a->ndim; d++) f->taps *= w->shape[first_k + d];
  if (fam == CLSP_LAYOUT_NATIVE) {
    f->cin = w->shape[a->ndim];
    f->cout = w->shape[a->ndim + 1];
  } else if (fam == CLSP_LAYOUT_SPCONV) {
    f->cout = w->shape[0];
    f->cin = w->shape[a->ndim + 1];
  } else {
    f->cin = transposed ? w->shape[0] : w->shape[1];
    f->cout = transposed ? w->shape[1] : w->shape[0];
    if (transposed) f->layout = CLSP_LAYOUT_TORCH_TRANSPOSED;
  }
  return 1;
}

static int fits_inputs(const conv_args *a, const conv_inputs *in,
                       clsp_weight_layout fam) {
  weight_fit f;
  return fit_layout(a, fam, &in->weights, &f) && f.taps == in->kvol &&
         f.cin == in->feats.shape[1];
}

/* After a weight-shape error: names the layout the weights do fit, if any. */
static int weight_layout_hint(const conv_args *a, const conv_inputs *in) {
  static const struct {
    clsp_weight_layout fam;
    const char *name;
  } fams[] = {{CLSP_LAYOUT_NATIVE, "native"},
              {CLSP_LAYOUT_TORCH_CONV, "torch"},
              {CLSP_LAYOUT_SPCONV, "spconv"}};
  for (size_t i = 0; i < 3; i++)
    if (fams[i].fam != a->layout_family && fits_inputs(a, in, fams[i].fam))
      fprintf(stderr, "clsp conv: hint: %s fits --weight-layout %s\n", a->weights,
              fams[i].name);
  return 0;
}

/* Reads the weight dims for the layout; fills cin, cout. */
static int weight_dims(const conv_args *a, conv_inputs *in, clsp_weight_layout *layout) {
  const clsp_npy_array *w = &in->weights;
  weight_fit f;
  if (!fit_layout(a, a->layout_family, w, &f)) {
    fprintf(stderr,
            "clsp conv: %s: weights of rank %d do not fit a %dD kernel in this "
            "layout (expected rank %d%s)\n",
            a->weights, w->rank, a->ndim, 2 + a->ndim,
            a->layout_family == CLSP_LAYOUT_NATIVE ? " or 3" : "");
    return weight_layout_hint(a, in);
  }
  in->cin = f.cin;
  in->cout = f.cout;
  *layout = f.layout;
  if (f.taps != in->kvol) {
    fprintf(stderr, "clsp conv: %s: weights hold %zu kernel taps, --kernel gives %zu\n",
            a->weights, f.taps, in->kvol);
    return weight_layout_hint(a, in);
  }
  return 1;
}

static int load_weights(const conv_args *a, conv_inputs *in) {
  clsp_weight_layout layout = a->layout_family;
  if (!read_npy(a->weights, CLSP_NPY_F32, &in->weights) || !weight_dims(a, in, &layout))
    return 0;
  if (in->cin != in->feats.shape[1]) {
    fprintf(stderr, "clsp conv: %s has Cin = %zu but %s has %zu channels\n", a->weights,
            in->cin, a->feats, in->feats.shape[1]);
    return weight_layout_hint(a, in);
  }
  in->native = malloc(in->kvol * in->cin * in->cout * sizeof(float));
  if (!in->native) return fail("out of memory for weights", NULL);
  clsp_status st = clsp_weights_convert(layout, in->kvol, in->cin, in->cout,
                                        in->weights.data, in->native);
  return st == CLSP_SUCCESS || fail("weight conversion failed", clsp_status_string(st));
}

static int load_bias(const conv_args *a, conv_inputs *in) {
  if (!a->bias) return 1;
  if (!read_npy(a->bias, CLSP_NPY_F32, &in->bias)) return 0;
  size_t n = in->bias.shape[0] * (in->bias.rank == 2 ? in->bias.shape[1] : 1);
  if (in->bias.rank > 2 || n != in->cout) {
    fprintf(stderr, "clsp conv: %s: bias must hold Cout = %zu values, holds %zu\n",
            a->bias, in->cout, n);
    return 0;
  }
  return 1;
}

static int load_inputs(const conv_args *a, conv_inputs *in) {
  in->kvol = kernel_volume(a);
  if (!read_npy(a->coords, CLSP_NPY_I32, &in->coords) ||
      !check_coords_array(a->coords, &in->coords, a->ndim) ||
      !read_npy(a->feats, CLSP_NPY_F32, &in->feats))
    return 0;
  in->n = in->coords.shape[0];
  if (in->feats.rank != 2 || in->feats.shape[0] != in->n) {
    fprintf(stderr, "clsp conv: %s must be N x Cin float32 with N = %zu rows (from %s)\n",
            a->feats, in->n, a->coords);
    return 0;
  }
  if (!conv_merge_duplicates(a, in)) return 0;
  if (!load_weights(a, in) || !load_bias(a, in)) return 0;
  if (a->kind == CLSP_CONV_INVERSE)
    return read_npy(a->target_coords, CLSP_NPY_I32, &in->target) &&
           check_coords_array(a->target_coords, &in->target, a->ndim);
  return 1;
}

static void free_inputs(conv_inputs *in) {
  clsp_npy_free(&in->coords);
  clsp_npy_free(&in->feats);
  clsp_npy_free(&in->weights);
  clsp_npy_free(&in->bias);
  clsp_npy_free(&in->target);
  free(in->native);
}

int conv_lib_fail(clsp_context *ctx, const char *what, clsp_status st) {
  fprintf(stderr, "clsp conv: %s: %s (%d): %s\n", what, clsp_status_string(st), st,
          clsp_context_last_error(ctx));
  return 0;
}

static clsp_tensor_desc desc_for(const conv_args *a, const int32_t *shape, size_t n,
                                 size_t channels) {
  clsp_tensor_desc d = {0};
  d.ndim = a->ndim;
  memcpy(d.shape, shape, sizeof d.shape);
  d.batch_size = a->batch;
  d.n_sites = n;
  d.channels = channels;
  return d;
}

static void run_free(conv_run *r) {
  clsp_tensor_destroy(r->out);
  clsp_rulebook_destroy(r->rb);
  clsp_rulebook_destroy(r->regular);
  clsp_tensor_destroy(r->in);
  clsp_tensor_destroy(r->target);
  memset(r, 0, sizeof *r);
}

/* Builds the inverse's regular map from the target sites, then puts the
 * features on its output sites (which --coords must list). */
static int inverse_input(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                         conv_run *r) {
  clsp_tensor_desc td = desc_for(a, a->target_shape, in->target.shape[0], 1);
  clsp_status st = clsp_tensor_create(ctx, &td, in->target.data, NULL, &r->target);
  if (st != CLSP_SUCCESS) return conv_lib_fail(ctx, "--target-coords tensor", st);
  st = clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &a->g, r->target, &r->regular);
  if (st != CLSP_SUCCESS) return conv_lib_fail(ctx, "rulebook of the regular conv", st);
  return conv_features_on_sites(ctx, a, in, r->regular, &r->in);
}

static int build_input(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                       conv_run *r) {
  if (a->kind == CLSP_CONV_INVERSE) return inverse_input(ctx, a, in, r);
  clsp_tensor_desc d = desc_for(a, a->shape, in->n, in->cin);
  clsp_status st = clsp_tensor_create(ctx, &d, in->coords.data, in->feats.data, &r->in);
  if (st == CLSP_SUCCESS) return 1;
  conv_lib_fail(ctx, "input tensor", st);
  if (st == CLSP_ERROR_DUPLICATE_COORDS)
    fprintf(stderr,
            "clsp conv: hint: --merge-duplicates sum|first merges rows of %s with "
            "equal coordinates into one site\n",
            a->coords);
  return 0;
}

static int run_once(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                    const clsp_weights *w, conv_run *r) {
  double t0 = clsp_tool_now_ms();
  if (!build_input(ctx, a, in, r)) return 0;
  clsp_status st = CLSP_SUCCESS;
  if (a->kind == CLSP_CONV_INVERSE)
    st = clsp_rulebook_inverse(ctx, r->regular, &r->rb);
  else
    st = clsp_rulebook_build(ctx, a->kind, &a->g, r->in, &r->rb);
  if (st != CLSP_SUCCESS) return conv_lib_fail(ctx, "rulebook", st);
  uint32_t flags = a->deterministic ? CLSP_CONV_DETERMINISTIC : 0;
  st = clsp_conv_forward(ctx, r->rb, r->in, w, flags, &r->out, &r->stats);
  if (st == CLSP_SUCCESS) st = clsp_context_finish(ctx);
  if (st != CLSP_SUCCESS) return conv_lib_fail(ctx, "convolution", st);
  clsp_rulebook_info info;
  clsp_rulebook_describe(r->rb, &info);
  r->rulebook_ms = info.build_ms;
  if (r->regular) {
    clsp_rulebook_describe(r->regular, &info);
    r->rulebook_ms += info.build_ms;
  }
  r->total_ms = r->rulebook_ms + r->stats.total_ms;
  if (r->stats.total_ms == 0) r->total_ms = clsp_tool_now_ms() - t0; /* no profiling */
  return 1;
}

static int run_all(clsp_context *ctx, const conv_args *a, const conv_inputs *in) {
  clsp_weights *w = NULL;
  clsp_status st = clsp_weights_create(ctx, in->kvol, in->cin, in->cout, in->native,
                                       a->bias ? in->bias.data : NULL, &w);
  if (st != CLSP_SUCCESS) return conv_lib_fail(ctx, "weights", st);
  double *totals = calloc((size_t)a->repeat, sizeof *totals);
  conv_run r = {0};
  int ok = totals != NULL;
  progress p; /* with --repeat R > 1: each run and the running median */
  progress_begin(&p, "clsp conv", "layer", 0, a->repeat, a->repeat < 2);
  /* With R > 1, one untimed run first (first-use work, caches, the
   * device's threads), as clsp bench does: medians after a warm-up. */
  if (ok && a->repeat > 1) {
    ok = run_once(ctx, a, in, w, &r);
    if (ok) run_free(&r);
  }
  for (int i = 0; ok && i < a->repeat; i++) {
    if (i > 0) run_free(&r);
    progress_pass_start(&p, i);
    ok = run_once(ctx, a, in, w, &r);
    if (ok) totals[i] = r.total_ms;
    if (ok) progress_pass_done(&p, i, r.total_ms);
  }
  progress_end(&p);
  if (ok) ok = conv_write_outputs(ctx, a, in, &r, totals);
  if (ok && a->grad_out) ok = conv_write_grads(ctx, a, in, &r, w);
  run_free(&r);
  free(totals);
  clsp_weights_destroy(w);
  return ok;
}

int clsp_cmd_conv(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help"))
      return conv_parse_args(2, (char *[]){"conv", "--help"}, &(conv_args){0}), 0;
  conv_args a;
  if (!conv_parse_args(argc, argv, &a)) return 2;
  conv_inputs in = {0};
  int ok = load_inputs(&a, &in);
  clsp_context *ctx = NULL;
  if (ok) {
    clsp_context_options o = {.log = clsp_tool_log_notes};
    o.device = a.device;
    o.flags = CLSP_CONTEXT_PROFILING;
    clsp_status st = clsp_context_create(&o, &ctx);
    if (st != CLSP_SUCCESS) {
      clsp_tool_context_fail("clsp conv", a.device, st);
      ok = 0;
    }
  }
  if (ok) ok = run_all(ctx, &a, &in);
  clsp_context_destroy(ctx);
  free_inputs(&in);
  return ok ? 0 : 1;
}
