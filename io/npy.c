/* SPDX-License-Identifier: Apache-2.0 */
#include "io/npy.h"
#include "io/io_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_MAX_DIMS 32
/* numpy itself refuses headers above 10000 bytes unless told otherwise;
 * a larger bound keeps odd-but-valid files readable while still stopping
 * a corrupt length field from driving a big allocation. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_GROWTH_AXIS_MAX_DIGITS 21

static int host_is_big_endian(void) {
  const uint16_t probe = 1;
  unsigned char b;
  memcpy(&b, &probe, 1);
  return b == 0;
}

/* .npy data is little-endian on disk; swap in place on big-endian hosts. */
/* Little-endian file data to host order, elements of `size` bytes. */
static void swap_if_big_endian(void *data, size_t count, size_t size) {
  if (!host_is_big_endian()) return;
  unsigned char *p = data;
  for (size_t i = 0; i < count; i++, p += size)
    for (size_t k = 0; k < size / 2; k++) {
      unsigned char t = p[k];
      p[k] = p[size - 1 - k];
      p[size - 1 - k] = t;
    }
}

size_t clsp_npy_elem_size(clsp_npy_dtype dtype) {
  return dtype == CLSP_NPY_I64 || dtype == CLSP_NPY_F64 ? 8 : 4;
}

/* ---------------------------------------------------------------------- */
/* Header dictionary parsing.  The header is a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * We parse it strictly instead of pattern-matching substrings so that a
 * malformed or hostile header is rejected rather than misread. */

typedef struct {
  const char *p;
  const char *end;
} cursor;

typedef struct {
  char descr[16];
  int fortran_order;
  int ndim;
  uint64_t dims[NPY_MAX_DIMS];
  int seen_descr, seen_fortran, seen_shape;
} npy_header;

static void skip_ws(cursor *c) {
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int expect_char(cursor *c, char ch) {
  skip_ws(c);
  if (c->p >= c->end || *c->p != ch) return -1;
  c->p++;
  return 0;
}

static int parse_pystring(cursor *c, char *buf, size_t buflen) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
  char quote = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != quote) {
    if (*c->p == '\\' || n + 1 >= buflen)
      return -1; /* no escapes occur in valid npy headers */
    buf[n++] = *c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  buf[n] = '\0';
  return 0;
}

static int parse_pybool(cursor *c, int *value) {
  skip_ws(c);
  size_t left = (size_t)(c->end - c->p);
  if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
    c->p += 4;
    *value = 1;
    return 0;
  }
  if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
    c->p += 5;
    *value = 0;
    return 0;
  }
  return -1;
}

static int parse_uint(cursor *c, uint64_t *value) {
  skip_ws(c);
  if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
  uint64_t v = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    unsigned d = (unsigned)(*c->p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
    c->p++;
  }
  if (c->p < c->end && (*c->p == 'L' || *c->p == 'l'))
    c->p++; /* Python 2 long suffix, seen in very old files */
  *value = v;
  return 0;
}

static int parse_shape(cursor *c, npy_header *h) {
  if (expect_char(c, '(')) return -1;
  h->ndim = 0;
  for (;;) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ')') {
      c->p++;
      return 0;
    }
    if (h->ndim == NPY_MAX_DIMS) return -1;
    if (parse_uint(c, &h->dims[h->ndim++])) return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == ',')
      c->p++;
    else if (c->p >= c->end || *c->p != ')')
      return -1;
  }
}

static int parse_entry(cursor *c, npy_header *h, char *what, size_t whatlen) {
  char key[32];
  if (parse_pystring(c, key, sizeof key) || expect_char(c, ':')) {
    snprintf(what, whatlen, "expected a quoted key followed by ':'");
    return -1;
  }
  int rc, *seen;
  if (strcmp(key, "descr") == 0) {
    seen = &h->seen_descr;
    rc = parse_pystring(c, h->descr, sizeof h->descr);
  } else if (strcmp(key, "fortran_order") == 0) {
    seen = &h->seen_fortran;
    rc = parse_pybool(c, &h->fortran_order);
  } else if (strcmp(key, "shape") == 0) {
    seen = &h->seen_shape;
    rc = parse_shape(c, h);
  } else {
    snprintf(what, whatlen, "unexpected key '%s'", key);
    return -1;
  }
  if (*seen) {
    snprintf(what, whatlen, "duplicate key '%s'", key);
    return -1;
  }
  *seen = 1;
  if (rc) snprintf(what, whatlen, "bad value for key '%s'", key);
  return rc;
}

