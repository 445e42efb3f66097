/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning record (clspconv/tuning.h): save and load through the
 * device's tuning file, files that must be ignored (corrupt, truncated,
 * foreign, out-of-range values), invalid overrides, and convolutions
 * against the CPU reference under non-default tiles and per-class
 * dataflows. Every context here that reads or writes a tuning file uses
 * a temporary cache folder, never the user's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conv_layers.h"
#include "tuning_text.h"

static char tmpdir[64];

/* A fresh, empty cache folder for one test. */
static const char *fresh_dir(void) {
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/clsp-tuning-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return tmpdir;
}

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  assert_int_equal(system(cmd), 0);
  tmpdir[0] = 0;
}

typedef struct log_capture {
  int warnings;
  char last[1600];
} log_capture;

static void capture(void *user, clsp_log_level level, const char *message) {
  log_capture *c = user;
  if (level != CLSP_LOG_WARNING) return;
  c->warnings++;
  snprintf(c->last, sizeof c->last, "%s", message);
}

static clsp_context *context_in(const char *dir, uint32_t flags, log_capture *log) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.cache_dir = dir;
  o.flags = flags;
  o.log = log ? capture : NULL;
  o.log_user = log;
  clsp_context *ctx = NULL;
  clsp_status st = clsp_context_create(&o, &ctx);
  if (st != CLSP_SUCCESS) fail_msg("clsp_context_create: %s", clsp_status_string(st));
  return ctx;
}

static void assert_params_equal(const clsp_tuning_params *a,
                                const clsp_tuning_params *b) {
  assert_int_equal(a->fused_default, b->fused_default);
  assert_int_equal(a->fused_vec, b->fused_vec);
  assert_int_equal(a->fused_blocks, b->fused_blocks);
  assert_int_equal(a->fused_ksplit, b->fused_ksplit);
  assert_int_equal(a->local_size, b->local_size);
  assert_int_equal(a->fused_rows, b->fused_rows);
  assert_int_equal(a->fused_groups, b->fused_groups);
  assert_int_equal(a->fused_local, b->fused_local);
  assert_memory_equal(a->dataflow, b->dataflow, sizeof a->dataflow);
}

/* A record unlike the defaults in every field. */
static clsp_tuning_params changed_record(const clsp_tuning_params *def) {
  clsp_tuning_params p = *def;
  p.fused_default = !def->fused_default;
  p.fused_vec = 8;
  p.fused_blocks = 1;
  p.fused_ksplit = 2;
  p.local_size = def->local_size == 32 ? 16 : 32;
  p.fused_rows = def->fused_rows == 7 ? 5 : 7;
  p.fused_groups = !def->fused_groups;
  p.fused_local = def->fused_local == 2 ? 1 : 2;
  p.dataflow[0][2] = CLSP_TUNED_FUSED; /* Cin <= 16, Cout 33..64 */
  p.dataflow[1][0] = CLSP_TUNED_GEMM;  /* Cin 17..32, Cout <= 16 */
  return p;
}

/* One conv on ctx against the reference; stats->fused must be `fused`. */
static void check_conv(clsp_context *ctx, const conv_case *c, int fused, uint64_t seed) {
  layer L;
  int32_t grid[4];
  size_t n;
  grid_for(c->ndim, grid, &n);
  layer_host(&L, c, grid, n, seed);
  layer_device(&L, ctx);
  clsp_conv_stats stats;
  int32_t *oc = NULL;
  float *out = layer_run(&L, ctx, 0, &stats, &oc);
  double *ref = layer_reference(&L, oc);
  size_t total = L.rb.n_out * c->cout;
  double err = ref_rel_error(out, ref, total);
  if (!(err < TOL) || count_nan(out, total) || stats.fused != fused)
    fail_msg("cin %zu cout %zu: rel error %.3g, fused %d (want %d) (seed %llu, %s)",
             c->cin, c->cout, err, stats.fused, fused, (unsigned long long)seed,
             harness_device_label());
  free(out);
  free(oc);
  free(ref);
  layer_device_free(&L);
  layer_free(&L);
}

/* Saved by one context, loaded by the next one on the same cache folder,
 * and in effect there: the tile (8x1 on 50 columns) and the per-class
 * dataflows give reference results with the dataflow the record names. */
