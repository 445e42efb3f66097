/* SPDX-License-Identifier: Apache-2.0 */
/* clsp bench end to end (host suite: runs the clsp binary): both networks
 * on KITTI 000000 with --json/--trace (valid JSON, voxel counts 41,281 and
 * 79,893), single layers on small PCD and PLY files, and usage errors. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "ref_voxel.h"
#include "vox_fields.h"

static char tmpdir[256];

static int setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clsp-bench-test-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Runs `clsp ARGS --device <the suite's device>` (output to a log in
 * tmpdir); returns its exit status. */
static int run_clsp(const char *args) {
  char cmd[16384];
  snprintf(cmd, sizeof cmd, "'%s' %s --device '%s' > '%s/log.txt' 2>&1", CLSP_TOOL_PATH,
           args, harness_device_spec(), tmpdir);
  int rc = system(cmd);
  if (rc != 0) {
    snprintf(cmd, sizeof cmd, "tail -20 '%s/log.txt'", tmpdir);
    if (system(cmd) != 0) print_error("(no log)\n");
  }
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* ---- a minimal JSON validity checker (RFC 8259 grammar) ---- */

typedef struct jp {
  const char *p;
  int depth;
} jp;

static void ws(jp *j) {
  while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}

static int value(jp *j);

static int string(jp *j) {
  if (*j->p++ != '"') return 0;
  while (*j->p && *j->p != '"') {
    if ((unsigned char)*j->p < 0x20) return 0;
    if (*j->p == '\\') {
      j->p++;
      if (*j->p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!isxdigit((unsigned char)j->p[i])) return 0;
        j->p += 4;
      } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) {
        return 0;
      }
    }
    j->p++;
  }
  return *j->p++ == '"';
}

static int number(jp *j) {
  const char *s = j->p;
  if (*j->p == '-') j->p++;
  if (*j->p == '0')
    j->p++;
  else if (isdigit((unsigned char)*j->p))
    while (isdigit((unsigned char)*j->p)) j->p++;
  else
    return 0;
  if (*j->p == '.') {
    j->p++;
    if (!isdigit((unsigned char)*j->p)) return 0;
    while (isdigit((unsigned char)*j->p)) j->p++;
  }
  if (*j->p == 'e' || *j->p == 'E') {
    j->p++;
    if (*j->p == '+' || *j->p == '-') j->p++;
    if (!isdigit((unsigned char)*j->p)) return 0;
    while (isdigit((unsigned char)*j->p)) j->p++;
  }
  return j->p > s;
}

/* Object (open '{', close '}') or array ('[' ']'): members separated by
 * commas, each "key": value for objects. */
static int container(jp *j, char close, int object) {
  j->p++;
  if (++j->depth > 64) return 0;
  ws(j);
  if (*j->p == close) {
    j->p++;
    j->depth--;
    return 1;
  }
  for (;;) {
    ws(j);
    if (object) {
      if (!string(j)) return 0;
      ws(j);
      if (*j->p++ != ':') return 0;
    }
    if (!value(j)) return 0;
    ws(j);
    if (*j->p == ',') {
      j->p++;
      continue;
    }
    if (*j->p++ != close) return 0;
    j->depth--;
    return 1;
  }
}

static int value(jp *j) {
  ws(j);
  switch (*j->p) {
    case '{': return container(j, '}', 1);
    case '[': return container(j, ']', 0);
    case '"': return string(j);
    case 't': return strncmp(j->p, "true", 4) == 0 && (j->p += 4);
    case 'f': return strncmp(j->p, "false", 5) == 0 && (j->p += 5);
    case 'n': return strncmp(j->p, "null", 4) == 0 && (j->p += 4);
    default: return number(j);
  }
}

static int json_valid(const char *text) {
  jp j = {text, 0};
  if (!value(&j)) return 0;
  ws(&j);
  return *j.p == 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      char *nb = realloc(buf, 2 * cap + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf) buf[len] = 0;
  return buf;
}

/* Loads and validates a JSON file; returns its text (caller frees). */
static char *load_json(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  char *t = slurp(path);
  if (!t) fail_msg("%s was not written", path);
  if (!json_valid(t)) fail_msg("%s is not valid JSON", path);
  return t;
}

static long json_int(const char *text, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(text, pat);
  if (!p) fail_msg("JSON lacks \"%s\"", key);
  return strtol(p + strlen(pat), NULL, 10);
}

static void test_json_checker(void **state) {
  (void)state;
  assert_true(
    json_valid("{\"a\": [1, -2.5e3, \"x\\u00e9\", true, null, {}], \"b\": {}}"));
  assert_false(json_valid("{\"a\": [1, 2,]}"));
  assert_false(json_valid("{\"a\" 1}"));
  assert_false(json_valid("[1] x"));
  assert_false(json_valid("{\"a\": 01}"));
}

