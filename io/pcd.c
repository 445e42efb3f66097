/* SPDX-License-Identifier: Apache-2.0 */
/* PCD v0.7 reader (DATA ascii or binary). */
#include "io/io_internal.h"
#include "io/pointcloud.h"
#include "io/text.h"

#include <stdlib.h>
#include <string.h>

#define PCD_MAX_FIELDS 256

enum { PCD_ASCII, PCD_BINARY };

typedef struct {
  char name[NAME_LEN];
  uint64_t size, count;
  char type;
  vtype vt;
  int role;
  uint64_t offset; /* byte offset inside a binary record */
} pcd_field;

typedef struct {
  pcd_field f[PCD_MAX_FIELDS];
  int nfields, nsize, ntype, ncount;
  uint64_t width, height, points;
  int has_width, has_height, has_points, has_data;
  int mode;
  uint64_t record_size; /* binary bytes per point */
  uint64_t values_per_point;
  size_t data_offset;
} pcd_header;

/* Packed 0x00RRGGBB -> luminance in [0,1). */
static double rgb_luminance(uint32_t packed) {
  double r = (packed >> 16) & 0xff, g = (packed >> 8) & 0xff, b = packed & 0xff;
  return (0.299 * r + 0.587 * g + 0.114 * b) / 256.0;
}

/* Integer text values of packed colours, e.g. PCD 'rgba' with TYPE U. */
static int parse_packed_int(const char *ts, const char *te, uint32_t *v) {
  char buf[TOKEN_LEN], *end;
  if (io_token_copy(ts, te, buf, sizeof buf)) return -1;
  long long x = strtoll(buf, &end, 10);
  if (*end != '\0') return -1;
  *v = (uint32_t)x;
  return 0;
}

static int pcd_list(io_ctx *c, size_t lineno, const char *key, const char *p,
                    const char *e, pcd_header *h, int *nout, int which) {
  const char *ts, *te;
  int k = 0;
  while (io_next_token(&p, e, &ts, &te)) {
    if (k >= PCD_MAX_FIELDS) {
      io_set_err(c->err, c->errlen, "%s: line %zu: more than %d fields", c->path, lineno,
                 PCD_MAX_FIELDS);
      return -1;
    }
    pcd_field *f = &h->f[k++];
    int bad = 0;
    if (which == 0)
      bad = io_token_copy(ts, te, f->name, sizeof f->name);
    else if (which == 1)
      bad = io_parse_u64(ts, te, &f->size);
    else if (which == 2) {
      bad = te - ts != 1;
      f->type = *ts;
    } else
      bad = io_parse_u64(ts, te, &f->count);
    if (bad) {
      io_set_err(c->err, c->errlen, "%s: line %zu: bad %s entry '%.*s'", c->path, lineno,
                 key, (int)(te - ts), ts);
      return -1;
    }
  }
  *nout = k;
  return 0;
}

static int pcd_number(io_ctx *c, size_t lineno, const char *key, const char *p,
                      const char *e, uint64_t *v, int *has) {
  const char *ts, *te;
  if (!io_next_token(&p, e, &ts, &te) || io_parse_u64(ts, te, v)) {
    io_set_err(c->err, c->errlen, "%s: line %zu: bad %s value", c->path, lineno, key);
    return -1;
  }
  *has = 1;
  return 0;
}

static int pcd_data_mode(io_ctx *c, size_t lineno, const char *p, const char *e,
                         pcd_header *h) {
  const char *ts, *te;
  if (!io_next_token(&p, e, &ts, &te)) {
    io_set_err(c->err, c->errlen, "%s: line %zu: DATA without a mode", c->path, lineno);
    return -1;
  }
  if (io_token_eq(ts, te, "ascii"))
    h->mode = PCD_ASCII;
  else if (io_token_eq(ts, te, "binary"))
    h->mode = PCD_BINARY;
  else if (io_token_eq(ts, te, "binary_compressed")) {
    io_set_err(c->err, c->errlen,
               "%s: DATA binary_compressed is unsupported; re-save as "
               "ascii or binary (e.g. pcl_convert_pcd_ascii_binary)",
               c->path);
    return -1;
  } else {
    io_set_err(c->err, c->errlen, "%s: line %zu: unknown DATA mode '%.*s'", c->path,
               lineno, (int)(te - ts), ts);
    return -1;
  }
  h->has_data = 1;
  return 0;
}

