/* SPDX-License-Identifier: Apache-2.0 */
/* Core runtime: status codes, device selection, contexts (own and wrapped),
 * capability probe, program build, binary cache and build failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "programs.h"

static void test_status_strings(void **state) {
  (void)state;
  for (int s = CLSP_ERROR_INVALID_ARGUMENT; s >= CLSP_ERROR_IO; s--) {
    assert_string_not_equal(clsp_status_string(s), "unknown status");
    assert_int_equal(clsp_status_origin(s), 'L');
  }
  assert_string_equal(clsp_status_string(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
  assert_int_equal(clsp_status_origin(CL_INVALID_VALUE), 'C');
  assert_string_equal(clsp_status_string(-2046), "CLBlastInvalidLocalMemUsage");
  assert_int_equal(clsp_status_origin(-1017), 'B');
  assert_string_equal(clsp_status_string(-123456), "unknown status");
  assert_int_equal(clsp_status_origin(CLSP_SUCCESS), 0);
}

static void test_select_by_index_and_name(void **state) {
  (void)state;
  clsp_device_info d, again;
  assert_int_equal(clsp_device_select(harness_device_spec(), &d), CLSP_SUCCESS);
  char spec[64];
  snprintf(spec, sizeof spec, "%u:%u", d.platform_index, d.device_index);
  assert_string_equal(spec, harness_device_spec());
  /* A case-changed substring of the device name finds a device with it. */
  char sub[8] = {0};
  for (int i = 0; i < 5 && d.caps.device_name[i]; i++) {
    char c = d.caps.device_name[i];
    sub[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
  }
  assert_int_equal(clsp_device_select(sub, &again), CLSP_SUCCESS);
  assert_non_null(strstr(again.caps.device_name, d.caps.device_name) ? "" : NULL);
  assert_int_equal(clsp_device_select("no-such-device-xyz", &again),
                   CLSP_ERROR_NO_DEVICE);
  assert_int_equal(clsp_device_select("99:0", &again), CLSP_ERROR_NO_DEVICE);
  assert_int_equal(clsp_device_select(NULL, &again), CLSP_SUCCESS);
  assert_int_equal(clsp_device_select(NULL, NULL), CLSP_ERROR_INVALID_ARGUMENT);
}

static void test_list_skips_empty_platforms(void **state) {
  (void)state;
  size_t n = 0;
  assert_int_equal(clsp_devices_list(NULL, 0, &n), CLSP_SUCCESS);
  assert_true(n >= 1);
  clsp_device_info *all = calloc(n, sizeof *all);
  assert_non_null(all);
  assert_int_equal(clsp_devices_list(all, n, &n), CLSP_SUCCESS);
  for (size_t i = 0; i < n; i++) assert_true(all[i].caps.device_name[0] != 0);
  free(all);
  assert_int_equal(clsp_devices_list(NULL, 3, &n), CLSP_ERROR_INVALID_ARGUMENT);
  assert_int_equal(clsp_devices_list(NULL, 0, NULL), CLSP_ERROR_INVALID_ARGUMENT);
}

static void test_caps_probe(void **state) {
  (void)state;
  const clsp_device_caps *c = clsp_context_caps(harness_ctx());
  assert_non_null(c);
  assert_true(c->opencl_major >= 1);
  assert_true(c->opencl_c_major >= 1);
  assert_true(c->max_work_group_size >= 1);
  assert_true(c->compute_units >= 1);
  assert_true(c->global_mem_bytes > 0);
  assert_true(c->max_alloc_bytes > 0 && c->max_alloc_bytes <= c->global_mem_bytes);
  assert_true(c->local_mem_bytes > 0);
  assert_true(strstr(c->device_version, "OpenCL") != NULL);
  /* The native float vector width is a power of two (1 .. 16 on the devices
   * here; OpenCL allows 0 only for double and half). */
  assert_true(c->native_float_width >= 1 && c->native_float_width <= 64 &&
              (c->native_float_width & (c->native_float_width - 1)) == 0);
  /* 64-bit atomics agree with the extension string. */
  cl_device_id dev;
  assert_int_equal(clsp_context_cl(harness_ctx(), NULL, &dev, NULL), CLSP_SUCCESS);
  char ext[8192] = {0};
  clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, sizeof ext - 1, ext, NULL);
  assert_int_equal(c->int64_atomics, strstr(ext, "cl_khr_int64_base_atomics") != NULL);
  assert_null(clsp_context_caps(NULL));
}