static const char *kitti_000000(void) {
  static char path[4096];
  const char *env = getenv("CLSP_KITTI_DIR");
  snprintf(path, sizeof path, "%s/000000.bin",
           env && env[0] ? env : CLSP_KITTI_DEFAULT_DIR);
  return access(path, R_OK) == 0 ? path : NULL;
}

static void run_net_on_kitti(const char *net, long want_voxels) {
  const char *k = kitti_000000();
  if (!k) HARNESS_SKIP("KITTI 000000.bin not found (set CLSP_KITTI_DIR)");
  if (harness_small()) HARNESS_SKIP("whole KITTI scans are not run with CLSP_TEST_SMALL");
  char args[8192];
  snprintf(args, sizeof args,
           "bench --net %s --input '%s' --repeat 1 --json '%s/%s.json' --trace "
           "'%s/%s.trace'",
           net, k, tmpdir, net, tmpdir, net);
  assert_int_equal(run_clsp(args), 0);
  char name[64];
  snprintf(name, sizeof name, "%s.json", net);
  char *j = load_json(name);
  assert_int_equal(json_int(j, "voxels"), want_voxels);
  assert_int_equal(json_int(j, "points"), 115384);
  assert_non_null(strstr(j, "\"layers\": ["));
  assert_non_null(strstr(j, "\"total_ms\": "));
  assert_non_null(strstr(j, "\"peak_device_bytes\": "));
  free(j);
  snprintf(name, sizeof name, "%s.trace", net);
  j = load_json(name);
  assert_non_null(strstr(j, "\"traceEvents\""));
  assert_non_null(strstr(j, "\"device queue\""));
  free(j);
}

static void test_second_kitti(void **state) {
  (void)state;
  run_net_on_kitti("second", 41281);
}

static void test_minkunet_kitti(void **state) {
  (void)state;
  run_net_on_kitti("minkunet", 79893);
}

/* A small clustered cloud inside the SECOND range. */
static float *small_cloud(size_t n) {
  harness_rng r = {harness_seed() + 77};
  float *p = malloc(n * 16);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) {
    p[4 * i + 0] = 10.0f + 2.0f * harness_unit(&r);
    p[4 * i + 1] = 3.0f * harness_unit(&r);
    p[4 * i + 2] = -1.0f + 0.5f * harness_unit(&r);
    p[4 * i + 3] = 0.5f + 0.5f * harness_unit(&r);
  }
  return p;
}

static void write_pcd(const char *path, const float *p, size_t n) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\n"
          "TYPE F F F F\nCOUNT 1 1 1 1\nWIDTH %zu\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
          "POINTS %zu\nDATA ascii\n",
          n, n);
  for (size_t i = 0; i < n; i++) /* %.9g round-trips float32 exactly */
    fprintf(f, "%.9g %.9g %.9g %.9g\n", p[4 * i], p[4 * i + 1], p[4 * i + 2],
            p[4 * i + 3]);
  assert_int_equal(fclose(f), 0);
}

static void write_ply(const char *path, const float *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fprintf(f,
          "ply\nformat binary_little_endian 1.0\nelement vertex %zu\n"
          "property float x\nproperty float y\nproperty float z\n"
          "property float intensity\nend_header\n",
          n);
  assert_int_equal(fwrite(p, 16, n, f), n); /* x86/ARM hosts: little-endian */
  assert_int_equal(fclose(f), 0);
}

static void run_layer_on(const char *file, const char *layer, size_t want_voxels) {
  char args[2048];
  snprintf(args, sizeof args,
           "bench --layer %s --input '%s/%s' --repeat 2 --json '%s/l.json'", layer,
           tmpdir, file, tmpdir);
  assert_int_equal(run_clsp(args), 0);
  char *j = load_json("l.json");
  assert_int_equal(json_int(j, "voxels"), (long)want_voxels);
  assert_int_equal(json_int(j, "points"), 3000);
  assert_non_null(strstr(j, "\"kind\": "));
  free(j);
}

/* Whole-tool runs are far too slow under the simulator (CLBlast's GEMMs
 * alone take many minutes there); its kernels are covered by the other
 * suites, which oclgrind runs at small sizes. */
static int on_simulator(void) {
  return strstr(harness_device_label(), "Oclgrind") != NULL;
}