static int pcd_header_line(io_ctx *c, size_t lineno, const char *s, const char *e,
                           pcd_header *h) {
  const char *p = s, *ks, *ke;
  if (!io_next_token(&p, e, &ks, &ke) || *ks == '#') return 0;
  if (io_token_eq(ks, ke, "VERSION") || io_token_eq(ks, ke, "VIEWPOINT")) return 0;
  if (io_token_eq(ks, ke, "FIELDS") || io_token_eq(ks, ke, "COLUMNS"))
    return pcd_list(c, lineno, "FIELDS", p, e, h, &h->nfields, 0);
  if (io_token_eq(ks, ke, "SIZE"))
    return pcd_list(c, lineno, "SIZE", p, e, h, &h->nsize, 1);
  if (io_token_eq(ks, ke, "TYPE"))
    return pcd_list(c, lineno, "TYPE", p, e, h, &h->ntype, 2);
  if (io_token_eq(ks, ke, "COUNT"))
    return pcd_list(c, lineno, "COUNT", p, e, h, &h->ncount, 3);
  if (io_token_eq(ks, ke, "WIDTH"))
    return pcd_number(c, lineno, "WIDTH", p, e, &h->width, &h->has_width);
  if (io_token_eq(ks, ke, "HEIGHT"))
    return pcd_number(c, lineno, "HEIGHT", p, e, &h->height, &h->has_height);
  if (io_token_eq(ks, ke, "POINTS"))
    return pcd_number(c, lineno, "POINTS", p, e, &h->points, &h->has_points);
  if (io_token_eq(ks, ke, "DATA")) return pcd_data_mode(c, lineno, p, e, h);
  io_set_err(c->err, c->errlen,
             "%s: line %zu: unexpected header line '%.*s' (missing DATA "
             "line?)",
             c->path, lineno, (int)(e - s > 40 ? 40 : e - s), s);
  return -1;
}

static vtype pcd_vtype(char type, uint64_t size) {
  switch (type) {
    case 'F': return size == 4 ? VT_F32 : size == 8 ? VT_F64 : VT_NONE;
    case 'I':
      return size == 1   ? VT_I8
             : size == 2 ? VT_I16
             : size == 4 ? VT_I32
             : size == 8 ? VT_I64
                         : VT_NONE;
    case 'U':
      return size == 1   ? VT_U8
             : size == 2 ? VT_U16
             : size == 4 ? VT_U32
             : size == 8 ? VT_U64
                         : VT_NONE;
    default: return VT_NONE;
  }
}

static int pcd_role(const char *name) {
  if (strcmp(name, "x") == 0) return ROLE_X;
  if (strcmp(name, "y") == 0) return ROLE_Y;
  if (strcmp(name, "z") == 0) return ROLE_Z;
  if (io_str_ieq(name, "intensity")) return ROLE_INTENSITY;
  if (strcmp(name, "rgb") == 0 || strcmp(name, "rgba") == 0) return ROLE_RGB;
  return ROLE_SKIP;
}

static int pcd_check_counts(io_ctx *c, pcd_header *h) {
  if (!h->has_data) {
    io_set_err(c->err, c->errlen, "%s: no DATA line in the PCD header", c->path);
    return -1;
  }
  if (h->nfields == 0 || h->nsize != h->nfields || h->ntype != h->nfields ||
      (h->ncount != 0 && h->ncount != h->nfields)) {
    io_set_err(c->err, c->errlen,
               "%s: FIELDS (%d), SIZE (%d), TYPE (%d) and COUNT (%d) "
               "must list the same number of entries",
               c->path, h->nfields, h->nsize, h->ntype, h->ncount);
    return -1;
  }
  return 0;
}