static int parse_header_dict(const char *text, size_t len, npy_header *h, char *what,
                             size_t whatlen) {
  cursor c = {text, text + len};
  memset(h, 0, sizeof *h);
  if (expect_char(&c, '{')) {
    snprintf(what, whatlen, "header does not start with '{'");
    return -1;
  }
  for (;;) {
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') break;
    if (parse_entry(&c, h, what, whatlen)) return -1;
    skip_ws(&c);
    if (c.p < c.end && *c.p == ',')
      c.p++;
    else if (c.p >= c.end || *c.p != '}') {
      snprintf(what, whatlen, "expected ',' or '}' in header");
      return -1;
    }
  }
  c.p++;
  skip_ws(&c);
  if (c.p != c.end) {
    snprintf(what, whatlen, "unexpected text after the header dict");
    return -1;
  }
  if (!h->seen_descr || !h->seen_fortran || !h->seen_shape) {
    snprintf(what, whatlen, "header lacks %s",
             !h->seen_descr     ? "'descr'"
             : !h->seen_fortran ? "'fortran_order'"
                                : "'shape'");
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Reading */

static int check_header_semantics(const char *path, const npy_header *h,
                                  clsp_npy_dtype *dtype, char *err, size_t errlen) {
  if (strcmp(h->descr, "<f4") == 0)
    *dtype = CLSP_NPY_F32;
  else if (strcmp(h->descr, "<i4") == 0)
    *dtype = CLSP_NPY_I32;
  else if (strcmp(h->descr, "<i8") == 0)
    *dtype = CLSP_NPY_I64;
  else if (strcmp(h->descr, "<f8") == 0)
    *dtype = CLSP_NPY_F64;
  else {
    const char *why = (h->descr[0] == '>') ? " (big-endian data)" : "";
    io_set_err(err, errlen,
               "%s: unsupported dtype '%s'%s; only '<f4' (float32), '<f8' "
               "(float64), '<i4' (int32) and '<i8' (int64) are supported",
               path, h->descr, why);
    return -1;
  }
  if (h->fortran_order) {
    io_set_err(err, errlen,
               "%s: fortran_order is True; only C-order arrays are supported "
               "(save with np.ascontiguousarray)",
               path);
    return -1;
  }
  if (h->ndim < 1 || h->ndim > CLSP_NPY_MAX_RANK) {
    io_set_err(err, errlen,
               "%s: array has rank %d; only rank 1 to %d is "
               "supported",
               path, h->ndim, CLSP_NPY_MAX_RANK);
    return -1;
  }
  return 0;
}

/* Returns the data byte count, or fails when the element count overflows. */
static int shape_bytes(const npy_header *h, uint64_t elem, uint64_t *bytes) {
  uint64_t count = 1;
  for (int i = 0; i < h->ndim; i++) {
    if (h->dims[i] != 0 && count > UINT64_MAX / h->dims[i]) return -1;
    count *= h->dims[i];
  }
  if (count > UINT64_MAX / elem) return -1;
  *bytes = count * elem;
  return 0;
}

static int read_exact(FILE *fp, void *buf, size_t n) {
  return fread(buf, 1, n, fp) == n ? 0 : -1;
}

static int read_preamble(const char *path, FILE *fp, uint64_t file_size,
                         uint64_t *header_len, uint64_t *data_offset, char *err,
                         size_t errlen) {
  unsigned char pre[12];
  if (file_size < 10 || read_exact(fp, pre, 10)) {
    io_set_err(err, errlen, "%s: file too short for a .npy header", path);
    return -1;
  }
  if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
    io_set_err(err, errlen, "%s: not a .npy file (bad magic)", path);
    return -1;
  }
  int major = pre[6];
  if (major == 1) {
    *header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    *data_offset = 10;
  } else if (major == 2 || major == 3) {
    if (file_size < 12 || read_exact(fp, pre + 10, 2)) {
      io_set_err(err, errlen, "%s: truncated .npy header", path);
      return -1;
    }
    *header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
                  (uint64_t)pre[11] << 24;
    *data_offset = 12;
  } else {
    io_set_err(err, errlen, "%s: unsupported .npy format version %d.%d", path, major,
               pre[7]);
    return -1;
  }
  if (*header_len > NPY_MAX_HEADER || *header_len > file_size - *data_offset) {
    io_set_err(err, errlen,
               "%s: truncated .npy header (header length %llu, file size "
               "%llu)",
               path, (unsigned long long)*header_len, (unsigned long long)file_size);
    return -1;
  }
  *data_offset += *header_len;
  return 0;
}

static int read_header(const char *path, FILE *fp, uint64_t file_size, npy_header *h,
                       uint64_t *data_offset, char *err, size_t errlen) {
  uint64_t hlen;
  if (read_preamble(path, fp, file_size, &hlen, data_offset, err, errlen)) return -1;
  char *text = malloc(hlen + 1);
  if (!text) {
    io_set_err(err, errlen, "%s: out of memory", path);
    return -1;
  }
  if (read_exact(fp, text, hlen)) {
    free(text);
    io_set_err(err, errlen, "%s: truncated .npy header", path);
    return -1;
  }
  char what[96];
  int rc = parse_header_dict(text, hlen, h, what, sizeof what);
  free(text);
  if (rc) io_set_err(err, errlen, "%s: malformed .npy header: %s", path, what);
  return rc;
}

static void format_shape(const npy_header *h, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < h->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%llu", i ? ", " : "",
                             (unsigned long long)h->dims[i]);
  if (used < cap) snprintf(buf + used, cap - used, h->ndim == 1 ? ",)" : ")");
}

