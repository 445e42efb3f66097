/* SPDX-License-Identifier: Apache-2.0 */
/* PLY 1.0 reader (format ascii or binary_little_endian). */
#include "io/io_internal.h"
#include "io/pointcloud.h"
#include "io/text.h"

#include <stdlib.h>
#include <string.h>

#define PLY_MAX_ELEMS 16
#define PLY_MAX_PROPS 64

enum { PLY_ASCII, PLY_BINARY_LE };

typedef struct {
  char name[NAME_LEN];
  vtype type;       /* value type (list items for lists) */
  vtype count_type; /* VT_NONE for scalar properties */
  int role;
} ply_prop;

typedef struct {
  char name[NAME_LEN];
  uint64_t count;
  int nprops;
  ply_prop props[PLY_MAX_PROPS];
} ply_element;

typedef struct {
  int format, has_format, nelems, vertex;
  ply_element elems[PLY_MAX_ELEMS];
  size_t data_offset;
} ply_header;

static vtype ply_vtype(const char *ts, const char *te) {
  static const struct {
    const char *name;
    vtype t;
  } names[] = {
    {"char", VT_I8},   {"int8", VT_I8},     {"uchar", VT_U8},   {"uint8", VT_U8},
    {"short", VT_I16}, {"int16", VT_I16},   {"ushort", VT_U16}, {"uint16", VT_U16},
    {"int", VT_I32},   {"int32", VT_I32},   {"uint", VT_U32},   {"uint32", VT_U32},
    {"float", VT_F32}, {"float32", VT_F32}, {"double", VT_F64}, {"float64", VT_F64},
    {"int64", VT_I64}, {"uint64", VT_U64},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (io_token_eq(ts, te, names[i].name)) return names[i].t;
  return VT_NONE;
}

static int ply_format(io_ctx *c, size_t lineno, const char *p, const char *e,
                      ply_header *h) {
  const char *ts, *te, *vs, *ve;
  int ok = io_next_token(&p, e, &ts, &te) && io_next_token(&p, e, &vs, &ve);
  if (ok && io_token_eq(ts, te, "binary_big_endian")) {
    io_set_err(c->err, c->errlen,
               "%s: big-endian PLY is unsupported; re-save as "
               "binary_little_endian or ascii",
               c->path);
    return -1;
  }
  if (ok && io_token_eq(ts, te, "ascii"))
    h->format = PLY_ASCII;
  else if (ok && io_token_eq(ts, te, "binary_little_endian"))
    h->format = PLY_BINARY_LE;
  else
    ok = 0;
  if (!ok || !io_token_eq(vs, ve, "1.0")) {
    io_set_err(c->err, c->errlen, "%s: line %zu: unsupported PLY format", c->path,
               lineno);
    return -1;
  }
  h->has_format = 1;
  return 0;
}

static int ply_element_line(io_ctx *c, size_t lineno, const char *p, const char *e,
                            ply_header *h) {
  const char *ns, *ne, *cs, *ce;
  if (h->nelems >= PLY_MAX_ELEMS) {
    io_set_err(c->err, c->errlen, "%s: more than %d PLY elements", c->path,
               PLY_MAX_ELEMS);
    return -1;
  }
  ply_element *el = &h->elems[h->nelems];
  if (!io_next_token(&p, e, &ns, &ne) || !io_next_token(&p, e, &cs, &ce) ||
      io_token_copy(ns, ne, el->name, sizeof el->name) ||
      io_parse_u64(cs, ce, &el->count)) {
    io_set_err(c->err, c->errlen, "%s: line %zu: bad element line", c->path, lineno);
    return -1;
  }
  if (h->vertex < 0 && strcmp(el->name, "vertex") == 0) h->vertex = h->nelems;
  h->nelems++;
  return 0;
}

static int ply_prop_role(const char *name) {
  if (io_str_ieq(name, "x")) return ROLE_X;
  if (io_str_ieq(name, "y")) return ROLE_Y;
  if (io_str_ieq(name, "z")) return ROLE_Z;
  if (io_str_ieq(name, "intensity") || io_str_ieq(name, "scalar_intensity"))
    return ROLE_INTENSITY;
  return ROLE_SKIP;
}

static int ply_property_line(io_ctx *c, size_t lineno, const char *p, const char *e,
                             ply_header *h) {
  ply_element *el = h->nelems ? &h->elems[h->nelems - 1] : NULL;
  if (!el || el->nprops >= PLY_MAX_PROPS) {
    io_set_err(c->err, c->errlen, "%s: line %zu: %s", c->path, lineno,
               el ? "too many properties" : "property before any element");
    return -1;
  }
  ply_prop *pr = &el->props[el->nprops];
  const char *ts, *te, *ns, *ne;
  int ok = io_next_token(&p, e, &ts, &te);
  pr->count_type = VT_NONE;
  if (ok && io_token_eq(ts, te, "list")) {
    ok = io_next_token(&p, e, &ts, &te);
    pr->count_type = ok ? ply_vtype(ts, te) : VT_NONE;
    ok = ok && io_vtype_is_int(pr->count_type) && io_next_token(&p, e, &ts, &te);
  }
  pr->type = ok ? ply_vtype(ts, te) : VT_NONE;
  ok = ok && pr->type != VT_NONE && io_next_token(&p, e, &ns, &ne) &&
       !io_token_copy(ns, ne, pr->name, sizeof pr->name);
  if (!ok) {
    io_set_err(c->err, c->errlen, "%s: line %zu: bad property line", c->path, lineno);
    return -1;
  }
  pr->role = pr->count_type == VT_NONE ? ply_prop_role(pr->name) : ROLE_SKIP;
  el->nprops++;
  return 0;
}

/* Returns 1 at end_header, 0 to continue, -1 on error. */
static int ply_header_line(io_ctx *c, size_t lineno, const char *s, const char *e,
                           ply_header *h) {
  const char *p = s, *ks, *ke;
  if (!io_next_token(&p, e, &ks, &ke) || io_token_eq(ks, ke, "comment") ||
      io_token_eq(ks, ke, "obj_info"))
    return 0;
  if (io_token_eq(ks, ke, "end_header")) return 1;
  if (io_token_eq(ks, ke, "format")) return ply_format(c, lineno, p, e, h);
  if (io_token_eq(ks, ke, "element")) return ply_element_line(c, lineno, p, e, h);
  if (io_token_eq(ks, ke, "property")) return ply_property_line(c, lineno, p, e, h);
  io_set_err(c->err, c->errlen,
             "%s: line %zu: unexpected PLY header line "
             "'%.*s'",
             c->path, lineno, (int)(e - s > 40 ? 40 : e - s), s);
  return -1;
}

static int ply_check_vertex(io_ctx *c, const ply_header *h) {
  if (!h->has_format) {
    io_set_err(c->err, c->errlen, "%s: PLY header has no format line", c->path);
    return -1;
  }
  if (h->vertex < 0) {
    io_set_err(c->err, c->errlen, "%s: PLY has no 'vertex' element", c->path);
    return -1;
  }
  const ply_element *el = &h->elems[h->vertex];
  int seen[6] = {0};
  for (int i = 0; i < el->nprops; i++) seen[el->props[i].role] = 1;
  static const char *names[] = {"", "x", "y", "z"};
  for (int r = ROLE_X; r <= ROLE_Z; r++)
    if (!seen[r]) {
      io_set_err(c->err, c->errlen, "%s: PLY vertex element has no scalar property '%s'",
                 c->path, names[r]);
      return -1;
    }
  return 0;
}

static int ply_parse_header(io_ctx *c, const char *buf, size_t len, ply_header *h) {
  memset(h, 0, sizeof *h);
  h->vertex = -1;
  text_cursor tc = {buf, buf + len, 0};
  const char *s, *e;
  if (!io_next_line(&tc, &s, &e) || !io_token_eq(s, e, "ply")) {
    io_set_err(c->err, c->errlen, "%s: not a PLY file (no 'ply' magic)", c->path);
    return -1;
  }
  int rc = 0;
  while (rc == 0 && io_next_line(&tc, &s, &e))
    rc = ply_header_line(c, tc.lineno, s, e, h);
  if (rc < 0) return -1;
  if (rc == 0) {
    io_set_err(c->err, c->errlen, "%s: PLY header has no end_header", c->path);
    return -1;
  }
  h->data_offset = (size_t)(tc.p - buf);
  return ply_check_vertex(c, h);
}

/* --- binary PLY --- */

typedef struct {
  const unsigned char *p, *end;
} bin_cursor;

static int bin_take(bin_cursor *b, uint64_t n, const unsigned char **at) {
  if (n > (uint64_t)(b->end - b->p)) return -1;
  *at = b->p;
  b->p += n;
  return 0;
}

/* Reads one property (role != skip) or skips it, from a cursor. */
typedef int (*prop_reader)(void *cursor, const ply_prop *pr, double v[6]);

/* The vertex rows, each property through `read`; `problem` says what a
 * failed read means ("PLY data ends inside" vertex i of n). */
static int read_vertex_rows(io_ctx *c, const ply_element *el, cloud_out *o,
                            prop_reader read, void *cursor, const char *problem) {
  if (io_out_alloc(c, o, el->count)) return -1;
  for (uint64_t i = 0; i < el->count; i++) {
    double v[6] = {0};
    for (int k = 0; k < el->nprops; k++)
      if (read(cursor, &el->props[k], v)) {
        io_set_err(c->err, c->errlen, "%s: %s vertex %llu of %llu", c->path, problem,
                   (unsigned long long)i, (unsigned long long)el->count);
        return -1;
      }
    io_out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
  }
  return 0;
}

/* Reads (role >= 0) or skips one property of one element instance. */
static int bin_prop(bin_cursor *b, const ply_prop *pr, double v[6]) {
  const unsigned char *at;
  if (pr->count_type == VT_NONE) {
    if (bin_take(b, io_vtype_size(pr->type), &at)) return -1;
    if (pr->role != ROLE_SKIP) v[pr->role] = io_load_value(at, pr->type);
    return 0;
  }
  if (bin_take(b, io_vtype_size(pr->count_type), &at)) return -1;
  double cnt = io_load_value(at, pr->count_type);
  uint64_t bytes;
  if (cnt < 0 || cnt > 1e18 ||
      io_mul_overflows((uint64_t)cnt, io_vtype_size(pr->type), &bytes))
    return -1;
  return bin_take(b, bytes, &at);
}

static int bin_prop_at(void *cursor, const ply_prop *pr, double v[6]) {
  return bin_prop(cursor, pr, v);
}

/* Smallest possible byte size of one instance; exact without lists. */
static uint64_t bin_min_size(const ply_element *el, int *has_list) {
  uint64_t size = 0;
  *has_list = 0;
  for (int i = 0; i < el->nprops; i++) {
    const ply_prop *pr = &el->props[i];
    *has_list |= pr->count_type != VT_NONE;
    size += io_vtype_size(pr->count_type != VT_NONE ? pr->count_type : pr->type);
  }
  return size;
}

static int bin_skip_element(io_ctx *c, bin_cursor *b, const ply_element *el) {
  int has_list;
  uint64_t size = bin_min_size(el, &has_list), total;
  const unsigned char *at;
  if (!has_list) {
    if (!io_mul_overflows(size, el->count, &total) && !bin_take(b, total, &at)) return 0;
  } else {
    double v[6];
    uint64_t i;
    for (i = 0; i < el->count; i++)
      for (int k = 0; k < el->nprops; k++)
        if (bin_prop(b, &el->props[k], v)) goto truncated;
    return 0;
  }
truncated:
  io_set_err(c->err, c->errlen, "%s: PLY data ends inside element '%s'", c->path,
             el->name);
  return -1;
}

static int bin_read_vertices(io_ctx *c, bin_cursor *b, const ply_element *el,
                             cloud_out *o) {
  int has_list;
  uint64_t size = bin_min_size(el, &has_list);
  uint64_t held = (uint64_t)(b->end - b->p) / size;
  if (el->count > held) {
    io_set_err(c->err, c->errlen,
               "%s: header says %llu vertices but the file holds %s%llu", c->path,
               (unsigned long long)el->count, has_list ? "at most " : "",
               (unsigned long long)held);
    return -1;
  }
  return read_vertex_rows(c, el, o, bin_prop_at, b, "PLY data ends inside");
}

static int ply_read_binary(io_ctx *c, const ply_header *h, const char *buf, size_t len,
                           cloud_out *o) {
  bin_cursor b = {(const unsigned char *)buf + h->data_offset,
                  (const unsigned char *)buf + len};
  for (int i = 0; i < h->vertex; i++)
    if (h->elems[i].nprops && bin_skip_element(c, &b, &h->elems[i])) return -1;
  /* Elements after the vertices (faces, ...) are not needed. */
  return bin_read_vertices(c, &b, &h->elems[h->vertex], o);
}

/* --- ASCII PLY --- */

/* Reads (role != skip) or skips one property as whitespace tokens. */
static int txt_prop(const char **p, const char *end, const ply_prop *pr, double v[6]) {
  const char *ts, *te;
  if (!io_next_token(p, end, &ts, &te)) return -1;
  if (pr->count_type == VT_NONE)
    return pr->role == ROLE_SKIP ? 0 : io_parse_double(ts, te, &v[pr->role]);
  uint64_t cnt;
  if (io_parse_u64(ts, te, &cnt)) return -1;
  for (uint64_t i = 0; i < cnt; i++)
    if (!io_next_token(p, end, &ts, &te)) return -1;
  return 0;
}

typedef struct {
  const char *p, *end;
} txt_cursor;

static int txt_prop_at(void *cursor, const ply_prop *pr, double v[6]) {
  txt_cursor *t = cursor;
  return txt_prop(&t->p, t->end, pr, v);
}

static int txt_skip_element(io_ctx *c, const char **p, const char *end,
                            const ply_element *el) {
  double v[6];
  for (uint64_t i = 0; i < el->count; i++)
    for (int k = 0; k < el->nprops; k++)
      if (txt_prop(p, end, &el->props[k], v)) {
        io_set_err(c->err, c->errlen, "%s: bad or missing data in element '%s' %llu",
                   c->path, el->name, (unsigned long long)i);
        return -1;
      }
  return 0;
}

static int txt_read_vertices(io_ctx *c, const char **p, const char *end,
                             const ply_element *el, cloud_out *o) {
  /* Each value needs at least one byte, which bounds the allocation. */
  uint64_t bytes = (uint64_t)(end - *p);
  if (el->count > bytes / (uint64_t)el->nprops) {
    io_set_err(c->err, c->errlen,
               "%s: header says %llu vertices but the file has only %llu "
               "bytes of data",
               c->path, (unsigned long long)el->count, (unsigned long long)bytes);
    return -1;
  }
  txt_cursor t = {*p, end};
  int rc = read_vertex_rows(c, el, o, txt_prop_at, &t, "bad or missing value in");
  *p = t.p;
  return rc;
}

static int ply_read_ascii(io_ctx *c, const ply_header *h, const char *buf, size_t len,
                          cloud_out *o) {
  const char *p = buf + h->data_offset, *end = buf + len;
  for (int i = 0; i < h->vertex; i++)
    if (h->elems[i].nprops && txt_skip_element(c, &p, end, &h->elems[i])) return -1;
  return txt_read_vertices(c, &p, end, &h->elems[h->vertex], o);
}

static int ply_read_buffer(io_ctx *c, const char *buf, size_t len, cloud_out *o) {
  ply_header *h = malloc(sizeof *h);
  if (!h) {
    io_set_err(c->err, c->errlen, "%s: out of memory", c->path);
    return -1;
  }
  int rc = ply_parse_header(c, buf, len, h);
  if (rc == 0 && h->format == PLY_BINARY_LE)
    rc = ply_read_binary(c, h, buf, len, o);
  else if (rc == 0)
    rc = ply_read_ascii(c, h, buf, len, o);
  free(h);
  return rc;
}

int clsp_cloud_read_ply(const char *path, float **points, size_t *n, char *err,
                        size_t errlen) {
  return io_read_text_cloud(path, ply_read_buffer, points, n, err, errlen);
}

/* ====================================================================== */