/* Assigns types, roles and record offsets; at most one field per role. */
static int pcd_layout(io_ctx *c, pcd_header *h, int seen[6]) {
  for (int i = 0; i < h->nfields; i++) {
    pcd_field *f = &h->f[i];
    if (h->ncount == 0) f->count = 1;
    f->vt = pcd_vtype(f->type, f->size);
    if (f->vt == VT_NONE || f->count == 0) {
      io_set_err(c->err, c->errlen,
                 "%s: field '%s' has unsupported TYPE %c SIZE %llu "
                 "COUNT %llu",
                 c->path, f->name, f->type, (unsigned long long)f->size,
                 (unsigned long long)f->count);
      return -1;
    }
    f->role = pcd_role(f->name);
    if (seen[f->role] && f->role != ROLE_SKIP)
      f->role = ROLE_SKIP; /* first occurrence wins */
    seen[f->role] = 1;
    f->offset = h->record_size;
    uint64_t bytes;
    if (io_mul_overflows(f->size, f->count, &bytes) ||
        h->record_size + bytes < h->record_size) {
      io_set_err(c->err, c->errlen, "%s: field sizes overflow", c->path);
      return -1;
    }
    h->record_size += bytes;
    h->values_per_point += f->count;
  }
  return 0;
}

static int pcd_check_roles(io_ctx *c, pcd_header *h, const int seen[6]) {
  static const char *names[] = {"", "x", "y", "z"};
  for (int r = ROLE_X; r <= ROLE_Z; r++)
    if (!seen[r]) {
      io_set_err(c->err, c->errlen, "%s: PCD has no field '%s'", c->path, names[r]);
      return -1;
    }
  if (seen[ROLE_INTENSITY])
    for (int i = 0; i < h->nfields; i++)
      if (h->f[i].role == ROLE_RGB)
        h->f[i].role = ROLE_SKIP; /* real intensity beats colour */
  for (int i = 0; i < h->nfields; i++) {
    const pcd_field *f = &h->f[i];
    if (f->role == ROLE_RGB && f->size != 4) {
      io_set_err(c->err, c->errlen, "%s: field '%s' must have SIZE 4", c->path, f->name);
      return -1;
    }
  }
  return 0;
}

static int pcd_check_points(io_ctx *c, pcd_header *h) {
  uint64_t wh = 0;
  int has_wh =
    h->has_width && !io_mul_overflows(h->width, h->has_height ? h->height : 1, &wh);
  if (!h->has_points && !has_wh) {
    io_set_err(c->err, c->errlen,
               "%s: header has neither POINTS nor a valid WIDTH/HEIGHT", c->path);
    return -1;
  }
  if (!h->has_points)
    h->points = wh;
  else if (has_wh && wh != h->points) {
    io_set_err(c->err, c->errlen, "%s: WIDTH*HEIGHT (%llu) does not match POINTS (%llu)",
               c->path, (unsigned long long)wh, (unsigned long long)h->points);
    return -1;
  }
  return 0;
}

static int pcd_parse_header(io_ctx *c, const char *buf, size_t len, pcd_header *h) {
  memset(h, 0, sizeof *h);
  text_cursor tc = {buf, buf + len, 0};
  const char *s, *e;
  while (!h->has_data && io_next_line(&tc, &s, &e))
    if (pcd_header_line(c, tc.lineno, s, e, h)) return -1;
  h->data_offset = (size_t)(tc.p - buf);
  int seen[6] = {0};
  if (pcd_check_counts(c, h) || pcd_layout(c, h, seen) || pcd_check_roles(c, h, seen) ||
      pcd_check_points(c, h))
    return -1;
  return 0;
}

static void pcd_binary_point(const pcd_header *h, const unsigned char *rec,
                             cloud_out *o) {
  double v[6] = {0};
  for (int i = 0; i < h->nfields; i++) {
    const pcd_field *f = &h->f[i];
    const unsigned char *p = rec + f->offset;
    if (f->role == ROLE_RGB)
      v[ROLE_INTENSITY] = rgb_luminance((uint32_t)io_load_uint_le(p, 4));
    else if (f->role != ROLE_SKIP)
      v[f->role] = io_load_value(p, f->vt);
  }
  io_out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
}

/* Room for POINTS points, when the data holds that many. */
static int pcd_reserve(io_ctx *c, const pcd_header *h, uint64_t held, cloud_out *o) {
  if (h->points > held) {
    io_set_err(c->err, c->errlen,
               "%s: header says POINTS %llu but the file holds %llu points", c->path,
               (unsigned long long)h->points, (unsigned long long)held);
    return -1;
  }
  return io_out_alloc(c, o, h->points);
}

