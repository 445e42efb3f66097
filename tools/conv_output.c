/* SPDX-License-Identifier: Apache-2.0 */
/* clsp conv: merging duplicate input rows, matching features to a
 * rulebook's sites, and writing results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clsp.h"
#include "cmd_conv.h"

/* qsort has no context argument: rows are compared through these. */
static const int32_t *sort_rows;
static int sort_width;

static int compare_rows(const void *pa, const void *pb) {
  const int32_t *a = sort_rows + (size_t) * (const uint32_t *)pa * (size_t)sort_width;
  const int32_t *b = sort_rows + (size_t) * (const uint32_t *)pb * (size_t)sort_width;
  for (int i = 0; i < sort_width; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  /* equal rows stay in input order: the first occurrence leads its group */
  uint32_t ia = *(const uint32_t *)pa, ib = *(const uint32_t *)pb;
  return (ia > ib) - (ia < ib);
}

static uint32_t *sorted_order(const int32_t *rows, size_t n, int width) {
  uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
  if (!idx) return NULL;
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  sort_rows = rows;
  sort_width = width;
  qsort(idx, n, sizeof *idx, compare_rows);
  return idx;
}

/* Compacts coords/feats in place, first occurrences in input order; a
 * later duplicate's features are added to its first (sum) or dropped. */
static size_t merge_rows(int32_t *coords, float *feats, size_t n, int width, size_t ch,
                         int sum, const uint32_t *order, uint32_t *keeper) {
  for (size_t i = 0; i < n; i++) {
    int dup = i > 0 && !memcmp(coords + (size_t)order[i] * width,
                               coords + (size_t)order[i - 1] * width,
                               (size_t)width * sizeof(int32_t));
    keeper[order[i]] = dup ? keeper[order[i - 1]] : order[i];
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (keeper[i] != i) { /* keeper[i] < i: already moved to slot keeper[keeper[i]] */
      float *dst = feats + (size_t)keeper[keeper[i]] * ch, *src = feats + i * ch;
      for (size_t c = 0; sum && c < ch; c++) dst[c] += src[c];
      continue;
    }
    memmove(coords + m * width, coords + i * width, (size_t)width * sizeof(int32_t));
    memmove(feats + m * ch, feats + i * ch, ch * sizeof(float));
    keeper[i] = (uint32_t)m++; /* a keeper's entry now holds its new slot */
  }
  return m;
}

int conv_merge_duplicates(const conv_args *a, conv_inputs *in) {
  if (!a->merge) return 1;
  int width = 1 + a->ndim;
  uint32_t *order = sorted_order(in->coords.data, in->n, width);
  uint32_t *keeper = malloc((in->n ? in->n : 1) * sizeof *keeper);
  if (!order || !keeper) {
    free(order);
    free(keeper);
    fprintf(stderr, "clsp conv: out of memory merging duplicates\n");
    return 0;
  }
  size_t m = merge_rows(in->coords.data, in->feats.data, in->n, width, in->feats.shape[1],
                        a->merge == CONV_MERGE_SUM, order, keeper);
  if (m != in->n)
    fprintf(stderr, "clsp conv: --merge-duplicates %s: %zu rows -> %zu sites\n",
            a->merge == CONV_MERGE_SUM ? "sum" : "first", in->n, m);
  in->n = in->coords.shape[0] = in->feats.shape[0] = m;
  free(order);
  free(keeper);
  return 1;
}

/* perm[site] = row of `given` with the same coordinates; 0 if the sets differ. */
int conv_match_sites(const int32_t *sites, const int32_t *given, size_t n, int width,
                     uint32_t *perm) {
  uint32_t *a = sorted_order(sites, n, width), *b = sorted_order(given, n, width);
  int ok = a && b;
  for (size_t i = 0; ok && i < n; i++) {
    ok = !memcmp(sites + (size_t)a[i] * width, given + (size_t)b[i] * width,
                 (size_t)width * sizeof(int32_t));
    perm[a[i]] = b[i];
  }
  free(a);
  free(b);
  return ok;
}

static int check_sites(const conv_args *a, const conv_inputs *in,
                       const clsp_rulebook_info *info) {
  if (info->n_out != in->n) {
    fprintf(stderr,
            "clsp conv: %s has %zu sites, the regular conv of --target-coords "
            "gives %zu output sites\n",
            a->coords, in->n, info->n_out);
    return 0;
  }
  for (int d = 0; d < a->ndim; d++)
    if (info->out_shape[d] != a->shape[d]) {
      fprintf(stderr,
              "clsp conv: --shape axis %d is %d, the regular conv of "
              "--target-shape gives %d\n",
              d, (int)a->shape[d], (int)info->out_shape[d]);
      return 0;
    }
  return 1;
}

int conv_features_on_sites(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                           const clsp_rulebook *rb, clsp_tensor **out) {
  clsp_rulebook_info info;
  clsp_rulebook_describe(rb, &info);
  if (!check_sites(a, in, &info)) return 0;
  int width = 1 + a->ndim;
  int32_t *sites = malloc((in->n ? in->n : 1) * (size_t)width * sizeof *sites);
  uint32_t *perm = malloc((in->n ? in->n : 1) * sizeof *perm);
  float *feats = malloc((in->n ? in->n : 1) * in->cin * sizeof *feats);
  int ok = sites && perm && feats;
  clsp_status st = CLSP_SUCCESS;
  if (ok) st = clsp_rulebook_download_out_coords(ctx, rb, sites);
  if (ok && st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "rulebook sites", st);
  if (ok && !(ok = conv_match_sites(sites, in->coords.data, in->n, width, perm)))
    fprintf(stderr, "clsp conv: %s are not the output sites of the regular conv of %s\n",
            a->coords, a->target_coords);
  const float *src = in->feats.data;
  for (size_t i = 0; ok && i < in->n; i++)
    memcpy(feats + i * in->cin, src + (size_t)perm[i] * in->cin, in->cin * sizeof(float));
  if (ok) st = clsp_tensor_create_on_output(ctx, rb, in->cin, feats, out);
  if (ok && st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "input tensor", st);
  free(sites);
  free(perm);
  free(feats);
  return ok;
}

static double median(const double *v, int n) {
  double *s = malloc((size_t)n * sizeof *s);
  if (!s) return v[n - 1];
  memcpy(s, v, (size_t)n * sizeof *s);
  double m = clsp_tool_median(s, n);
  free(s);
  return m;
}

static void write_stage_ms(FILE *f, const conv_run *r) {
  fprintf(f, "  \"stage_ms\": {\"rulebook\": %.4f", r->rulebook_ms);
  for (int s = CLSP_STAGE_GATHER; s < CLSP_STAGE_COUNT; s++)
    fprintf(f, ", \"%s\": %.4f", clsp_stage_name((clsp_stage)s), r->stats.stage_ms[s]);
  fprintf(f, "},\n");
}

static int write_stats(clsp_context *ctx, const conv_args *a, const conv_run *r,
                       const double *totals) {
  clsp_rulebook_info info;
  clsp_rulebook_describe(r->rb, &info);
  uint32_t *counts =
    malloc((info.kernel_volume ? info.kernel_volume : 1) * sizeof *counts);
  int to_stdout = !strcmp(a->stats, "-");
  FILE *f = counts ? (to_stdout ? stdout : fopen(a->stats, "w")) : NULL;
  if (!f) {
    free(counts);
    fprintf(stderr, "clsp conv: cannot write %s\n", a->stats);
    return 0;
  }
  clsp_rulebook_pair_counts(r->rb, counts);
  double overhead = r->stats.pair_rows
                      ? (double)r->stats.gemm_rows / (double)r->stats.pair_rows - 1.0
                      : 0.0;
  fprintf(f,
          "{\n  \"device\": \"%s\",\n  \"in_sites\": %zu,\n  \"out_sites\": %zu,\n"
          "  \"pairs_total\": %zu,\n  \"pairs_per_offset\": [",
          clsp_context_caps(ctx)->device_name, info.n_in, info.n_out, info.n_pairs);
  for (size_t k = 0; k < info.kernel_volume; k++)
    fprintf(f, "%s%u", k ? ", " : "", counts[k]);
  fprintf(f,
          "],\n  \"gemm_groups\": %zu,\n  \"padding_overhead\": %.6f,\n  \"chunks\": "
          "%zu,\n",
          r->stats.gemm_groups, overhead, r->stats.chunks);
  write_stage_ms(f, r);
  fprintf(f, "  \"total_ms\": %.4f,\n  \"repeat\": %d,\n  \"median_total_ms\": %.4f\n}\n",
          r->total_ms, a->repeat, median(totals, a->repeat));
  free(counts);
  return to_stdout ? fflush(f) == 0 : fclose(f) == 0;
}

int conv_write_outputs(clsp_context *ctx, const conv_args *a, const conv_inputs *in,
                       const conv_run *r, const double *totals) {
  clsp_tensor_desc d;
  clsp_tensor_describe(r->out, &d);
  size_t width = (size_t)(1 + d.ndim), n = d.n_sites;
  int32_t *coords = malloc((n ? n : 1) * width * sizeof *coords);
  float *feats = malloc((n ? n : 1) * d.channels * sizeof *feats);
  int ok = coords && feats;
  clsp_status st = ok ? clsp_tensor_download(ctx, r->out, coords, feats) : CLSP_SUCCESS;
  if (ok && st != CLSP_SUCCESS) ok = conv_lib_fail(ctx, "reading the output", st);
  char err[512];
  size_t cshape[2] = {n, width}, fshape[2] = {n, d.channels};
  if (ok &&
      (clsp_npy_write(a->out_coords, CLSP_NPY_I32, 2, cshape, coords, err, sizeof err) ||
       clsp_npy_write(a->out_feats, CLSP_NPY_F32, 2, fshape, feats, err, sizeof err))) {
    fprintf(stderr, "clsp conv: %s\n", err);
    ok = 0;
  }
  if (ok && a->stats) ok = write_stats(ctx, a, r, totals);
  if (ok)
    fprintf(stderr,
            "clsp conv: %zu -> %zu sites, %zu -> %zu channels, %.3f ms (median "
            "of %d: %.3f ms)\n",
            in->n, n, in->cin, d.channels, r->total_ms, a->repeat,
            median(totals, a->repeat));
  free(coords);
  free(feats);
  return ok;
}