typedef struct log_capture {
  int calls;
  char last[512];
} log_capture;

static void capture_log(void *user, clsp_log_level level, const char *msg) {
  log_capture *c = user;
  if (level == CLSP_LOG_ERROR) {
    c->calls++;
    snprintf(c->last, sizeof c->last, "%s", msg);
  }
}

static void test_create_errors(void **state) {
  (void)state;
  clsp_context *ctx = (clsp_context *)0x1;
  log_capture cap = {0};
  clsp_context_options o = {0};
  o.device = "no-such-device-xyz";
  o.log = capture_log;
  o.log_user = &cap;
  assert_int_equal(clsp_context_create(&o, &ctx), CLSP_ERROR_NO_DEVICE);
  assert_null(ctx);
  assert_int_equal(cap.calls, 1);
  assert_non_null(strstr(cap.last, "no-such-device-xyz"));
  assert_int_equal(clsp_context_create(&o, NULL), CLSP_ERROR_INVALID_ARGUMENT);
  assert_string_equal(clsp_context_last_error(NULL), "");
  clsp_context_destroy(NULL);
}

/* Fills a buffer through the library's kernel path and checks it. */
static void run_fill_kernel(clsp_context *ctx, uint32_t value) {
  enum { N = 1000 };
  cl_mem buf = NULL;
  assert_int_equal(clsp__buffer_create(ctx, CL_MEM_READ_WRITE, N * 4, NULL, "test", &buf),
                   CLSP_SUCCESS);
  uint32_t host[N];
  for (int i = 0; i < N; i++) host[i] = 0xdeadbeefu; /* poison */
  assert_int_equal(clEnqueueWriteBuffer(ctx->queue, buf, CL_TRUE, 0, sizeof host, host, 0,
                                        NULL, NULL),
                   CL_SUCCESS);
  cl_uint n = N - 1; /* the last element must stay poisoned */
  assert_int_equal(CLSP_RUN(ctx, CLSP_K_FILL_U32, clsp_items_in_groups(n, 64), NULL,
                            CLSP_A(buf), CLSP_A(value), CLSP_A(n)),
                   CLSP_SUCCESS);
  assert_int_equal(clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, sizeof host, host, 0,
                                       NULL, NULL),
                   CL_SUCCESS);
  for (int i = 0; i < N - 1; i++) assert_int_equal(host[i], value);
  assert_int_equal(host[N - 1], 0xdeadbeefu);
  clsp__buffer_release(ctx, &buf);
}

static void test_kernel_runs(void **state) {
  (void)state;
  run_fill_kernel(harness_ctx(), 12345u);
  uint64_t cur = 1, peak = 0;
  assert_int_equal(clsp_context_memory(harness_ctx(), &cur, &peak), CLSP_SUCCESS);
  assert_int_equal(cur, 0);
  assert_true(peak >= 4000);
  assert_int_equal(clsp_context_warmup(harness_ctx()), CLSP_SUCCESS);
}

/* The launch warm-up runs its whole workload and leaves no device memory
 * behind; its second run finds everything compiled. */
