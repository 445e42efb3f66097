/* SPDX-License-Identifier: Apache-2.0 */
/* On-disk cache of built program binaries.
 *
 * Entry file <dir>/<32 hex digits>.bin:
 *   8 bytes  magic "CLSPBIN1"
 *   16 bytes key (two 64-bit hashes of the key material)
 *   8 bytes  payload length
 *   8 bytes  payload hash
 *   payload  the CL_PROGRAM_BINARIES bytes
 * Any mismatch (magic, key, length, hash) or a failing
 * clCreateProgramWithBinary/clBuildProgram rejects the entry and the caller
 * builds from source. Entries are written to a temporary file and renamed,
 * so readers never see a partial entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

#define MAGIC "CLSPBIN1"
#define HEADER_BYTES 40
#define MAX_BINARY_BYTES ((size_t)256 << 20)

typedef struct cache_key {
  uint64_t a, b;
} cache_key;

static cache_key make_key(const char *material, size_t len) {
  cache_key k = {clsp__fnv1a64(material, len, 0),
                 clsp__fnv1a64(material, len, 0x9e3779b97f4a7c15ull)};
  return k;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* mkdir -p; returns 0 on success. */
static int make_dirs(const char *path) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
  return 0;
}

static void default_dir(char *buf, size_t cap) {
  const char *env = getenv("CLSP_CACHE_DIR");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  buf[0] = 0;
  if (env && env[0])
    snprintf(buf, cap, "%s", env);
  else if (xdg && xdg[0])
    snprintf(buf, cap, "%s/clspconv", xdg);
  else if (home && home[0])
    snprintf(buf, cap, "%s/.cache/clspconv", home);
}

void clsp__cache_init(clsp_context *ctx, const char *dir_option) {
  ctx->cache_dir[0] = 0;
  if (ctx->flags & CLSP_CONTEXT_NO_BINARY_CACHE) return;
  if (dir_option && dir_option[0])
    snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", dir_option);
  else
    default_dir(ctx->cache_dir, sizeof ctx->cache_dir);
  if (ctx->cache_dir[0] && (make_dirs(ctx->cache_dir) != 0 ||
                            access(ctx->cache_dir, W_OK | R_OK | X_OK) != 0)) {
    clsp__log(ctx, CLSP_LOG_INFO, "binary cache disabled: %s is not writable",
              ctx->cache_dir);
    ctx->cache_dir[0] = 0;
  }
}

static void entry_path(const clsp_context *ctx, cache_key k, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%016llx%016llx.bin", ctx->cache_dir, (unsigned long long)k.a,
           (unsigned long long)k.b);
}

/* Reads a whole entry, checking everything but the binary itself. */
static unsigned char *read_entry(const char *path, cache_key k, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char h[HEADER_BYTES];
  unsigned char *payload = NULL;
  if (fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES || memcmp(h, MAGIC, 8) != 0 ||
      get64(h + 8) != k.a || get64(h + 16) != k.b)
    goto done;
  uint64_t n = get64(h + 24);
  if (n == 0 || n > MAX_BINARY_BYTES) goto done;
  payload = malloc((size_t)n);
  if (!payload) goto done;
  if (fread(payload, 1, (size_t)n, f) != n || fgetc(f) != EOF ||
      clsp__fnv1a64(payload, (size_t)n, 0) != get64(h + 32)) {
    free(payload);
    payload = NULL;
    goto done;
  }
  *len = (size_t)n;
done:
  fclose(f);
  return payload;
}

static int program_from_binary(clsp_context *ctx, const unsigned char *bin, size_t len,
                               cl_program *out) {
  cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
  const unsigned char *bins[] = {bin};
  cl_program p =
    clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &len, bins, &bin_status, &err);
  if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    return 0;
  }
  if (clBuildProgram(p, 1, &ctx->device, NULL, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(p);
    return 0;
  }
  *out = p;
  return 1;
}

int clsp__cache_load(clsp_context *ctx, const char *material, size_t key_len,
                     cl_program *out) {
  if (!ctx->cache_dir[0]) return 0;
  cache_key k = make_key(material, key_len);
  char path[1200];
  entry_path(ctx, k, path, sizeof path);
  if (access(path, F_OK) != 0) {
    ctx->cache_stats.misses++;
    return 0;
  }
  size_t len = 0;
  unsigned char *bin = read_entry(path, k, &len);
  int ok = bin && program_from_binary(ctx, bin, len, out);
  free(bin);
  if (ok)
    ctx->cache_stats.hits++;
  else {
    ctx->cache_stats.rejected++;
    clsp__log(ctx, CLSP_LOG_INFO, "binary cache entry %s rejected; rebuilding", path);
  }
  return ok;
}

static unsigned char *program_binary(cl_program p, size_t *len) {
  size_t n = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS ||
      n == 0 || n > MAX_BINARY_BYTES)
    return NULL;
  unsigned char *bin = malloc(n);
  unsigned char *bins[] = {bin};
  if (bin &&
      clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
    free(bin);
    return NULL;
  }
  *len = n;
  return bin;
}

static int write_file(const char *path, const unsigned char *h, const unsigned char *bin,
                      size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(h, 1, HEADER_BYTES, f) == HEADER_BYTES && fwrite(bin, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  return ok;
}

void clsp__cache_store(clsp_context *ctx, const char *material, size_t key_len,
                       cl_program program) {
  if (!ctx->cache_dir[0]) return;
  size_t len = 0;
  unsigned char *bin = program_binary(program, &len);
  if (!bin) {
    ctx->cache_stats.write_failures++;
    return;
  }
  cache_key k = make_key(material, key_len);
  unsigned char h[HEADER_BYTES];
  memcpy(h, MAGIC, 8);
  put64(h + 8, k.a);
  put64(h + 16, k.b);
  put64(h + 24, len);
  put64(h + 32, clsp__fnv1a64(bin, len, 0));
  char path[1200], tmp[1300];
  entry_path(ctx, k, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.%ld.%p.tmp", path, (long)getpid(), (void *)ctx);
  int ok = write_file(tmp, h, bin, len) && rename(tmp, path) == 0;
  if (!ok) unlink(tmp);
  free(bin);
  if (ok)
    ctx->cache_stats.writes++;
  else
    ctx->cache_stats.write_failures++;
}