static void test_layers_on_pcd_and_ply(void **state) {
  (void)state;
  if (on_simulator()) HARNESS_SKIP("clsp bench is too slow under the simulator");
  size_t n = 3000;
  float *p = small_cloud(n);
  ref_voxels ref;
  assert_int_equal(ref_voxelize_second(p, n, 0, &ref), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/cloud.pcd", tmpdir);
  write_pcd(path, p, n);
  snprintf(path, sizeof path, "%s/cloud.ply", tmpdir);
  write_ply(path, p, n);
  run_layer_on("cloud.pcd", "subm:4:16:3", ref.n);
  run_layer_on("cloud.ply", "conv:8:16:3:2", ref.n);
  run_layer_on("cloud.pcd", "transposed:4:8:2:2", ref.n);
  ref_voxels_free(&ref);
  free(p);
}

/* Both networks end to end on a small PCD cloud, on every device but the
 * simulator. */
static void test_networks_small(void **state) {
  (void)state;
  if (on_simulator()) HARNESS_SKIP("clsp bench is too slow under the simulator");
  size_t n = 3000;
  float *p = small_cloud(n);
  char path[512], args[2048];
  snprintf(path, sizeof path, "%s/small.pcd", tmpdir);
  write_pcd(path, p, n);
  free(p);
  static const char *const nets[] = {"second", "minkunet"};
  for (int i = 0; i < 2; i++) {
    snprintf(args, sizeof args,
             "bench --net %s --input '%s' --repeat 1 --json '%s/n.json'", nets[i], path,
             tmpdir);
    assert_int_equal(run_clsp(args), 0);
    char *j = load_json("n.json");
    assert_int_equal(json_int(j, "points"), (long)n);
    assert_true(json_int(j, "voxels") > 0);
    assert_non_null(strstr(j, i ? "\"up4.res2.add\"" : "\"conv_out\""));
    free(j);
  }
}

/* ---- --fields N: scans with 3 to 6 float32 values per point ---- */

/* n points of nf fields: the small cloud's x y z (every 7th point moved
 * beyond the SECOND range, which drops it), then seeded extra fields. */
static float *fields_cloud(size_t n, int nf) {
  float *base = small_cloud(n), *p = malloc(n * (size_t)nf * 4);
  assert_non_null(p);
  harness_rng r = {harness_seed() + 1000 + (uint64_t)nf};
  for (size_t i = 0; i < n; i++) {
    for (int f = 0; f < nf; f++)
      p[i * nf + f] = f < 4 ? base[4 * i + f] : (float)f * harness_unit(&r);
    if (i % 7 == 3) p[i * nf] = 80.0f;
  }
  free(base);
  return p;
}

/* The reference's voxels of (x, y, z, field f) rows (f < 0: 0). */
static void ref_field(const float *p, size_t n, int nf, int f, ref_voxels *out) {
  float *q = malloc(n * 16);
  assert_non_null(q);
  for (size_t i = 0; i < n; i++) {
    memcpy(q + 4 * i, p + i * nf, 12);
    q[4 * i + 3] = f >= 0 ? p[i * nf + f] : 0.0f;
  }
  assert_int_equal(ref_voxelize_second(q, n, 0, out), 0);
  free(q);
}

/* vox_fields_run against the CPU reference: the same sites in the same
 * order, and every channel the mean of its field (||out-ref||/||ref|| <
 * 1e-6 per channel; features poisoned with NaN before the download). */
static void test_fields_means(void **state) {
  (void)state;
  size_t n = harness_small() ? 600 : 3000;
  for (int nf = 3; nf <= 6; nf++) {
    float *p = fields_cloud(n, nf);
    clsp_voxelize_options vo;
    clsp_voxelize_defaults(CLSP_VOXEL_SECOND, &vo);
    clsp_tensor *t = NULL;
    assert_int_equal(vox_fields_run(harness_ctx(), &vo, p, n, nf, &t, NULL),
                     CLSP_SUCCESS);
    clsp_tensor_desc d;
    clsp_tensor_describe(t, &d);
    ref_voxels ref;
    ref_field(p, n, nf, -1, &ref);
    HARNESS_CHECK(d.n_sites == ref.n && d.channels == (size_t)nf, harness_seed());
    int32_t *c = malloc(d.n_sites * 16 + 16);
    float *f = malloc(d.n_sites * (size_t)nf * 4 + 4);
    for (size_t i = 0; i < d.n_sites * (size_t)nf; i++) f[i] = NAN;
    assert_int_equal(clsp_tensor_download(harness_ctx(), t, c, f), CLSP_SUCCESS);
    HARNESS_CHECK(memcmp(c, ref.coords, d.n_sites * 16) == 0, harness_seed());
    for (int ch = 0; ch < nf; ch++) {
      ref_voxels rf;
      ref_field(p, n, nf, ch < 3 ? -1 : ch, &rf);
      double num = 0, den = 0;
      for (size_t i = 0; i < d.n_sites; i++) {
        double want = rf.feats[4 * i + (ch < 3 ? ch : 3)], got = f[i * nf + ch];
        num += (got - want) * (got - want);
        den += want * want;
      }
      if (!(sqrt(num) <= 1e-6 * sqrt(den)))
        fail_msg("--fields %d channel %d: rel. error %g (seed %llu)", nf, ch,
                 sqrt(num / den), (unsigned long long)harness_seed());
      ref_voxels_free(&rf);
    }
    ref_voxels_free(&ref);
    clsp_tensor_destroy(t);
    free(c);
    free(f);
    free(p);
  }
}

/* clsp bench --fields N on .bin files of N fields: voxel count exact
 * against the reference, N input channels. */
static void test_fields_bench(void **state) {
  (void)state;
  if (on_simulator()) HARNESS_SKIP("clsp bench is too slow under the simulator");
  size_t n = 3000;
  for (int nf = 3; nf <= 6; nf++) {
    float *p = fields_cloud(n, nf);
    char path[512], args[2048];
    snprintf(path, sizeof path, "%s/f%d.bin", tmpdir, nf);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 4 * (size_t)nf, n, fp), n); /* little-endian hosts */
    assert_int_equal(fclose(fp), 0);
    ref_voxels ref;
    ref_field(p, n, nf, -1, &ref);
    snprintf(args, sizeof args,
             "bench --layer subm:%d:8:3 --input '%s' --fields %d --repeat 1 --json "
             "'%s/f.json'",
             nf, path, nf, tmpdir);
    assert_int_equal(run_clsp(args), 0);
    char *j = load_json("f.json");
    assert_int_equal(json_int(j, "voxels"), (long)ref.n);
    assert_int_equal(json_int(j, "points"), (long)n);
    assert_int_equal(json_int(j, "c_in"), nf);
    free(j);
    ref_voxels_free(&ref);
    free(p);
  }
}