static void test_warmup_launches(void **state) {
  (void)state;
  if (harness_small())
    HARNESS_SKIP("the launch warm-up's workload is not run with CLSP_TEST_SMALL");
  uint64_t before = 0, after = 1, peak = 0;
  assert_int_equal(clsp_context_memory(harness_ctx(), &before, &peak), CLSP_SUCCESS);
  clsp_status st = clsp_context_warmup_launches(harness_ctx());
  if (st != CLSP_SUCCESS) fail_msg("%s", clsp_context_last_error(harness_ctx()));
  assert_int_equal(clsp_context_warmup_launches(harness_ctx()), CLSP_SUCCESS);
  assert_int_equal(clsp_context_memory(harness_ctx(), &after, &peak), CLSP_SUCCESS);
  assert_int_equal(after, before);
  assert_int_equal(clsp_context_warmup_launches(NULL), CLSP_ERROR_INVALID_ARGUMENT);
}

static void test_wrap_keeps_caller_objects(void **state) {
  (void)state;
  cl_context cl;
  cl_device_id dev;
  cl_command_queue q;
  assert_int_equal(clsp_context_cl(harness_ctx(), &cl, &dev, &q), CLSP_SUCCESS);
  cl_int err;
  cl_context mine = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  cl_command_queue myq = clCreateCommandQueue(mine, dev, 0, &err);
#pragma GCC diagnostic pop
  assert_int_equal(err, CL_SUCCESS);
  clsp_context *w = NULL;
  assert_int_equal(clsp_context_wrap(mine, dev, myq, NULL, &w), CLSP_SUCCESS);
  run_fill_kernel(w, 77u);
  clsp_context_destroy(w);
  cl_uint refs = 0;
  assert_int_equal(clGetContextInfo(mine, CL_CONTEXT_REFERENCE_COUNT, sizeof refs, &refs,
                                    NULL),
                   CL_SUCCESS);
  assert_true(refs >= 1);
  cl_mem m = clCreateBuffer(mine, CL_MEM_READ_WRITE, 64, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  uint32_t pattern = 5;
  assert_int_equal(clEnqueueFillBuffer(myq, m, &pattern, 4, 0, 64, 0, NULL, NULL),
                   CL_SUCCESS);
  assert_int_equal(clFinish(myq), CL_SUCCESS);
  /* A queue of another context is a mismatch; NULL handles are invalid. */
  assert_int_equal(clsp_context_wrap(mine, dev, q, NULL, &w), CLSP_ERROR_MISMATCH);
  assert_null(w);
  assert_int_equal(clsp_context_wrap(NULL, dev, myq, NULL, &w),
                   CLSP_ERROR_INVALID_ARGUMENT);
  clReleaseMemObject(m);
  clReleaseCommandQueue(myq);
  clReleaseContext(mine);
}

static char *make_temp_dir(void) {
  char *t = strdup("/tmp/clsp-test-XXXXXX");
  assert_non_null(mkdtemp(t));
  return t;
}

static void remove_tree(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static clsp_context *context_with_cache(const char *dir, uint32_t flags) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.cache_dir = dir;
  o.flags = flags;
  clsp_context *ctx = NULL;
  assert_int_equal(clsp_context_create(&o, &ctx), CLSP_SUCCESS);
  return ctx;
}

static clsp_cache_stats fill_with_cache(const char *dir) {
  clsp_context *ctx = context_with_cache(dir, 0);
  run_fill_kernel(ctx, 9u);
  clsp_cache_stats s;
  assert_int_equal(clsp_context_cache_stats(ctx, &s), CLSP_SUCCESS);
  clsp_context_destroy(ctx);
  return s;
}

/* Returns the path of the single cache entry in dir. */
static void entry_in(const char *dir, char *path, size_t cap) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ls '%s'/*.bin", dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(path, (int)cap, p));
  pclose(p);
  path[strcspn(path, "\n")] = 0;
}

static void truncate_file(const char *path, long keep) {
  assert_int_equal(truncate(path, keep), 0);
}

static void flip_last_byte(const char *path) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, -1, SEEK_END);
  int c = fgetc(f);
  fseek(f, -1, SEEK_END);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

static void test_cache_hit_miss_corrupt(void **state) {
  (void)state;
  if (!strstr(clsp_context_caps(harness_ctx())->platform_name, "Portable") &&
      !strstr(clsp_context_caps(harness_ctx())->platform_name, "rusticl"))
    HARNESS_SKIP("this platform (%s) may return no reusable program binary",
                 clsp_context_caps(harness_ctx())->platform_name);
  char *dir = make_temp_dir();
  clsp_cache_stats s = fill_with_cache(dir);
  assert_int_equal(s.misses, 1);
  assert_int_equal(s.writes, 1);
  s = fill_with_cache(dir);
  assert_int_equal(s.hits, 1);
  assert_int_equal(s.misses, 0);
  char path[1024];
  entry_in(dir, path, sizeof path);
  truncate_file(path, 30); /* shorter than the header */
  s = fill_with_cache(dir);
  assert_int_equal(s.rejected, 1);
  assert_int_equal(s.writes, 1);
  flip_last_byte(path); /* payload no longer matches its hash */
  s = fill_with_cache(dir);
  assert_int_equal(s.rejected, 1);
  s = fill_with_cache(dir);
  assert_int_equal(s.hits, 1);
  remove_tree(dir);
  free(dir);
}

