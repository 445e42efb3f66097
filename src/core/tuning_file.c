/* SPDX-License-Identifier: Apache-2.0 */
/* The stored tuning record (clspconv/tuning.h): one text file per device
 * in the program cache folder, <cache>/tuning-<16 hex>.txt, named by a
 * hash of its key (library version, platform, device, driver) and holding
 * the key itself, so a file for another key is recognised and ignored.
 * Its format: tuning_text.c. The tuning fields choose among compiled
 * kernels and launch sizes and are not -D defines; any tuning field that
 * becomes one is part of the program cache key through the build options
 * (program.c: key_material), so a changed record never loads a stale
 * binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"
#include "launch.h"
#include "tuning_text.h"

int clsp_tuning_bucket(size_t channels) {
  return channels <= 16 ? 0 : channels <= 32 ? 1 : channels <= 64 ? 2 : 3;
}

static clsp__tuning_key context_key(const clsp_context *ctx) {
  clsp__tuning_key k = {CLSP_VERSION_STRING, ctx->caps.platform_name,
                        ctx->caps.platform_version, ctx->caps.device_name,
                        ctx->caps.driver_version};
  return k;
}

static uint32_t max_local(const clsp_context *ctx) {
  size_t m = ctx->caps.max_work_group_size;
  return m == 0 ? 1 : m > (1u << 20) ? (1u << 20) : (uint32_t)m;
}

static void to_params(const clsp_tuning *t, clsp_tuning_params *p) {
  memset(p, 0, sizeof *p);
  p->fused_default = t->fused;
  p->fused_vec = t->fused_vec;
  p->fused_blocks = t->fused_blocks;
  p->fused_ksplit = t->fused_ksplit;
  p->fused_rows = t->fused_rows;
  p->fused_groups = (uint32_t)t->fused_groups;
  p->fused_local = t->fused_local;
  p->local_size = (uint32_t)t->local_size;
  memcpy(p->dataflow, t->dataflow, sizeof p->dataflow);
}

/* fused_local 0 (a record from before the field) is the device's default. */
static void from_params(const clsp_tuning_params *p, const clsp_device_caps *c,
                        clsp_tuning *t) {
  t->fused = p->fused_default;
  t->fused_vec = p->fused_vec;
  t->fused_blocks = p->fused_blocks;
  t->fused_ksplit = p->fused_ksplit;
  t->fused_rows = p->fused_rows;
  t->fused_groups = (int)p->fused_groups;
  t->fused_local = p->fused_local ? p->fused_local : clsp__fused_local_default(c);
  t->local_size = p->local_size;
  memcpy(t->dataflow, p->dataflow, sizeof t->dataflow);
}

static void set_path(clsp_context *ctx) {
  ctx->tuning_path[0] = 0;
  if (!ctx->cache_dir[0]) return;
  clsp__tuning_key k = context_key(ctx);
  char material[1024];
  int n = snprintf(material, sizeof material, "%s\n%s\n%s\n%s\n%s\n", k.library,
                   k.platform, k.platform_version, k.device, k.driver);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof material ? (size_t)n : sizeof material - 1;
  snprintf(ctx->tuning_path, sizeof ctx->tuning_path, "%s/tuning-%016llx.txt",
           ctx->cache_dir, (unsigned long long)clsp__fnv1a64(material, len, 0));
}

/* The file's bytes (at most CLSP_TUNING_FILE_MAX + 1 read, so a larger
 * one is recognised); -1 when it cannot be opened. */
static long read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap, f);
  int bad = ferror(f);
  fclose(f);
  return bad ? -1 : (long)n;
}

static void ignore_file(clsp_context *ctx, const char *why) {
  snprintf(ctx->tuning_note, sizeof ctx->tuning_note, "%s: %s", ctx->tuning_path, why);
  clsp__log(ctx, CLSP_LOG_WARNING, "tuning file ignored, device defaults in use: %s",
            ctx->tuning_note);
}

void clsp__tuning_load(clsp_context *ctx) {
  set_path(ctx);
  ctx->tuning_loaded = 0;
  ctx->tuning_note[0] = 0;
  if (!ctx->tuning_path[0] || (ctx->flags & CLSP_CONTEXT_NO_TUNING_FILE) ||
      access(ctx->tuning_path, F_OK) != 0)
    return;
  char *buf = malloc(CLSP_TUNING_FILE_MAX + 1);
  if (!buf) return ignore_file(ctx, "out of host memory reading it");
  long n = read_file(ctx->tuning_path, buf, CLSP_TUNING_FILE_MAX + 1);
  clsp_tuning_params p;
  to_params(&ctx->tuning, &p);
  clsp__tuning_key k = context_key(ctx);
  char why[256] = "";
  if (n < 0)
    snprintf(why, sizeof why, "cannot be read");
  else if (clsp__tuning_parse(buf, (size_t)n, &k, max_local(ctx), &p, why, sizeof why) ==
           0) {
    from_params(&p, &ctx->caps, &ctx->tuning);
    ctx->tuning_loaded = 1;
    clsp__log(ctx, CLSP_LOG_DEBUG, "tuning record loaded from %s", ctx->tuning_path);
  }
  free(buf);
  if (!ctx->tuning_loaded) ignore_file(ctx, why);
}

clsp_status clsp_context_tuning(const clsp_context *ctx, clsp_tuning_params *out) {
  if (!ctx || !out) return CLSP_ERROR_INVALID_ARGUMENT;
  to_params(&ctx->tuning, out);
  return CLSP_SUCCESS;
}

clsp_status clsp_context_set_tuning(clsp_context *ctx, const clsp_tuning_params *params) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!params) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "params: NULL");
  char why[200];
  if (clsp__tuning_check(params, max_local(ctx), why, sizeof why) != 0)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "params->%s", why);
  from_params(params, &ctx->caps, &ctx->tuning);
  clsp__kernels_retune(ctx);
  return CLSP_SUCCESS;
}

/* Writes text to path through a temporary file in the same folder. */
static clsp_status write_atomically(clsp_context *ctx, const char *path, const char *text,
                                    size_t len) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return clsp__fail(ctx, CLSP_ERROR_IO, "tuning file %s cannot be created", tmp);
  int ok = fwrite(text, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (ok && rename(tmp, path) == 0) return CLSP_SUCCESS;
  remove(tmp);
  return clsp__fail(ctx, CLSP_ERROR_IO, "tuning file %s cannot be written", path);
}

clsp_status clsp_tuning_save(clsp_context *ctx) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!ctx->tuning_path[0])
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "ctx: the program cache is disabled, so there is no folder for "
                      "the tuning file");
  clsp_tuning_params p;
  to_params(&ctx->tuning, &p);
  clsp__tuning_key k = context_key(ctx);
  char text[CLSP_TUNING_FILE_MAX];
  size_t len = clsp__tuning_format(&k, &p, text, sizeof text);
  if (len == 0) return clsp__fail(ctx, CLSP_ERROR_INTERNAL, "tuning record too long");
  return write_atomically(ctx, ctx->tuning_path, text, len);
}

const char *clsp_context_tuning_path(const clsp_context *ctx) {
  return ctx ? ctx->tuning_path : "";
}

int clsp_context_tuning_loaded(const clsp_context *ctx) {
  return ctx ? ctx->tuning_loaded : 0;
}

const char *clsp_context_tuning_note(const clsp_context *ctx) {
  return ctx ? ctx->tuning_note : "";
}
