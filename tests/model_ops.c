/* SPDX-License-Identifier: Apache-2.0 */
/* The ops models need beyond ops.h's first four (src/pipeline/dense.c):
 * scatter to dense in both axis orders, dense permutation, sigmoid, leaky
 * ReLU and tensor copies, against plain C loops on seeded random data,
 * outputs poisoned first; plus their argument checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "model_util.h"

#define D0 5
#define D1 7
#define D2 6
#define CH 3
#define NB 2

/* n unique random sites in [NB] x [D0, D1, D2], features in [-4, 4). */
static clsp_tensor *random_tensor(uint64_t seed, size_t n, int32_t **coords,
                                  float **feats) {
  harness_rng r = {seed};
  char used[NB * D0 * D1 * D2] = {0};
  *coords = malloc(n * 16);
  *feats = malloc(n * CH * sizeof(float));
  assert_true(*coords && *feats);
  for (size_t i = 0; i < n;) {
    uint32_t cell = harness_below(&r, NB * D0 * D1 * D2);
    if (used[cell]++) continue;
    int32_t *c = *coords + 4 * i++;
    c[3] = (int32_t)(cell % D2);
    c[2] = (int32_t)(cell / D2 % D1);
    c[1] = (int32_t)(cell / (D2 * D1) % D0);
    c[0] = (int32_t)(cell / (D2 * D1 * D0));
  }
  for (size_t i = 0; i < n * CH; i++) (*feats)[i] = 4.0f * harness_unit(&r);
  /* Unique by construction and trusted, as in test_ops.c: the duplicate
   * check's hash kernels drew Oclgrind uninitialized-value reports here
   * (library kernels, not this file's subject). */
  clsp_tensor_desc d = {3, {D0, D1, D2}, NB, n, CH, CLSP_TENSOR_TRUSTED_UNIQUE};
  clsp_tensor *t = NULL;
  assert_int_equal(clsp_tensor_create(harness_ctx(), &d, *coords, *feats, &t),
                   CLSP_SUCCESS);
  return t;
}