static void test_cache_unwritable_folder(void **state) {
  (void)state;
  char *dir = make_temp_dir();
  char file[512], below[600];
  snprintf(file, sizeof file, "%s/plain-file", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  /* A folder below a regular file cannot exist, even for root. */
  snprintf(below, sizeof below, "%s/sub", file);
  clsp_context *ctx = context_with_cache(below, 0);
  assert_string_equal(clsp_context_cache_dir(ctx), "");
  run_fill_kernel(ctx, 3u);
  clsp_context_destroy(ctx);
  ctx = context_with_cache(dir, CLSP_CONTEXT_NO_BINARY_CACHE);
  assert_string_equal(clsp_context_cache_dir(ctx), "");
  clsp_context_destroy(ctx);
  remove_tree(dir);
  free(dir);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_build_failure_carries_log(void **state) {
  (void)state;
  char *dir = make_temp_dir();
  write_text(dir, "shared_defs.h", "/* empty */\n");
  write_text(dir, "common.clh", "/* empty */\n");
  write_text(dir, "util.cl",
             "kernel void clsp_fill_u32(global uint *d) { d[0] = undeclared_name; }\n");
  setenv("CLSP_KERNEL_DIR", dir, 1);
  clsp_context *ctx = context_with_cache(dir, CLSP_CONTEXT_NO_BINARY_CACHE);
  assert_int_equal(clsp_context_warmup(ctx), CLSP_ERROR_BUILD_FAILED);
  assert_non_null(strstr(clsp_context_last_error(ctx), "undeclared_name"));
  remove_tree(dir);
  assert_int_equal(clsp_context_warmup(ctx), CLSP_ERROR_KERNEL_SOURCE);
  assert_non_null(strstr(clsp_context_last_error(ctx), "CLSP_KERNEL_DIR"));
  unsetenv("CLSP_KERNEL_DIR");
  assert_int_equal(clsp_context_warmup(ctx), CLSP_SUCCESS); /* usable after */
  clsp_context_destroy(ctx);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_status_strings),
    cmocka_unit_test(test_warmup_launches),
    cmocka_unit_test(test_select_by_index_and_name),
    cmocka_unit_test(test_list_skips_empty_platforms),
    cmocka_unit_test(test_caps_probe),
    cmocka_unit_test(test_create_errors),
    cmocka_unit_test(test_kernel_runs),
    cmocka_unit_test(test_wrap_keeps_caller_objects),
    cmocka_unit_test(test_cache_hit_miss_corrupt),
    cmocka_unit_test(test_cache_unwritable_folder),
    cmocka_unit_test(test_build_failure_carries_log),
  };
  return HARNESS_RUN("core", tests, 1);
}