static void test_round_trip(void **state) {
  (void)state;
  const char *dir = fresh_dir();
  clsp_context *a = context_in(dir, 0, NULL);
  clsp_tuning_params def, want, got;
  assert_int_equal(clsp_context_tuning(a, &def), CLSP_SUCCESS);
  assert_int_equal(clsp_context_tuning_loaded(a), 0);
  want = changed_record(&def);
  assert_int_equal(clsp_context_set_tuning(a, &want), CLSP_SUCCESS);
  assert_int_equal(clsp_tuning_save(a), CLSP_SUCCESS);
  assert_int_equal(access(clsp_context_tuning_path(a), R_OK), 0);
  assert_non_null(strstr(clsp_context_tuning_path(a), dir));
  clsp_context_destroy(a);

  log_capture log = {0};
  clsp_context *b = context_in(dir, 0, &log);
  assert_int_equal(clsp_context_tuning_loaded(b), 1);
  assert_string_equal(clsp_context_tuning_note(b), "");
  assert_int_equal(log.warnings, 0);
  assert_int_equal(clsp_context_tuning(b, &got), CLSP_SUCCESS);
  assert_params_equal(&got, &want);
  uint64_t seed = harness_seed() + 41;
  conv_case c0 = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 7, 50, 1}; /* [0][2] fused */
  conv_case c1 = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 20, 9, 0}; /* [1][0] gemm */
  conv_case c2 = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 5, 70, 1}; /* [0][3] default */
  check_conv(b, &c0, 1, seed);
  check_conv(b, &c1, 0, seed + 1);
  check_conv(b, &c2, want.fused_default, seed + 2);
  clsp_context_destroy(b);

  /* CLSP_CONTEXT_NO_TUNING_FILE: the defaults, though the file is there. */
  clsp_context *c = context_in(dir, CLSP_CONTEXT_NO_TUNING_FILE, NULL);
  assert_int_equal(clsp_context_tuning_loaded(c), 0);
  assert_int_equal(clsp_context_tuning(c, &got), CLSP_SUCCESS);
  assert_params_equal(&got, &def);
  clsp_context_destroy(c);
  remove_dir();
}

typedef struct bad_file {
  const char *name;
  const char *find, *replace; /* edit of the valid file: find replaced,
                                 or with replace NULL the file cut there */
  size_t cut;                 /* with find NULL: keep this many bytes */
  const char *why;            /* expected in the note */
} bad_file;

/* Each file, written over a valid one, is ignored: the context works with
 * the defaults, and the note and a warning say why. */
static void test_ignored_files(void **state) {
  (void)state;
  static const bad_file cases[] = {
    {"truncated", "driver = ", NULL, 0, "no 'driver' line"},
    {"empty", NULL, NULL, 0, "no 'format' line"},
    {"foreign device", "device = ", "device = another ", 0, "another device"},
    {"foreign library", "library = ", "library = 99.", 0, "another library"},
    {"other format", "format = 1", "format = 2", 0, "format: '2'"},
    {"vec 3", "fused_vec = 8", "fused_vec = 3", 0, "fused_vec: 3"},
    {"blocks with vec 8", "fused_blocks = 1", "fused_blocks = 2", 0, "fused_blocks: 2"},
    {"local not a power", "local_size = ", "local_size = 3", 0, "local_size: 3"},
    {"negative", "fused_ksplit = 2", "fused_ksplit = -2", 0, "fused_ksplit"},
    {"huge number", "fused_ksplit = 2", "fused_ksplit = 99999999999", 0, "fused_ksplit"},
    {"unknown field", "fused_ksplit", "fused_kspilt", 0, "unknown field"},
    {"bad class", "dataflow.16.64", "dataflow.16.65", 0, "unknown field"},
    {"bad dataflow", "= gemm", "= blas", 0, "dataflow: 'blas'"},
    {"repeated", "fused_vec = 8\n", "fused_vec = 8\nfused_vec = 8\n", 0, "twice"},
    {"no equals", "fused_vec = 8", "fused_vec 8", 0, "no '='"},
    {"control byte", "fused_vec = 8", "fused_vec = \0018", 0, "control character"},
  };
  const char *dir = fresh_dir();
  clsp_context *a = context_in(dir, 0, NULL);
  clsp_tuning_params def, want, got;
  clsp_context_tuning(a, &def);
  want = changed_record(&def);
  assert_int_equal(clsp_context_set_tuning(a, &want), CLSP_SUCCESS);
  assert_int_equal(clsp_tuning_save(a), CLSP_SUCCESS);
  char path[1200], valid[CLSP_TUNING_FILE_MAX + 1];
  snprintf(path, sizeof path, "%s", clsp_context_tuning_path(a));
  clsp_context_destroy(a);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t len = fread(valid, 1, sizeof valid - 1, f);
  fclose(f);
  valid[len] = 0;
  for (size_t i = 0; i < N_OF(cases); i++) {
    char text[CLSP_TUNING_FILE_MAX * 2];
    const bad_file *b = &cases[i];
    const char *at = b->find ? strstr(valid, b->find) : valid + b->cut;
    if (!at) fail_msg("%s: '%s' not in the saved file", b->name, b->find);
    if (!b->replace)
      snprintf(text, sizeof text, "%.*s", (int)(at - valid), valid);
    else
      snprintf(text, sizeof text, "%.*s%s%s", (int)(at - valid), valid, b->replace,
               at + strlen(b->find));
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    log_capture log = {0};
    clsp_context *c = context_in(dir, 0, &log);
    char note[1600];
    snprintf(note, sizeof note, "%s", clsp_context_tuning_note(c));
    int loaded = clsp_context_tuning_loaded(c);
    clsp_context_tuning(c, &got);
    clsp_context_destroy(c); /* before any failure: no context left behind */
    if (loaded || !strstr(note, b->why) || log.warnings != 1)
      fail_msg("%s: loaded %d, note '%s' (want '%s'), %d warnings", b->name, loaded, note,
               b->why, log.warnings);
    assert_params_equal(&got, &def);
  }
  remove_dir();
}