/* MinkUNet end to end on a small cloud with far outliers (+-100 km on x
 * and y, +-1 km on z): a grid far beyond 32-bit voxel keys (issue 13),
 * voxel count exact against the reference. */
static void test_minkunet_far_outliers(void **state) {
  (void)state;
  if (on_simulator()) HARNESS_SKIP("clsp bench is too slow under the simulator");
  size_t n = 3000;
  float *p = realloc(small_cloud(n), (n + 6) * 16);
  assert_non_null(p);
  const float far[] = {1e5f, 0,     0, 0.1f, -1e5f, 1, 1,    0.2f, 3, 1e5f, 0,     0.3f,
                       2,    -1e5f, 1, 0.4f, 4,     5, 1e3f, 0.5f, 5, 4,    -1e3f, 0.6f};
  memcpy(p + 4 * n, far, sizeof far);
  ref_voxels ref;
  assert_int_equal(ref_voxelize_minkunet(p, n + 6, 0, &ref), 0);
  assert_true((double)ref.shape[0] * ref.shape[1] * ref.shape[2] > 4294967295.0);
  char path[512], args[2048];
  snprintf(path, sizeof path, "%s/far.ply", tmpdir);
  write_ply(path, p, n + 6);
  snprintf(args, sizeof args,
           "bench --net minkunet --input '%s' --repeat 1 --json '%s/far.json'", path,
           tmpdir);
  assert_int_equal(run_clsp(args), 0);
  char *j = load_json("far.json");
  assert_int_equal(json_int(j, "points"), (long)(n + 6));
  assert_int_equal(json_int(j, "voxels"), (long)ref.n);
  assert_non_null(strstr(j, "\"up4.res2.add\""));
  free(j);
  ref_voxels_free(&ref);
  free(p);
}

static void test_usage_errors(void **state) {
  (void)state;
  assert_int_not_equal(run_clsp("bench --net nope"), 0);
  assert_int_not_equal(run_clsp("bench --layer subm:4:16:2"), 0);
  assert_int_not_equal(run_clsp("bench --repeat 0"), 0);
  assert_int_not_equal(run_clsp("bench --input /nonexistent/cloud.bin"), 0);
  assert_int_not_equal(run_clsp("bench --range 1,2,3"), 0);
  assert_int_equal(run_clsp("bench --help"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_json_checker),          cmocka_unit_test(test_usage_errors),
    cmocka_unit_test(test_layers_on_pcd_and_ply), cmocka_unit_test(test_networks_small),
    cmocka_unit_test(test_fields_means),          cmocka_unit_test(test_fields_bench),
    cmocka_unit_test(test_minkunet_far_outliers), cmocka_unit_test(test_second_kitti),
    cmocka_unit_test(test_minkunet_kitti),
  };
  if (setup() != 0) {
    perror("mkdtemp");
    return 1;
  }
  int rc = HARNESS_RUN("bench", tests, 1);
  teardown();
  return rc;
}
