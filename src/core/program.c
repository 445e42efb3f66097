/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel programs: sources (embedded, or $CLSP_KERNEL_DIR for kernel
 * development), capability-specialised build options, the binary cache,
 * and per-context memoisation of programs and kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

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

static clsp_status append_source(clsp_context *ctx, text *t, const char *name,
                                 size_t n) {
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

void clsp__base_options(const clsp_context *ctx, char *buf, size_t cap) {
  int float_add = ctx->caps.float_atomic_add &&
                  !(ctx->flags & CLSP_CONTEXT_NO_FLOAT_ATOMICS);
  int hash64 = ctx->caps.int64_atomics && !(ctx->flags & CLSP_CONTEXT_FORCE_HASH32);
  snprintf(buf, cap,
           "-DCLSP_INT64_ATOMICS=%d -DCLSP_FLOAT_ATOMIC_ADD=%d -DCLSP_HASH64=%d "
           "-DCLSP_LOCAL_MEM_BYTES=%llu",
           ctx->caps.int64_atomics, float_add, hash64,
           (unsigned long long)ctx->caps.local_mem_bytes);
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
           CLSP_VERSION_STRING, options, ctx->caps.device_name,
           ctx->caps.driver_version, ctx->caps.platform_version);
  return text_append(key, head, strlen(head)) && text_append(key, src->data, src->len);
}

static clsp_status build_program(clsp_context *ctx, const char *sources,
                                 const char *options, cl_program *out) {
  text src = {0}, key = {0};
  clsp_status st = assemble(ctx, sources, &src);
  if (st == CLSP_SUCCESS && !key_material(ctx, &src, options, &key))
    st = clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "program key");
  if (st == CLSP_SUCCESS && !clsp__cache_load(ctx, key.data, key.len, out)) {
    st = build_from_source(ctx, &src, options, out);
    if (st == CLSP_SUCCESS) clsp__cache_store(ctx, key.data, key.len, *out);
  }
  free(src.data);
  free(key.data);
  return st;
}

static clsp_program_slot *find_program(clsp_context *ctx, const char *key) {
  for (int i = 0; i < ctx->n_programs; i++)
    if (strcmp(ctx->programs[i].key, key) == 0) return &ctx->programs[i];
  return NULL;
}

clsp_status clsp__program(clsp_context *ctx, const char *sources, const char *options,
                          clsp_program_slot **out) {
  char base[512], all[2048], key[2600];
  clsp__base_options(ctx, base, sizeof base);
  const char *std = (options && strstr(options, "-cl-std=")) ? "" : "-cl-std=CL1.2 ";
  snprintf(all, sizeof all, "%s%s %s", std, base, options ? options : "");
  snprintf(key, sizeof key, "%s|%s", sources, all);
  *out = find_program(ctx, key);
  if (*out) return CLSP_SUCCESS;
  if (ctx->n_programs == CLSP_MAX_PROGRAMS)
    return clsp__fail(ctx, CLSP_ERROR_INTERNAL, "too many kernel programs");
  clsp_program_slot *slot = &ctx->programs[ctx->n_programs];
  memset(slot, 0, sizeof *slot);
  slot->key = strdup(key);
  if (!slot->key) return clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "program key");
  clsp_status st = build_program(ctx, sources, all, &slot->program);
  if (st != CLSP_SUCCESS) {
    free(slot->key);
    slot->key = NULL;
    return st;
  }
  ctx->n_programs++;
  *out = slot;
  return CLSP_SUCCESS;
}

clsp_status clsp__kernel(clsp_context *ctx, const char *sources, const char *options,
                         const char *name, cl_kernel *out) {
  clsp_program_slot *slot = NULL;
  clsp_status st = clsp__program(ctx, sources, options, &slot);
  if (st != CLSP_SUCCESS) return st;
  for (int i = 0; i < slot->n_kernels; i++)
    if (strcmp(slot->kernels[i].name, name) == 0) {
      *out = slot->kernels[i].kernel;
      return CLSP_SUCCESS;
    }
  if (slot->n_kernels == CLSP_MAX_KERNELS_PER_PROGRAM)
    return clsp__fail(ctx, CLSP_ERROR_INTERNAL, "too many kernels in %s", sources);
  cl_int err = CL_SUCCESS;
  cl_kernel k = clCreateKernel(slot->program, name, &err);
  if (err != CL_SUCCESS) {
    char what[256];
    snprintf(what, sizeof what, "clCreateKernel(%s)", name);
    return clsp__cl_fail(ctx, err, what);
  }
  slot->kernels[slot->n_kernels++] = (clsp_kernel_slot){name, k};
  *out = k;
  return CLSP_SUCCESS;
}

clsp_status clsp__set_args(clsp_context *ctx, cl_kernel k, const char *kname, int n,
                           const size_t *sizes, const void *const *values) {
  for (int i = 0; i < n; i++) {
    cl_int err = clSetKernelArg(k, (cl_uint)i, sizes[i], values[i]);
    if (err != CL_SUCCESS) {
      char what[256];
      snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", kname, i);
      return clsp__cl_fail(ctx, err, what);
    }
  }
  return CLSP_SUCCESS;
}

clsp_status clsp__launch_1d(clsp_context *ctx, cl_kernel k, const char *kname,
                            size_t global, size_t local, cl_event *ev) {
  if (global == 0) return CLSP_SUCCESS;
  if (local) global = (global + local - 1) / local * local;
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global,
                                      local ? &local : NULL, 0, NULL, ev);
  if (err != CL_SUCCESS) {
    char what[256];
    snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s, %zu items)", kname, global);
    return clsp__cl_fail(ctx, err, what);
  }
  return CLSP_SUCCESS;
}

void clsp__programs_release(clsp_context *ctx) {
  for (int i = 0; i < ctx->n_programs; i++) {
    clsp_program_slot *s = &ctx->programs[i];
    for (int j = 0; j < s->n_kernels; j++) clReleaseKernel(s->kernels[j].kernel);
    if (s->program) clReleaseProgram(s->program);
    free(s->key);
  }
  ctx->n_programs = 0;
}