/* The parser alone: long lines, oversized files, a partial record (only
 * the fields present change), comments and CRLF line ends. */
static void test_parser_limits(void **state) {
  (void)state;
  clsp__tuning_key key = {"1.2.3", "P", "OpenCL 3.0 P", "D", "9"};
  const char *head =
    "format = 1\r\nlibrary = 1.2.3\r\nplatform = P\r\n"
    "platform_version = OpenCL 3.0 P\r\ndevice = D\r\ndriver = 9\r\n";
  clsp_tuning_params def = {1, 16, 4, 1, 64, {{0}}, 32, 1, 4}, p = def;
  char text[CLSP_TUNING_FILE_MAX + 64], why[256];
  snprintf(text, sizeof text, "# partial\n%s  fused_vec = 4 \n# end\n", head);
  assert_int_equal(clsp__tuning_parse(text, strlen(text), &key, 256, &p, why, sizeof why),
                   -1); /* blocks 4 with vec 4 */
  assert_non_null(strstr(why, "fused_blocks: 4"));
  snprintf(text, sizeof text, "%sfused_vec = 4\nfused_blocks = 1\nlocal_size = 128\n",
           head);
  assert_int_equal(clsp__tuning_parse(text, strlen(text), &key, 256, &p, why, sizeof why),
                   0);
  assert_int_equal(p.fused_vec, 4);
  assert_int_equal(p.fused_ksplit, 1);
  assert_int_equal(p.local_size, 128);
  assert_int_equal(p.fused_default, 1);
  assert_int_equal(p.fused_rows, 32);  /* absent: unchanged */
  assert_int_equal(p.fused_groups, 1); /* absent: unchanged */
  assert_int_equal(p.fused_local, 4);  /* absent: unchanged */
  static const struct {
    const char *line, *expect;
  } bad[] = {{"fused_rows = 129", "fused_rows"},
             {"fused_groups = 2", "fused_groups"},
             {"fused_local = 3", "fused_local: 3"},
             {"fused_local = 512", "fused_local: 512"}};
  for (size_t i = 0; i < N_OF(bad); i++) {
    char line[512];
    snprintf(line, sizeof line, "%s%s\n", head, bad[i].line);
    assert_int_equal(clsp__tuning_parse(line, strlen(line), &key, 256, &p, why,
                                        sizeof why),
                     -1);
    if (!strstr(why, bad[i].expect)) fail_msg("'%s': %s", bad[i].line, why);
  }
  clsp_tuning_params before = p;
  assert_int_equal(clsp__tuning_parse(text, strlen(text), &key, 64, &p, why, sizeof why),
                   -1); /* local 128 over this device's 64 */
  assert_non_null(strstr(why, "local_size: 128"));
  assert_params_equal(&p, &before);
  snprintf(text, sizeof text, "%s# %0300d\n", head, 7);
  assert_int_equal(clsp__tuning_parse(text, strlen(text), &key, 256, &p, why, sizeof why),
                   -1);
  assert_non_null(strstr(why, "longer than"));
  memset(text, '#', sizeof text);
  assert_int_equal(clsp__tuning_parse(text, CLSP_TUNING_FILE_MAX + 1, &key, 256, &p, why,
                                      sizeof why),
                   -1);
  assert_non_null(strstr(why, "larger than"));
  /* The writer's output reads back as the same record. */
  clsp_tuning_params w = {0, 8, 1, 2, 16, {{0}}, 9, 1, 16}, r = def;
  w.dataflow[3][1] = CLSP_TUNED_GEMM;
  size_t n = clsp__tuning_format(&key, &w, text, sizeof text);
  assert_true(n > 0);
  assert_int_equal(clsp__tuning_parse(text, n, &key, 256, &r, why, sizeof why), 0);
  assert_params_equal(&r, &w);
}

