/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the model suite (see model_util.h). */
#include "model_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *model_dir(void) {
  const char *env = getenv("CLSP_MODELS_DIR");
  return env && env[0] ? env : CLSP_MODELS_DEFAULT_DIR;
}

int model_path(char *buf, size_t cap, const char *bundle, const char *file) {
  snprintf(buf, cap, "%s/%s/%s", model_dir(), bundle, file);
  struct stat st;
  return stat(buf, &st) == 0;
}

unsigned char *model_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *d = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)n + 1)) &&
      fread(d, 1, (size_t)n, f) != (size_t)n) {
    free(d);
    d = NULL;
  }
  fclose(f);
  *size = n > 0 ? (size_t)n : 0;
  return d;
}

/* Exact: every binary16 value is a float. */
static float half_to_float(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v = e == 0    ? ldexpf((float)m, -24)
            : e == 31 ? INFINITY
                      : ldexpf((float)(m | 1024), e - 25);
  return (h & 0x8000) ? -v : v;
}

int model_read_f16_npy(const char *path, float **out, size_t *rows, size_t *cols) {
  size_t size;
  unsigned char *d = model_read_file(path, &size);
  *out = NULL;
  if (!d || size < 10 || memcmp(d, "\x93NUMPY", 6) != 0 || d[6] != 1) {
    free(d);
    return 1;
  }
  size_t hlen = d[8] | ((size_t)d[9] << 8), off = 10 + hlen;
  char hdr[512];
  snprintf(hdr, sizeof hdr, "%.*s", (int)(hlen < 511 ? hlen : 511), (const char *)d + 10);
  const char *shape = strstr(hdr, "'shape': (");
  int ok = strstr(hdr, "'<f2'") && strstr(hdr, "'fortran_order': False") && shape &&
           sscanf(shape, "'shape': (%zu, %zu)", rows, cols) == 2 &&
           off + *rows * *cols * 2 <= size;
  if (ok && (*out = malloc(*rows * *cols * sizeof(float) + 4))) {
    for (size_t i = 0; i < *rows * *cols; i++) {
      uint16_t h = (uint16_t)(d[off + 2 * i] | (d[off + 2 * i + 1] << 8));
      (*out)[i] = half_to_float(h);
    }
  }
  free(d);
  return *out ? 0 : 1;
}

float *model_densify(const int32_t *coords, const float *feats, size_t n, size_t channels,
                     const int32_t *dhw, int32_t batch) {
  size_t D = (size_t)dhw[0], H = (size_t)dhw[1], W = (size_t)dhw[2];
  float *dense = calloc((size_t)batch * channels * D * H * W + 1, sizeof *dense);
  if (!dense) return NULL;
  for (size_t r = 0; r < n; r++) {
    const int32_t *c = coords + 4 * r;
    for (size_t ch = 0; ch < channels; ch++)
      dense[((((size_t)c[0] * channels + ch) * D + (size_t)c[1]) * H + (size_t)c[2]) * W +
            (size_t)c[3]] = feats[r * channels + ch];
  }
  return dense;
}

double model_rel_l2(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
}

float model_round_f16(float x) {
  if (!isfinite(x) || x == 0.0f) return x;
  int e;
  frexpf(x, &e);                       /* |x| in [2^(e-1), 2^e) */
  int q = e - 11 < -24 ? -24 : e - 11; /* 11 significant bits, subnormals */
  float step = ldexpf(1.0f, q);
  float r = rintf(x / step) * step; /* rintf: nearest, ties to even */
  return fabsf(r) >= 65536.0f ? copysignf(INFINITY, x) : r; /* beyond 65504 */
}