static int pcd_read_binary(io_ctx *c, const pcd_header *h, const char *buf, size_t len,
                           cloud_out *o) {
  uint64_t avail = len - h->data_offset;
  uint64_t held = h->record_size ? avail / h->record_size : 0;
  if (pcd_reserve(c, h, held, o)) return -1;
  const unsigned char *rec = (const unsigned char *)buf + h->data_offset;
  for (uint64_t i = 0; i < h->points; i++, rec += h->record_size)
    pcd_binary_point(h, rec, o);
  return 0;
}

/* Converts one ASCII value; rgb needs its bit pattern, not its value. */
static int pcd_ascii_value(const pcd_field *f, const char *ts, const char *te,
                           double v[6]) {
  if (f->role != ROLE_RGB) return io_parse_double(ts, te, &v[f->role]);
  uint32_t bits;
  if (f->vt == VT_F32) {
    double d;
    if (io_parse_double(ts, te, &d) || !io_fits_float(d)) return -1;
    float fl = (float)d;
    memcpy(&bits, &fl, 4);
  } else if (parse_packed_int(ts, te, &bits))
    return -1;
  v[ROLE_INTENSITY] = rgb_luminance(bits);
  return 0;
}

static int pcd_ascii_line(io_ctx *c, const pcd_header *h, size_t lineno, const char *p,
                          const char *e, cloud_out *o) {
  double v[6] = {0};
  const char *ts, *te;
  uint64_t got = 0;
  for (int i = 0; i < h->nfields; i++) {
    const pcd_field *f = &h->f[i];
    for (uint64_t k = 0; k < f->count; k++, got++) {
      if (!io_next_token(&p, e, &ts, &te)) goto short_line;
      if (k == 0 && f->role != ROLE_SKIP && pcd_ascii_value(f, ts, te, v)) {
        io_set_err(c->err, c->errlen, "%s: line %zu: bad value '%.*s' for field '%s'",
                   c->path, lineno, (int)(te - ts), ts, f->name);
        return -1;
      }
    }
  }
  if (io_next_token(&p, e, &ts, &te)) {
    io_set_err(c->err, c->errlen,
               "%s: line %zu: more than the %llu values per point the "
               "header declares",
               c->path, lineno, (unsigned long long)h->values_per_point);
    return -1;
  }
  io_out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
  return 0;
short_line:
  io_set_err(c->err, c->errlen, "%s: line %zu: %llu values, expected %llu per point",
             c->path, lineno, (unsigned long long)got,
             (unsigned long long)h->values_per_point);
  return -1;
}

static uint64_t count_data_lines(const char *p, const char *end) {
  text_cursor tc = {p, end, 0};
  const char *s, *e;
  uint64_t n = 0;
  while (io_next_line(&tc, &s, &e)) {
    const char *q = s, *ts, *te;
    if (io_next_token(&q, e, &ts, &te) && *ts != '#') n++;
  }
  return n;
}

static int pcd_read_ascii(io_ctx *c, const pcd_header *h, const char *buf, size_t len,
                          size_t header_lines, cloud_out *o) {
  uint64_t held = count_data_lines(buf + h->data_offset, buf + len);
  if (pcd_reserve(c, h, held, o)) return -1;
  text_cursor tc = {buf + h->data_offset, buf + len, header_lines};
  const char *s, *e;
  for (uint64_t i = 0; i < h->points && io_next_line(&tc, &s, &e);) {
    const char *q = s, *ts, *te;
    if (!io_next_token(&q, e, &ts, &te) || *ts == '#') continue;
    if (pcd_ascii_line(c, h, tc.lineno, s, e, o)) return -1;
    i++;
  }
  return 0;
}

static size_t count_lines(const char *p, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += p[i] == '\n';
  return n;
}

static int pcd_read_buffer(io_ctx *c, const char *buf, size_t len, cloud_out *o) {
  pcd_header *h = malloc(sizeof *h);
  if (!h) {
    io_set_err(c->err, c->errlen, "%s: out of memory", c->path);
    return -1;
  }
  int rc = pcd_parse_header(c, buf, len, h);
  if (rc == 0 && h->mode == PCD_BINARY)
    rc = pcd_read_binary(c, h, buf, len, o);
  else if (rc == 0)
    rc = pcd_read_ascii(c, h, buf, len, count_lines(buf, h->data_offset), o);
  free(h);
  return rc;
}

int clsp_cloud_read_pcd(const char *path, float **points, size_t *n, char *err,
                        size_t errlen) {
  return io_read_text_cloud(path, pcd_read_buffer, points, n, err, errlen);
}