static int load_data(const char *path, FILE *fp, uint64_t file_size, uint64_t data_offset,
                     const npy_header *h, clsp_npy_dtype dtype, clsp_npy_array *out,
                     char *err, size_t errlen) {
  uint64_t bytes, elem = clsp_npy_elem_size(dtype);
  uint64_t have = file_size - data_offset;
  char shape_txt[200];
  format_shape(h, shape_txt, sizeof shape_txt);
  if (shape_bytes(h, elem, &bytes)) {
    io_set_err(err, errlen, "%s: shape %s is too large (size overflows)", path,
               shape_txt);
    return -1;
  }
  if (bytes > have) {
    io_set_err(err, errlen,
               "%s: shape %s needs %llu bytes of data but the file holds "
               "%llu (truncated file or corrupt shape)",
               path, shape_txt, (unsigned long long)bytes, (unsigned long long)have);
    return -1;
  }
  if (bytes < have) {
    io_set_err(err, errlen, "%s: %llu unexpected trailing bytes after the array data",
               path, (unsigned long long)(have - bytes));
    return -1;
  }
  if (bytes > SIZE_MAX) {
    io_set_err(err, errlen, "%s: array too large for this platform", path);
    return -1;
  }
  out->data = malloc(bytes ? (size_t)bytes : 1);
  if (!out->data) {
    io_set_err(err, errlen, "%s: out of memory (%llu bytes)", path,
               (unsigned long long)bytes);
    return -1;
  }
  if (read_exact(fp, out->data, (size_t)bytes)) {
    io_set_err(err, errlen, "%s: read error in array data", path);
    clsp_npy_free(out);
    return -1;
  }
  swap_if_big_endian(out->data, (size_t)(bytes / elem), (size_t)elem);
  return 0;
}

int clsp_npy_read(const char *path, clsp_npy_array *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *fp;
  uint64_t file_size, data_offset;
  npy_header h;
  clsp_npy_dtype dtype;
  if (io_open_regular(path, &fp, &file_size, err, errlen)) return -1;
  int rc = read_header(path, fp, file_size, &h, &data_offset, err, errlen);
  if (rc == 0) rc = check_header_semantics(path, &h, &dtype, err, errlen);
  if (rc == 0)
    rc = load_data(path, fp, file_size, data_offset, &h, dtype, out, err, errlen);
  fclose(fp);
  if (rc) return -1;
  out->dtype = dtype;
  out->rank = h.ndim;
  for (int i = 0; i < CLSP_NPY_MAX_RANK; i++)
    out->shape[i] = i < h.ndim ? (size_t)h.dims[i] : 1;
  return 0;
}

static size_t element_count(const clsp_npy_array *a) {
  size_t count = 1;
  for (int i = 0; i < CLSP_NPY_MAX_RANK; i++) count *= a->shape[i];
  return count;
}

int clsp_npy_narrow(clsp_npy_array *a, size_t *bad) {
  size_t count = element_count(a);
  if (a->dtype == CLSP_NPY_I64) {
    const int64_t *src = a->data;
    int32_t *dst = a->data; /* in place: element i is read before written */
    for (size_t i = 0; i < count; i++) {
      if (src[i] < INT32_MIN || src[i] > INT32_MAX) {
        *bad = i;
        return -1;
      }
      dst[i] = (int32_t)src[i];
    }
    a->dtype = CLSP_NPY_I32;
  } else if (a->dtype == CLSP_NPY_F64) {
    const double *src = a->data;
    float *dst = a->data;
    for (size_t i = 0; i < count; i++) {
      if (isfinite(src[i]) && fabs(src[i]) > FLT_MAX) {
        *bad = i;
        return -1;
      }
      dst[i] = (float)src[i];
    }
    a->dtype = CLSP_NPY_F32;
  }
  return 0;
}