typedef struct bad_override {
  const char *expect; /* in the error message */
  void (*edit)(clsp_tuning_params *p);
} bad_override;

static void vec_3(clsp_tuning_params *p) { p->fused_vec = 3; }
static void blocks_5(clsp_tuning_params *p) { p->fused_blocks = 5; }
static void blocks_0(clsp_tuning_params *p) { p->fused_blocks = 0; }
static void blocks_vec8(clsp_tuning_params *p) {
  p->fused_vec = 8;
  p->fused_blocks = 2;
}
static void ksplit_3(clsp_tuning_params *p) { p->fused_ksplit = 3; }
static void rows_0(clsp_tuning_params *p) { p->fused_rows = 0; }
static void rows_129(clsp_tuning_params *p) { p->fused_rows = 129; }
static void fused_local_3(clsp_tuning_params *p) { p->fused_local = 3; }
static void fused_local_huge(clsp_tuning_params *p) { p->fused_local = 1u << 30; }
static void groups_2(clsp_tuning_params *p) { p->fused_groups = 2; }
static void local_48(clsp_tuning_params *p) { p->local_size = 48; }
static void local_0(clsp_tuning_params *p) { p->local_size = 0; }
static void local_huge(clsp_tuning_params *p) { p->local_size = 1u << 30; }
static void default_2(clsp_tuning_params *p) { p->fused_default = 2; }
static void dataflow_7(clsp_tuning_params *p) { p->dataflow[2][1] = 7; }

/* Each invalid field is refused with its name and value; the record in
 * effect stays as it was. */
