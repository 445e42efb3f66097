/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel programs: sources (embedded, or $CLSP_KERNEL_DIR for kernel
 * development), build options (tuning defines + the program's own), the
 * binary cache, and the per-context program cache (see launch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "launch.h"

typedef struct text {
  char *data;
  size_t len, cap;
} text;

static int text_append(text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = (t->cap ? t->cap * 2 : 4096);
    while (cap < t->len + n + 1) cap *= 2;
    char *p = realloc(t->data, cap);
    if (!p) return 0;
    t->data = p;
    t->cap = cap;
  }
  memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = 0;
  return 1;
}

static const clsp_kernel_source *embedded(const char *name, size_t n) {
  for (size_t i = 0; i < clsp_kernel_source_count; i++)
    if (strlen(clsp_kernel_sources[i].name) == n &&
        strncmp(clsp_kernel_sources[i].name, name, n) == 0)
      return &clsp_kernel_sources[i];
  return NULL;
}

static clsp_status append_from_dir(clsp_context *ctx, text *t, const char *dir,
                                   const char *name, size_t n) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%.*s", dir, (int)n, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return clsp__fail(ctx, CLSP_ERROR_KERNEL_SOURCE,
                      "kernel source %s cannot be opened ($CLSP_KERNEL_DIR=%s)", path,
                      dir);
  char buf[8192];
  size_t got;
  int ok = 1;
  while (ok && (got = fread(buf, 1, sizeof buf, f)) > 0) ok = text_append(t, buf, got);
  int read_error = ferror(f);
  fclose(f);
  if (!ok) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "reading %s", path);
  if (read_error)
    return clsp__fail(ctx, CLSP_ERROR_KERNEL_SOURCE, "reading %s failed", path);
  return CLSP_SUCCESS;
}

static clsp_status append_source(clsp_context *ctx, text *t, const char *name, size_t n) {
  const char *dir = getenv("CLSP_KERNEL_DIR");
  char line[320];
  snprintf(line, sizeof line, "\n#line 1 \"%.*s\"\n", (int)n, name);
  if (!text_append(t, line, strlen(line)))
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "kernel source");
  if (dir && dir[0]) return append_from_dir(ctx, t, dir, name, n);
  const clsp_kernel_source *src = embedded(name, n);
  if (!src)
    return clsp__fail(ctx, CLSP_ERROR_INTERNAL, "no embedded kernel source '%.*s'",
                      (int)n, name);
  if (!text_append(t, src->text, src->length))
    return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "kernel source");
  return CLSP_SUCCESS;
}

/* Concatenates the comma-separated source files into one program text. */
static clsp_status assemble(clsp_context *ctx, const char *sources, text *t) {
  const char *p = sources;
  while (*p) {
    size_t n = strcspn(p, ",");
    clsp_status st = append_source(ctx, t, p, n);
    if (st != CLSP_SUCCESS) return st;
    p += n;
    if (*p == ',') p++;
  }
  return CLSP_SUCCESS;
}

static clsp_status build_log_fail(clsp_context *ctx, cl_program prog, cl_int err) {
  size_t n = 0;
  clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
  char *log = calloc(n + 1, 1);
  if (log) clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
  clsp__fail(ctx, CLSP_ERROR_BUILD_FAILED, "kernel program build failed (%s):\n%s",
             clsp_status_string(err), log ? log : "(no build log)");
  free(log);
  return CLSP_ERROR_BUILD_FAILED;
}

static clsp_status build_from_source(clsp_context *ctx, const text *src,
                                     const char *options, cl_program *out) {
  cl_int err = CL_SUCCESS;
  const char *strings[] = {src->data};
  size_t lengths[] = {src->len};
  cl_program prog = clCreateProgramWithSource(ctx->cl, 1, strings, lengths, &err);
  if (err != CL_SUCCESS) return clsp__cl_fail(ctx, err, "clCreateProgramWithSource");
  err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    clsp_status st = build_log_fail(ctx, prog, err);
    clReleaseProgram(prog);
    return st;
  }
  *out = prog;
  return CLSP_SUCCESS;
}

/* The exact bytes the binary cache is keyed on. */
static int key_material(const clsp_context *ctx, const text *src, const char *options,
                        text *key) {
  char head[3072];
  snprintf(head, sizeof head,
           "clspconv %s\noptions %s\ndevice %s\ndriver %s\nplatform %s\n",
           CLSP_VERSION_STRING, options, ctx->caps.device_name, ctx->caps.driver_version,
           ctx->caps.platform_version);
  return text_append(key, head, strlen(head)) && text_append(key, src->data, src->len);
}

/* Compiling from source takes seconds per program on some drivers (PoCL):
 * say so once per context, before the first one. */
static void note_first_compile(clsp_context *ctx) {
  if (ctx->compile_noted) return;
  ctx->compile_noted = 1;
  clsp__log(ctx, CLSP_LOG_INFO, "compiling kernels for %s: first use, cached in %s",
            ctx->caps.device_name,
            ctx->cache_dir[0] ? ctx->cache_dir : "no folder (the binary cache is off)");
}

static clsp_status build_program(clsp_context *ctx, const char *sources,
                                 const char *options, cl_program *out) {
  text src = {0}, key = {0};
  clsp_status st = assemble(ctx, sources, &src);
  if (st == CLSP_SUCCESS && !key_material(ctx, &src, options, &key))
    st = clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "program key");
  if (st == CLSP_SUCCESS && !clsp__cache_load(ctx, key.data, key.len, out)) {
    note_first_compile(ctx);
    st = build_from_source(ctx, &src, options, out);
    if (st == CLSP_SUCCESS) clsp__cache_store(ctx, key.data, key.len, *out);
  }
  free(src.data);
  free(key.data);
  return st;
}

/* "-cl-std=CL1.2 " unless the program's options name a standard, the
 * tuning defines, then the program's options. */
static void build_options(clsp_context *ctx, const clsp_program_def *p, char *buf,
                          size_t cap) {
  char defines[512], own[512] = "";
  clsp__tuning_defines(&ctx->tuning, defines, sizeof defines);
  if (p->options) p->options(ctx, own, sizeof own);
  const char *std = strstr(own, "-cl-std=") ? "" : "-cl-std=CL1.2 ";
  snprintf(buf, cap, "%s%s %s", std, defines, own);
}

clsp_status clsp__program_get(clsp_context *ctx, const clsp_program_def *p,
                              cl_program *out) {
  if (ctx->programs[p->id]) {
    *out = ctx->programs[p->id];
    return CLSP_SUCCESS;
  }
  char options[1200], sources[512];
  build_options(ctx, p, options, sizeof options);
  snprintf(sources, sizeof sources, "%s,%s", CLSP_PROGRAM_PRELUDE, p->sources);
  clsp_status st = build_program(ctx, sources, options, &ctx->programs[p->id]);
  if (st == CLSP_SUCCESS) *out = ctx->programs[p->id];
  return st;
}
