/* SPDX-License-Identifier: Apache-2.0 */
/* Parsed options of `clsp conv`. */
#ifndef CLSP_CMD_CONV_H
#define CLSP_CMD_CONV_H

#include "clspconv/clspconv.h"
#include "io/npy.h"

typedef struct conv_args {
  clsp_conv_kind kind;
  const char *coords, *feats, *weights, *bias;
  clsp_weight_layout layout_family; /* NATIVE, TORCH_CONV or SPCONV as given */
  int ndim;
  int32_t shape[CLSP_MAX_DIMS];
  int32_t batch;
  clsp_conv_geometry g;
  const char *target_coords;
  int32_t target_shape[CLSP_MAX_DIMS];
  int have_target_shape;
  const char *out_coords, *out_feats, *stats;
  const char *device;
  int deterministic;
  int repeat;
  int merge; /* --merge-duplicates: 0 (refuse duplicates), CONV_MERGE_SUM/FIRST */
  const char *grad_out, *grad_feats, *grad_weights, *grad_bias; /* backward */
} conv_args;

enum { CONV_MERGE_SUM = 1, CONV_MERGE_FIRST = 2 };

typedef struct conv_inputs {
  clsp_npy_array coords, feats, weights, bias, target;
  size_t n, cin, cout, kvol;
  float *native; /* weights converted to native layout */
} conv_inputs;

typedef struct conv_run {
  clsp_rulebook *rb, *regular; /* regular: the map an inverse reverses */
  clsp_tensor *in, *target, *out;
  clsp_conv_stats stats;
  double rulebook_ms, total_ms;
} conv_run;

/* Parses argv into a; prints the problem to stderr and returns 0 on error. */
int conv_parse_args(int argc, char **argv, conv_args *a);

/* --merge-duplicates: merges --coords rows with equal coordinates (host
 * side, first occurrences in input order; features summed or the first
 * kept). Returns 0 after printing a problem. */
int conv_merge_duplicates(const conv_args *a, conv_inputs *in);
/* Puts the --feats rows on the output sites of `rb` (which --coords must
 * list, in any order) and creates the tensor there. */
int conv_features_on_sites(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                           const clsp_rulebook *rb, clsp_tensor **out);
/* Writes --out-coords, --out-feats and --stats. */
int conv_write_outputs(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                       const conv_run *r, const double *totals);
/* perm[site] = row of `given` with the same coordinates (width int32 per
 * row); 0 if the two sets of n rows differ. */
int conv_match_sites(const int32_t *sites, const int32_t *given, size_t n, int width,
                     uint32_t *perm);
/* conv_grad.c: the backward of the run's last forward, written to the
 * --grad-* files. */
int conv_write_grads(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                     const conv_run *r, const clsp_weights *w);
/* Prints a library failure with the context's message; returns 0. */
int conv_lib_fail(clsp_context *ctx, const char *what, clsp_status st);

#endif