static void test_invalid_overrides(void **state) {
  (void)state;
  static const bad_override cases[] = {
    {"fused_vec: 3", vec_3},
    {"fused_blocks: 5", blocks_5},
    {"fused_blocks: 0", blocks_0},
    {"fused_blocks: 2 (must be 1", blocks_vec8},
    {"fused_ksplit: 3", ksplit_3},
    {"local_size: 48", local_48},
    {"local_size: 0", local_0},
    {"local_size: 1073741824", local_huge},
    {"fused_default: 2", default_2},
    {"dataflow[2][1]: 7", dataflow_7},
    {"fused_rows: 0", rows_0},
    {"fused_rows: 129", rows_129},
    {"fused_groups: 2", groups_2},
    {"fused_local: 3", fused_local_3},
    {"fused_local: 1073741824", fused_local_huge},
  };
  clsp_context *ctx = harness_ctx();
  clsp_tuning_params before, p, after;
  assert_int_equal(clsp_context_tuning(ctx, &before), CLSP_SUCCESS);
  for (size_t i = 0; i < N_OF(cases); i++) {
    p = before;
    cases[i].edit(&p);
    assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_ERROR_INVALID_ARGUMENT);
    const char *msg = clsp_context_last_error(ctx);
    if (!strstr(msg, cases[i].expect))
      fail_msg("message '%s' does not name '%s'", msg, cases[i].expect);
    assert_int_equal(clsp_context_tuning(ctx, &after), CLSP_SUCCESS);
    assert_params_equal(&after, &before);
  }
  assert_int_equal(clsp_context_set_tuning(ctx, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_set_tuning(NULL, &before), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_context_tuning(ctx, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_tuning_save(NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_string_equal(clsp_context_tuning_path(NULL), "");
  assert_string_equal(clsp_context_tuning_note(NULL), "");
  assert_int_equal(clsp_context_tuning_loaded(NULL), 0);
  /* No cache folder: nowhere to save. */
  clsp_context *nc = context_in(NULL, CLSP_CONTEXT_NO_BINARY_CACHE, NULL);
  assert_string_equal(clsp_context_tuning_path(nc), "");
  assert_int_equal(clsp_tuning_save(nc), CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(nc), "cache is disabled"));
  clsp_context_destroy(nc);
  assert_int_equal(clsp_tuning_bucket(16), 0);
  assert_int_equal(clsp_tuning_bucket(17), 1);
  assert_int_equal(clsp_tuning_bucket(64), 2);
  assert_int_equal(clsp_tuning_bucket(65), 3);
}

/* The capability defaults of the work-item tiles: 128 rows on CPU devices
 * whose native float vector is 16 wide (AVX-512 on PoCL), one row
 * elsewhere; groups of 4 of them where rows are 128, 64 elsewhere (within the
 * device's limit). fused_local 0 sets the default back. */
static void test_row_tile_default(void **state) {
  (void)state;
  unsetenv("CLSP_FUSED_TILE"); /* an override would replace the default */
  clsp_context *ctx = context_in(NULL, CLSP_CONTEXT_NO_TUNING_FILE, NULL);
  const clsp_device_caps *c = clsp_context_caps(ctx);
  clsp_tuning_params p;
  assert_int_equal(clsp_context_tuning(ctx, &p), CLSP_SUCCESS);
  int wide = (c->type & CL_DEVICE_TYPE_CPU) && c->native_float_width >= 16;
  assert_int_equal(p.fused_rows, wide ? 128 : 1);
  uint32_t local = wide ? 4 : 64;
  while (local > c->max_work_group_size) local /= 2;
  assert_int_equal(p.fused_local, local);
  p.fused_local = 1;
  assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_SUCCESS);
  p.fused_local = 0;
  assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_SUCCESS);
  assert_int_equal(clsp_context_tuning(ctx, &p), CLSP_SUCCESS);
  assert_int_equal(p.fused_local, local);
  clsp_context_destroy(ctx);
}

/* Non-default tiles and group sizes set through the public API give the
 * reference results (check_case: fused, twice bit for bit). */
static void test_tiles_through_api(void **state) {
  (void)state;
  static const uint32_t tiles[][6] = {{16, 3, 2, 16, 1, 1},   {16, 2, 1, 32, 5, 2},
                                      {8, 1, 1, 128, 1, 16},  {1, 1, 2, 1, 64, 128},
                                      {16, 4, 1, 64, 128, 1}, {16, 1, 1, 64, 100, 8}};
  clsp_context *ctx = harness_ctx();
  clsp_tuning_params before, p;
  clsp_context_tuning(ctx, &before);
  check_fused_only(1);
  for (size_t i = 0; i < N_OF(tiles); i++) {
    p = before;
    p.fused_vec = tiles[i][0];
    p.fused_blocks = tiles[i][1];
    p.fused_ksplit = tiles[i][2];
    p.local_size = tiles[i][3];
    p.fused_rows = tiles[i][4];
    p.fused_local = tiles[i][5];
    if (p.local_size > clsp_context_caps(ctx)->max_work_group_size) p.local_size = 1;
    if (p.fused_local > clsp_context_caps(ctx)->max_work_group_size) p.fused_local = 1;
    assert_int_equal(clsp_context_set_tuning(ctx, &p), CLSP_SUCCESS);
    conv_case subm = {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 11, 45 + i, 1};
    conv_case regular = {REF_REGULAR, 3,  {3, 3, 3}, {2, 2, 2}, {1, 1, 1},
                         {0},         11, 45 + i,    0};
    conv_case c = i & 1 ? regular : subm;
    int32_t grid[4];
    size_t n;
    grid_for(3, grid, &n);
    check_case(&c, grid, n, 0, harness_seed() + 1300 + i);
  }
  check_fused_only(0);
  assert_int_equal(clsp_context_set_tuning(ctx, &before), CLSP_SUCCESS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parser_limits),     cmocka_unit_test(test_invalid_overrides),
    cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_ignored_files),
    cmocka_unit_test(test_tiles_through_api), cmocka_unit_test(test_row_tile_default),
  };
  return HARNESS_RUN("tuning", tests, 1);
}
