/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the point-cloud readers in io/ (not installed, not used
 * outside io/): error messages, scalar value types, the 4-float output
 * buffer and whole-file access (common.c). */
#ifndef CLSP_IO_INTERNAL_H
#define CLSP_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NAME_LEN 64

/* Writes a message into err (when not NULL). */
void io_set_err(char *err, size_t errlen, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/* ASCII case-insensitive string equality. */
int io_str_ieq(const char *a, const char *b);

/* Scalar value types of PCD and PLY fields. */
typedef enum {
  VT_NONE,
  VT_I8,
  VT_U8,
  VT_I16,
  VT_U16,
  VT_I32,
  VT_U32,
  VT_I64,
  VT_U64,
  VT_F32,
  VT_F64
} vtype;

size_t io_vtype_size(vtype t);
int io_vtype_is_int(vtype t);
uint64_t io_load_uint_le(const unsigned char *p, size_t size);
/* Decodes one little-endian value; works on any host byte order. */
double io_load_value(const unsigned char *p, vtype t);

/* What a field of a PCD or PLY point means to the reader. */
enum { ROLE_SKIP, ROLE_X, ROLE_Y, ROLE_Z, ROLE_INTENSITY, ROLE_RGB };

/* 1 when v converts to a finite float (false for NaN and infinities). */
int io_fits_float(double v);

/* Output points, 4 floats each (x, y, z, intensity). */
typedef struct {
  float *pts;
  size_t n, cap;
} cloud_out;

/* Allocates room for cap points; -1 when out of memory. */
int io_out_init(cloud_out *o, uint64_t cap);
/* Appends a point; drops it when x, y or z is not a finite float. */
void io_out_push(cloud_out *o, double x, double y, double z, double i);
/* Hands the buffer to the caller. */
void io_out_give(cloud_out *o, float **points, size_t *n);

/* Opens a regular file for reading and gives its size; -1 with err set. */
int io_open_regular(const char *path, FILE **fp, uint64_t *size, char *err,
                    size_t errlen);
/* Reads the whole file, NUL-terminated; -1 with err set. */
int io_slurp(const char *path, char **buf, size_t *len, char *err, size_t errlen);
/* Creates path for writing; NULL with err set. */
FILE *io_create(const char *path, char *err, size_t errlen);
/* Closes a file io_create() opened; on a write error (bad, or the close
 * failing) sets err, removes the file and returns -1. */
int io_finish_write(FILE *fp, int bad, const char *path, char *err, size_t errlen);
/* *r = a * b; returns 1 (r untouched) when it overflows. */
int io_mul_overflows(uint64_t a, uint64_t b, uint64_t *r);

/* The file a parser reads, for its messages. */
typedef struct {
  const char *path;
  char *err;
  size_t errlen;
} io_ctx;

/* io_out_init() for n points, naming the file when out of memory. */
int io_out_alloc(io_ctx *c, cloud_out *o, uint64_t n);

/* Parses a whole text-headed file (PCD or PLY) into o. */
typedef int (*io_cloud_parser)(io_ctx *c, const char *buf, size_t len, cloud_out *o);
/* Reads path and runs parse on it: the clsp_cloud_read_* contract. */
int io_read_text_cloud(const char *path, io_cloud_parser parse, float **points, size_t *n,
                       char *err, size_t errlen);

#endif
