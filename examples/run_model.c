/* SPDX-License-Identifier: Apache-2.0 */
/* Loads an SCN ONNX model once and runs it frame after frame.
 *
 *   run_model MODEL.onnx N COORDS.bin FEATS.bin [N COORDS.bin FEATS.bin ...]
 *
 * Each frame is N voxels: COORDS.bin holds N x 4 int32 (batch, z, y, x),
 * FEATS.bin N x C float32, raw little-endian (numpy's tofile()). Prints
 * the first output's shape and sum per frame. Built with the library
 * (examples/meson.build); docs/models.md walks through it. */
#include <stdio.h>
#include <stdlib.h>
#include "clspconv/clspconv.h"

/* Reads exactly `bytes` from `path` into a new buffer, or NULL. */
static void *read_raw(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  void *p = f ? malloc(bytes ? bytes : 1) : NULL;
  if (p && fread(p, 1, bytes, f) != bytes) {
    free(p);
    p = NULL;
  }
  if (f) fclose(f);
  if (!p) fprintf(stderr, "%s: cannot read %zu bytes\n", path, bytes);
  return p;
}

static int run_frame(clsp_context *ctx, clsp_model *m, const clsp_model_value_info *in,
                     size_t n, const char *coords_path, const char *feats_path) {
  int32_t *coords = read_raw(coords_path, n * (size_t)(1 + in->ndim) * sizeof(int32_t));
  float *feats = read_raw(feats_path, n * in->channels * sizeof(float));
  int rc = 1;
  clsp_model_stats stats;
  if (coords && feats &&
      clsp_model_forward_host(m, coords, feats, n, 1, NULL, 0, &stats) == CLSP_SUCCESS) {
    clsp_model_value_info out;
    clsp_model_result(m, NULL, &out); /* the first declared output */
    size_t count = out.dense ? 1 : out.n_sites * out.channels;
    for (int k = 0; out.dense && k < out.n_dims; k++) count *= (size_t)out.dims[k];
    float *values = malloc(count * sizeof *values + 4);
    if (values && clsp_model_result_download(m, NULL, values, NULL) == CLSP_SUCCESS) {
      double sum = 0;
      for (size_t i = 0; i < count; i++) sum += values[i];
      printf("%zu voxels -> '%s' %zu values, sum %.6g; %.1f ms, peak %.1f MiB\n", n,
             out.name, count, sum, stats.wall_ms,
             (double)stats.peak_device_bytes / 1048576.0);
      rc = 0;
    }
    free(values);
  }
  if (rc) fprintf(stderr, "frame failed: %s\n", clsp_context_last_error(ctx));
  free(coords);
  free(feats);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 5 || (argc - 2) % 3 != 0) {
    fprintf(stderr, "usage: %s MODEL.onnx N COORDS.bin FEATS.bin [...]\n", argv[0]);
    return 2;
  }
  clsp_context *ctx = NULL;
  if (clsp_context_create(NULL, &ctx) != CLSP_SUCCESS)
    return 1; /* $CLSP_DEVICE or default */
  clsp_model *m = NULL;
  if (clsp_model_load_file(ctx, argv[1], NULL, &m) != CLSP_SUCCESS) {
    fprintf(stderr, "%s: %s\n", argv[1], clsp_context_last_error(ctx));
    clsp_context_destroy(ctx);
    return 1;
  }
  clsp_model_value_info in;
  clsp_model_input(m, &in);
  int rc = 0;
  for (int a = 2; a + 2 < argc && rc == 0; a += 3)
    rc = run_frame(ctx, m, &in, (size_t)strtoull(argv[a], NULL, 10), argv[a + 1],
                   argv[a + 2]);
  clsp_model_destroy(m);
  clsp_context_destroy(ctx);
  return rc;
}
