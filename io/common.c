/* SPDX-License-Identifier: Apache-2.0 */
/* Shared parts of the point-cloud readers: error messages, little-endian
 * scalar decoding, the output buffer (4 floats per point) and whole-file
 * access. */
#include "io/io_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void io_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

int io_str_ieq(const char *a, const char *b) {
  while (*a && lower((unsigned char)*a) == lower((unsigned char)*b)) a++, b++;
  return lower((unsigned char)*a) == lower((unsigned char)*b);
}

size_t io_vtype_size(vtype t) {
  static const size_t sizes[] = {0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
  return sizes[t];
}

int io_vtype_is_int(vtype t) { return t != VT_NONE && t != VT_F32 && t != VT_F64; }

uint64_t io_load_uint_le(const unsigned char *p, size_t size) {
  uint64_t v = 0;
  for (size_t i = size; i-- > 0;) v = v << 8 | p[i];
  return v;
}

/* Decodes one little-endian value; works on any host byte order. */
double io_load_value(const unsigned char *p, vtype t) {
  uint64_t u = io_load_uint_le(p, io_vtype_size(t));
  switch (t) {
    case VT_I8: return (double)(int8_t)u;
    case VT_U8: return (double)(uint8_t)u;
    case VT_I16: return (double)(int16_t)u;
    case VT_U16: return (double)(uint16_t)u;
    case VT_I32: return (double)(int32_t)u;
    case VT_U32: return (double)(uint32_t)u;
    case VT_I64: return (double)(int64_t)u;
    case VT_U64: return (double)u;
    case VT_F32: {
      uint32_t b = (uint32_t)u;
      float f;
      memcpy(&f, &b, 4);
      return f;
    }
    case VT_F64: {
      double d;
      memcpy(&d, &u, 8);
      return d;
    }
    default: return 0.0;
  }
}

/* ---------------------------------------------------------------------- */
/* Output buffer */

int io_out_init(cloud_out *o, uint64_t cap) {
  o->n = 0;
  o->cap = (size_t)cap;
  if (cap > SIZE_MAX / 16 - 1) {
    o->pts = NULL;
    return -1;
  }
  o->pts = malloc((cap ? (size_t)cap : 1) * 16);
  return o->pts ? 0 : -1;
}

int io_fits_float(double v) {
  return fabs(v) <= FLT_MAX; /* false for NaN and infinities too */
}

/* Non-finite coordinates mark missing returns; they are dropped, and so
 * are coordinates a float cannot hold (converting those is undefined). */
void io_out_push(cloud_out *o, double x, double y, double z, double i) {
  if (o->n >= o->cap || !io_fits_float(x) || !io_fits_float(y) || !io_fits_float(z))
    return;
  float *p = o->pts + 4 * o->n++;
  p[0] = (float)x;
  p[1] = (float)y;
  p[2] = (float)z;
  p[3] = io_fits_float(i) ? (float)i : 0.0f;
}

void io_out_give(cloud_out *o, float **points, size_t *n) {
  *points = o->pts;
  *n = o->n;
  o->pts = NULL;
}

/* ---------------------------------------------------------------------- */
/* File access */

int io_open_regular(const char *path, FILE **fp, uint64_t *size, char *err,
                    size_t errlen) {
  *fp = fopen(path, "rb");
  if (!*fp) {
    io_set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
    io_set_err(err, errlen, "%s: not a regular file", path);
    fclose(*fp);
    return -1;
  }
  *size = (uint64_t)st.st_size;
  return 0;
}

/* Reads the whole file and appends a NUL so text parsing cannot overrun. */
int io_slurp(const char *path, char **buf, size_t *len, char *err, size_t errlen) {
  FILE *fp;
  uint64_t size;
  if (io_open_regular(path, &fp, &size, err, errlen)) return -1;
  *buf = size < SIZE_MAX ? malloc((size_t)size + 1) : NULL;
  if (!*buf) {
    io_set_err(err, errlen, "%s: out of memory", path);
    fclose(fp);
    return -1;
  }
  if (fread(*buf, 1, (size_t)size, fp) != (size_t)size) {
    io_set_err(err, errlen, "%s: read error", path);
    free(*buf);
    fclose(fp);
    return -1;
  }
  fclose(fp);
  (*buf)[size] = '\0';
  *len = (size_t)size;
  return 0;
}
int io_mul_overflows(uint64_t a, uint64_t b, uint64_t *r) {
  if (a != 0 && b > UINT64_MAX / a) return 1;
  *r = a * b;
  return 0;
}
int io_read_text_cloud(const char *path, io_cloud_parser parse, float **points, size_t *n,
                       char *err, size_t errlen) {
  *points = NULL;
  *n = 0;
  char *buf;
  size_t len;
  if (io_slurp(path, &buf, &len, err, errlen)) return -1;
  io_ctx c = {path, err, errlen};
  cloud_out o = {NULL, 0, 0};
  int rc = parse(&c, buf, len, &o);
  free(buf);
  if (rc) {
    free(o.pts);
    return -1;
  }
  io_out_give(&o, points, n);
  return 0;
}

FILE *io_create(const char *path, char *err, size_t errlen) {
  FILE *fp = fopen(path, "wb");
  if (!fp) io_set_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
  return fp;
}

int io_finish_write(FILE *fp, int bad, const char *path, char *err, size_t errlen) {
  bad = (fclose(fp) != 0) || bad;
  if (!bad) return 0;
  io_set_err(err, errlen, "%s: write error: %s", path, strerror(errno));
  remove(path);
  return -1;
}

int io_out_alloc(io_ctx *c, cloud_out *o, uint64_t n) {
  if (io_out_init(o, n) == 0) return 0;
  io_set_err(c->err, c->errlen, "%s: out of memory", c->path);
  return -1;
}