static cl_mem buffer(size_t bytes) {
  cl_context c;
  cl_device_id dev;
  cl_command_queue q;
  assert_int_equal(clsp_context_cl(harness_ctx(), &c, &dev, &q), CLSP_SUCCESS);
  cl_int err;
  cl_mem m = clCreateBuffer(c, CL_MEM_READ_WRITE, bytes, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  float *poison = malloc(bytes);
  for (size_t i = 0; i < bytes / 4; i++) poison[i] = NAN;
  assert_int_equal(clEnqueueWriteBuffer(q, m, CL_TRUE, 0, bytes, poison, 0, NULL, NULL),
                   CL_SUCCESS);
  free(poison);
  return m;
}

static void read_buffer(cl_mem m, size_t bytes, float *out) {
  cl_context c;
  cl_device_id dev;
  cl_command_queue q;
  clsp_context_cl(harness_ctx(), &c, &dev, &q);
  assert_int_equal(clEnqueueReadBuffer(q, m, CL_TRUE, 0, bytes, out, 0, NULL, NULL),
                   CL_SUCCESS);
}

void test_dense_ops(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1201;
  size_t n = 97, cells = (size_t)NB * CH * D0 * D1 * D2, bytes = cells * sizeof(float);
  int32_t *c;
  float *f;
  clsp_tensor *t = random_tensor(seed, n, &c, &f);
  size_t need = 0;
  assert_int_equal(clsp_dense_bytes(t, &need), CLSP_SUCCESS);
  assert_int_equal(need, bytes);
  cl_mem zyx = buffer(bytes), xyz = buffer(bytes), perm = buffer(bytes);
  assert_int_equal(clsp_scatter_dense(harness_ctx(), t, CLSP_DENSE_AXES_IN_ORDER, zyx,
                                      NULL),
                   CLSP_SUCCESS);
  assert_int_equal(clsp_scatter_dense(harness_ctx(), t, CLSP_DENSE_AXES_REVERSED, xyz,
                                      NULL),
                   CLSP_SUCCESS);
  /* out[b, c, x, z, y] = in[b, c, z, y, x]: perm (0, 1, 4, 2, 3) */
  const int64_t dims[5] = {NB, CH, D0, D1, D2};
  const int p[5] = {0, 1, 4, 2, 3};
  assert_int_equal(clsp_dense_permute(harness_ctx(), zyx, 5, dims, p, perm, NULL),
                   CLSP_SUCCESS);
  float *a = malloc(bytes), *b = malloc(bytes), *q = malloc(bytes),
        *want = calloc(cells, 4);
  float *want_x = calloc(cells, 4), *want_p = calloc(cells, 4);
  read_buffer(zyx, bytes, a);
  read_buffer(xyz, bytes, b);
  read_buffer(perm, bytes, q);
  for (size_t i = 0; i < n; i++)
    for (size_t ch = 0; ch < CH; ch++) {
      const int32_t *r = c + 4 * i;
      size_t bc = (size_t)r[0] * CH + ch;
      float v = f[i * CH + ch];
      want[((bc * D0 + (size_t)r[1]) * D1 + (size_t)r[2]) * D2 + (size_t)r[3]] = v;
      want_x[((bc * D2 + (size_t)r[3]) * D1 + (size_t)r[2]) * D0 + (size_t)r[1]] = v;
      want_p[((bc * D2 + (size_t)r[3]) * D0 + (size_t)r[1]) * D1 + (size_t)r[2]] = v;
    }
  HARNESS_CHECK(memcmp(a, want, bytes) == 0, seed);
  HARNESS_CHECK(memcmp(b, want_x, bytes) == 0, seed);
  HARNESS_CHECK(memcmp(q, want_p, bytes) == 0, seed);
  /* Errors: a buffer too small, not a permutation, in == out. */
  cl_mem small = buffer(bytes / 2);
  assert_int_equal(clsp_scatter_dense(harness_ctx(), t, CLSP_DENSE_AXES_IN_ORDER, small,
                                      NULL),
                   CLSP_ERROR_MISMATCH);
  assert_non_null(strstr(clsp_context_last_error(harness_ctx()), "dense"));
  const int bad[5] = {0, 1, 1, 2, 3};
  assert_int_equal(clsp_dense_permute(harness_ctx(), zyx, 5, dims, bad, perm, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(harness_ctx()), "perm[2]"));
  assert_int_equal(clsp_dense_permute(harness_ctx(), zyx, 5, dims, p, zyx, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clReleaseMemObject(small);
  clReleaseMemObject(zyx);
  clReleaseMemObject(xyz);
  clReleaseMemObject(perm);
  free(a);
  free(b);
  free(q);
  free(want);
  free(want_x);
  free(want_p);
  free(c);
  free(f);
  clsp_tensor_destroy(t);
}

void test_activation_ops(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1202;
  size_t n = 113, count = n * CH;
  int32_t *c;
  float *f;
  clsp_tensor *t = random_tensor(seed, n, &c, &f), *s = NULL, *l = NULL;
  assert_int_equal(clsp_tensor_copy(harness_ctx(), t, &s), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_copy(harness_ctx(), t, &l), CLSP_SUCCESS);
  assert_int_equal(clsp_sigmoid(harness_ctx(), s, NULL), CLSP_SUCCESS);
  assert_int_equal(clsp_leaky_relu(harness_ctx(), l, 0.125f, NULL), CLSP_SUCCESS);
  float *gs = malloc(count * 4), *gl = malloc(count * 4), *gt = malloc(count * 4);
  int32_t *cc = malloc(n * 16);
  assert_int_equal(clsp_tensor_download(harness_ctx(), s, cc, gs), CLSP_SUCCESS);
  assert_memory_equal(cc, c, n * 16); /* the copy keeps the sites */
  assert_int_equal(clsp_tensor_download(harness_ctx(), l, NULL, gl), CLSP_SUCCESS);
  assert_int_equal(clsp_tensor_download(harness_ctx(), t, NULL, gt), CLSP_SUCCESS);
  assert_memory_equal(gt, f, count * 4); /* the source is untouched */
  double es = 0, ns = 0;
  for (size_t i = 0; i < count; i++) {
    double sig = 1.0 / (1.0 + exp(-(double)f[i]));
    es += (gs[i] - sig) * (gs[i] - sig);
    ns += sig * sig;
    HARNESS_CHECK(gl[i] == (f[i] < 0 ? f[i] * 0.125f : f[i]), seed);
  }
  HARNESS_CHECK(sqrt(es / ns) <= 1e-6, seed);
  /* A copy counts as on the same sites: it adds to the original. */
  assert_int_equal(clsp_add(harness_ctx(), l, t, 0, NULL), CLSP_SUCCESS);
  free(gs);
  free(gl);
  free(gt);
  free(cc);
  free(c);
  free(f);
  clsp_tensor_destroy(s);
  clsp_tensor_destroy(l);
  clsp_tensor_destroy(t);
}

/* clsp_round_half against model_round_f16 (host, rintf on the float16
 * grid) on seeded values around every binade of float16, exact ties,
 * subnormals, values rounding to 65504 and to inf, and zeros' signs:
 * equal bit for bit; features poisoned before the download. */
void test_round_half(void **state) {
  (void)state;
  uint64_t seed = harness_seed() + 1203;
  size_t n = 211, count = n * CH;
  int32_t *c;
  float *f;
  clsp_tensor *t = random_tensor(seed, n, &c, &f);
  harness_rng r = {seed};
  const float special[] =
    {0.0f,     -0.0f,    65504.0f, 65519.0f, 65520.0f,        -65520.0f,       1e6f,
     5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-9f,    1.0f + 0x1p-11f, 1.0f + 0x3p-11f, -1.5e-5f,
     6.1e-5f,  2049.0f,  2051.0f};
  size_t ns = sizeof special / sizeof special[0];
  for (size_t i = 0; i < count; i++) {
    if (i < ns) {
      f[i] = special[i];
      continue;
    }
    float m = 1.0f + harness_unit(&r); /* [1, 2), binade 2^-26 .. 2^17 */
    int e = (int)harness_below(&r, 44) - 26;
    f[i] = ldexpf(harness_below(&r, 2) ? -m : m, e);
  }
  clsp_tensor_destroy(t);
  clsp_tensor_desc d = {3, {D0, D1, D2}, NB, n, CH, CLSP_TENSOR_TRUSTED_UNIQUE};
  assert_int_equal(clsp_tensor_create(harness_ctx(), &d, c, f, &t), CLSP_SUCCESS);
  double ms = -1.0;
  assert_int_equal(clsp_round_half(harness_ctx(), t, &ms), CLSP_SUCCESS);
  assert_true(ms >= 0.0);
  float *got = malloc(count * 4);
  assert_non_null(got);
  for (size_t i = 0; i < count; i++) got[i] = NAN;
  assert_int_equal(clsp_tensor_download(harness_ctx(), t, NULL, got), CLSP_SUCCESS);
  for (size_t i = 0; i < count; i++) {
    float want = model_round_f16(f[i]);
    if (memcmp(&got[i], &want, 4) != 0)
      fail_msg("value %zu: %.9g rounds to %.9g on the device, %.9g expected (seed %llu)",
               i, (double)f[i], (double)got[i], (double)want, (unsigned long long)seed);
  }
  assert_int_equal(clsp_round_half(NULL, t, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_round_half(harness_ctx(), NULL, NULL),
                   CLSP_ERROR_INVALID_ARGUMENT);
  free(got);
  free(c);
  free(f);
  clsp_tensor_destroy(t);
}