void clsp_npy_free(clsp_npy_array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------------- */
/* Writing */

/* Builds the full v1.0 preamble+header exactly as numpy.save does. */
static size_t build_header(char *buf, size_t buflen, clsp_npy_dtype dtype, int rank,
                           const size_t *shape) {
  char dict[256], shape_txt[160];
  size_t used = (size_t)snprintf(shape_txt, sizeof shape_txt, "(");
  for (int k = 0; k < rank; k++)
    used += (size_t)snprintf(shape_txt + used, sizeof shape_txt - used,
                             k ? ", %zu" : "%zu", shape[k]);
  snprintf(shape_txt + used, sizeof shape_txt - used, rank == 1 ? ",)" : ")");
  int n =
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
             dtype == CLSP_NPY_F32 ? "<f4" : "<i4", shape_txt);
  /* numpy leaves room to grow axis 0 in place (GROWTH_AXIS_MAX_DIGITS). */
  char first[32];
  int digits = snprintf(first, sizeof first, "%zu", shape[0]);
  int growth = NPY_GROWTH_AXIS_MAX_DIGITS - digits;
  size_t hlen = (size_t)n + (size_t)(growth > 0 ? growth : 0) + 1;
  size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN;
  size_t total = 10 + hlen + pad;
  if (total > buflen) return 0;
  memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
  buf[6] = 1;
  buf[7] = 0;
  buf[8] = (char)((hlen + pad) & 0xff);
  buf[9] = (char)((hlen + pad) >> 8);
  memcpy(buf + 10, dict, (size_t)n);
  memset(buf + 10 + n, ' ', total - 11 - (size_t)n);
  buf[total - 1] = '\n';
  return total;
}

static int write_data(FILE *fp, const void *data, size_t count) {
  if (!host_is_big_endian()) return fwrite(data, 4, count, fp) == count ? 0 : -1;
  const unsigned char *p = data;
  for (size_t i = 0; i < count; i++, p += 4) {
    unsigned char le[4] = {p[3], p[2], p[1], p[0]};
    if (fwrite(le, 1, 4, fp) != 4) return -1;
  }
  return 0;
}

int clsp_npy_write(const char *path, clsp_npy_dtype dtype, int rank,
                   const size_t shape[2], const void *data, char *err, size_t errlen) {
  if (rank != 1 && rank != 2) {
    io_set_err(err, errlen,
               "%s: can only write float32/int32 arrays of "
               "rank 1 or 2",
               path);
    return -1;
  }
  return clsp_npy_write_nd(path, dtype, rank, shape, data, err, errlen);
}

int clsp_npy_write_nd(const char *path, clsp_npy_dtype dtype, int rank,
                      const size_t *shape, const void *data, char *err, size_t errlen) {
  if ((dtype != CLSP_NPY_F32 && dtype != CLSP_NPY_I32) || rank < 1 ||
      rank > CLSP_NPY_MAX_RANK) {
    io_set_err(err, errlen,
               "%s: can only write float32/int32 arrays of "
               "rank 1 to %d",
               path, CLSP_NPY_MAX_RANK);
    return -1;
  }
  size_t cols = 1;
  for (int k = 1; k < rank; k++) {
    if (shape[k] != 0 && cols > SIZE_MAX / 4 / shape[k]) {
      io_set_err(err, errlen, "%s: array shape overflows", path);
      return -1;
    }
    cols *= shape[k];
  }
  if (cols != 0 && shape[0] > SIZE_MAX / 4 / cols) {
    io_set_err(err, errlen, "%s: array shape overflows", path);
    return -1;
  }
  size_t count = shape[0] * cols;
  if (count > 0 && !data) {
    io_set_err(err, errlen, "%s: no data to write", path);
    return -1;
  }
  char header[512];
  size_t hsize = build_header(header, sizeof header, dtype, rank, shape);
  FILE *fp = io_create(path, err, errlen);
  if (!fp) return -1;
  int bad = fwrite(header, 1, hsize, fp) != hsize;
  bad = bad || write_data(fp, data, count);
  return io_finish_write(fp, bad, path, err, errlen);
}
