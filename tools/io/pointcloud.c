#include "pointcloud.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCD_MAX_FIELDS 256
#define PLY_MAX_ELEMS 16
#define PLY_MAX_PROPS 64
#define NAME_LEN 64
#define TOKEN_LEN 64

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int str_ieq(const char *a, const char *b)
{
    while (*a && lower((unsigned char)*a) == lower((unsigned char)*b))
        a++, b++;
    return lower((unsigned char)*a) == lower((unsigned char)*b);
}

/* ---------------------------------------------------------------------- */
/* Scalar value types shared by PCD and PLY */

typedef enum {
    VT_NONE, VT_I8, VT_U8, VT_I16, VT_U16, VT_I32, VT_U32, VT_I64, VT_U64,
    VT_F32, VT_F64
} vtype;

static size_t vtype_size(vtype t)
{
    static const size_t sizes[] = {0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    return sizes[t];
}

static int vtype_is_int(vtype t)
{
    return t != VT_NONE && t != VT_F32 && t != VT_F64;
}

static uint64_t load_uint_le(const unsigned char *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = size; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Decodes one little-endian value; works on any host byte order. */
static double load_value(const unsigned char *p, vtype t)
{
    uint64_t u = load_uint_le(p, vtype_size(t));
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

/* Packed 0x00RRGGBB -> luminance in [0,1). */
static double rgb_luminance(uint32_t packed)
{
    double r = (packed >> 16) & 0xff, g = (packed >> 8) & 0xff,
           b = packed & 0xff;
    return (0.299 * r + 0.587 * g + 0.114 * b) / 256.0;
}

/* ---------------------------------------------------------------------- */
/* Output buffer */

typedef struct {
    float *pts;
    size_t n, cap;
} cloud_out;

static int out_init(cloud_out *o, uint64_t cap)
{
    o->n = 0;
    o->cap = (size_t)cap;
    if (cap > SIZE_MAX / 16 - 1) {
        o->pts = NULL;
        return -1;
    }
    o->pts = malloc((cap ? (size_t)cap : 1) * 16);
    return o->pts ? 0 : -1;
}

static int fits_float(double v)
{
    return fabs(v) <= FLT_MAX; /* false for NaN and infinities too */
}

/* Non-finite coordinates mark missing returns; they are dropped, and so
 * are coordinates a float cannot hold (converting those is undefined). */
static void out_push(cloud_out *o, double x, double y, double z, double i)
{
    if (o->n >= o->cap || !fits_float(x) || !fits_float(y) ||
        !fits_float(z))
        return;
    float *p = o->pts + 4 * o->n++;
    p[0] = (float)x;
    p[1] = (float)y;
    p[2] = (float)z;
    p[3] = fits_float(i) ? (float)i : 0.0f;
}

static void out_give(cloud_out *o, float **points, size_t *n)
{
    *points = o->pts;
    *n = o->n;
    o->pts = NULL;
}

/* ---------------------------------------------------------------------- */
/* File access */

static int open_regular(const char *path, FILE **fp, uint64_t *size,
                        char *err, size_t errlen)
{
    *fp = fopen(path, "rb");
    if (!*fp) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        fclose(*fp);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Reads the whole file and appends a NUL so text parsing cannot overrun. */
static int slurp(const char *path, char **buf, size_t *len, char *err,
                 size_t errlen)
{
    FILE *fp;
    uint64_t size;
    if (open_regular(path, &fp, &size, err, errlen))
        return -1;
    *buf = size < SIZE_MAX ? malloc((size_t)size + 1) : NULL;
    if (!*buf) {
        set_err(err, errlen, "%s: out of memory", path);
        fclose(fp);
        return -1;
    }
    if (fread(*buf, 1, (size_t)size, fp) != (size_t)size) {
        set_err(err, errlen, "%s: read error", path);
        free(*buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    (*buf)[size] = '\0';
    *len = (size_t)size;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Text scanning */

typedef struct {
    const char *p, *end;
    size_t lineno; /* line number of the last line returned */
} text_cursor;

/* Returns the next line [*s, *e) without its '\n' or trailing blanks. */
static int next_line(text_cursor *c, const char **s, const char **e)
{
    if (c->p >= c->end)
        return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *stop = nl ? nl : c->end;
    *s = c->p;
    *e = stop;
    while (*e > *s && ((*e)[-1] == '\r' || (*e)[-1] == ' ' ||
                       (*e)[-1] == '\t'))
        (*e)--;
    c->p = nl ? nl + 1 : c->end;
    c->lineno++;
    return 1;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
           ch == '\v' || ch == '\f';
}

/* Finds the next whitespace-separated token in [*p, e). */
static int next_token(const char **p, const char *e, const char **ts,
                      const char **te)
{
    const char *q = *p;
    while (q < e && is_blank(*q))
        q++;
    if (q >= e)
        return 0;
    *ts = q;
    while (q < e && !is_blank(*q))
        q++;
    *te = q;
    *p = q;
    return 1;
}

static int token_copy(const char *ts, const char *te, char *buf, size_t len)
{
    size_t n = (size_t)(te - ts);
    if (n == 0 || n >= len)
        return -1;
    memcpy(buf, ts, n);
    buf[n] = '\0';
    return 0;
}

static int token_eq(const char *ts, const char *te, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(te - ts) == n && memcmp(ts, word, n) == 0;
}

static int parse_double(const char *ts, const char *te, double *v)
{
    char buf[TOKEN_LEN], *end;
    if (token_copy(ts, te, buf, sizeof buf))
        return -1;
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

static int parse_u64(const char *ts, const char *te, uint64_t *v)
{
    char buf[TOKEN_LEN], *end;
    if (token_copy(ts, te, buf, sizeof buf) || buf[0] < '0' || buf[0] > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *v = x;
    return 0;
}

/* Integer text values of packed colours, e.g. PCD 'rgba' with TYPE U. */
static int parse_packed_int(const char *ts, const char *te, uint32_t *v)
{
    char buf[TOKEN_LEN], *end;
    if (token_copy(ts, te, buf, sizeof buf))
        return -1;
    long long x = strtoll(buf, &end, 10);
    if (*end != '\0')
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int mul_overflows(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a)
        return 1;
    *r = a * b;
    return 0;
}

/* ====================================================================== */
/* KITTI .bin */

static int ext_is(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot && str_ieq(dot, ext);
}

static int kitti_load(const char *path, FILE *fp, uint64_t size,
                      cloud_out *o, char *err, size_t errlen)
{
    unsigned char rec[16];
    for (uint64_t i = 0; i < size / 16; i++) {
        if (fread(rec, 1, 16, fp) != 16) {
            set_err(err, errlen, "%s: read error at point %llu", path,
                    (unsigned long long)i);
            return -1;
        }
        out_push(o, load_value(rec, VT_F32), load_value(rec + 4, VT_F32),
                 load_value(rec + 8, VT_F32), load_value(rec + 12, VT_F32));
    }
    return 0;
}

int clsp_cloud_read_kitti(const char *path, float **points, size_t *n,
                          char *err, size_t errlen)
{
    *points = NULL;
    *n = 0;
    FILE *fp;
    uint64_t size;
    if (open_regular(path, &fp, &size, err, errlen))
        return -1;
    if (size % 16 != 0) {
        set_err(err, errlen,
                "%s: size %llu bytes is not a multiple of 16 (KITTI .bin "
                "holds float32 x,y,z,intensity records)",
                path, (unsigned long long)size);
        fclose(fp);
        return -1;
    }
    cloud_out o;
    int rc = out_init(&o, size / 16);
    if (rc)
        set_err(err, errlen, "%s: out of memory", path);
    else
        rc = kitti_load(path, fp, size, &o, err, errlen);
    fclose(fp);
    if (rc) {
        free(o.pts);
        return -1;
    }
    out_give(&o, points, n);
    return 0;
}

int clsp_cloud_write_kitti(const char *path, const float *points, size_t n,
                           char *err, size_t errlen)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        set_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < 4 * n && !bad; i++) {
        uint32_t b;
        memcpy(&b, &points[i], 4);
        unsigned char le[4] = {(unsigned char)b, (unsigned char)(b >> 8),
                               (unsigned char)(b >> 16),
                               (unsigned char)(b >> 24)};
        bad = fwrite(le, 1, 4, fp) != 4;
    }
    bad = (fclose(fp) != 0) || bad;
    if (bad) {
        set_err(err, errlen, "%s: write error: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}

/* ====================================================================== */
/* PCD */

enum { ROLE_SKIP, ROLE_X, ROLE_Y, ROLE_Z, ROLE_INTENSITY, ROLE_RGB };
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

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
} ctx;

static int pcd_list(ctx *c, size_t lineno, const char *key, const char *p,
                    const char *e, pcd_header *h, int *nout, int which)
{
    const char *ts, *te;
    int k = 0;
    while (next_token(&p, e, &ts, &te)) {
        if (k >= PCD_MAX_FIELDS) {
            set_err(c->err, c->errlen, "%s: line %zu: more than %d fields",
                    c->path, lineno, PCD_MAX_FIELDS);
            return -1;
        }
        pcd_field *f = &h->f[k++];
        int bad = 0;
        if (which == 0)
            bad = token_copy(ts, te, f->name, sizeof f->name);
        else if (which == 1)
            bad = parse_u64(ts, te, &f->size);
        else if (which == 2) {
            bad = te - ts != 1;
            f->type = *ts;
        }
        else
            bad = parse_u64(ts, te, &f->count);
        if (bad) {
            set_err(c->err, c->errlen, "%s: line %zu: bad %s entry '%.*s'",
                    c->path, lineno, key, (int)(te - ts), ts);
            return -1;
        }
    }
    *nout = k;
    return 0;
}

static int pcd_number(ctx *c, size_t lineno, const char *key, const char *p,
                      const char *e, uint64_t *v, int *has)
{
    const char *ts, *te;
    if (!next_token(&p, e, &ts, &te) || parse_u64(ts, te, v)) {
        set_err(c->err, c->errlen, "%s: line %zu: bad %s value", c->path,
                lineno, key);
        return -1;
    }
    *has = 1;
    return 0;
}

static int pcd_data_mode(ctx *c, size_t lineno, const char *p, const char *e,
                         pcd_header *h)
{
    const char *ts, *te;
    if (!next_token(&p, e, &ts, &te)) {
        set_err(c->err, c->errlen, "%s: line %zu: DATA without a mode",
                c->path, lineno);
        return -1;
    }
    if (token_eq(ts, te, "ascii"))
        h->mode = PCD_ASCII;
    else if (token_eq(ts, te, "binary"))
        h->mode = PCD_BINARY;
    else if (token_eq(ts, te, "binary_compressed")) {
        set_err(c->err, c->errlen,
                "%s: DATA binary_compressed is unsupported; re-save as "
                "ascii or binary (e.g. pcl_convert_pcd_ascii_binary)",
                c->path);
        return -1;
    } else {
        set_err(c->err, c->errlen, "%s: line %zu: unknown DATA mode '%.*s'",
                c->path, lineno, (int)(te - ts), ts);
        return -1;
    }
    h->has_data = 1;
    return 0;
}

static int pcd_header_line(ctx *c, size_t lineno, const char *s,
                           const char *e, pcd_header *h)
{
    const char *p = s, *ks, *ke;
    if (!next_token(&p, e, &ks, &ke) || *ks == '#')
        return 0;
    if (token_eq(ks, ke, "VERSION") || token_eq(ks, ke, "VIEWPOINT"))
        return 0;
    if (token_eq(ks, ke, "FIELDS") || token_eq(ks, ke, "COLUMNS"))
        return pcd_list(c, lineno, "FIELDS", p, e, h, &h->nfields, 0);
    if (token_eq(ks, ke, "SIZE"))
        return pcd_list(c, lineno, "SIZE", p, e, h, &h->nsize, 1);
    if (token_eq(ks, ke, "TYPE"))
        return pcd_list(c, lineno, "TYPE", p, e, h, &h->ntype, 2);
    if (token_eq(ks, ke, "COUNT"))
        return pcd_list(c, lineno, "COUNT", p, e, h, &h->ncount, 3);
    if (token_eq(ks, ke, "WIDTH"))
        return pcd_number(c, lineno, "WIDTH", p, e, &h->width,
                          &h->has_width);
    if (token_eq(ks, ke, "HEIGHT"))
        return pcd_number(c, lineno, "HEIGHT", p, e, &h->height,
                          &h->has_height);
    if (token_eq(ks, ke, "POINTS"))
        return pcd_number(c, lineno, "POINTS", p, e, &h->points,
                          &h->has_points);
    if (token_eq(ks, ke, "DATA"))
        return pcd_data_mode(c, lineno, p, e, h);
    set_err(c->err, c->errlen,
            "%s: line %zu: unexpected header line '%.*s' (missing DATA "
            "line?)",
            c->path, lineno, (int)(e - s > 40 ? 40 : e - s), s);
    return -1;
}

static vtype pcd_vtype(char type, uint64_t size)
{
    switch (type) {
    case 'F': return size == 4 ? VT_F32 : size == 8 ? VT_F64 : VT_NONE;
    case 'I': return size == 1 ? VT_I8 : size == 2 ? VT_I16
                   : size == 4 ? VT_I32 : size == 8 ? VT_I64 : VT_NONE;
    case 'U': return size == 1 ? VT_U8 : size == 2 ? VT_U16
                   : size == 4 ? VT_U32 : size == 8 ? VT_U64 : VT_NONE;
    default: return VT_NONE;
    }
}

static int pcd_role(const char *name)
{
    if (strcmp(name, "x") == 0) return ROLE_X;
    if (strcmp(name, "y") == 0) return ROLE_Y;
    if (strcmp(name, "z") == 0) return ROLE_Z;
    if (str_ieq(name, "intensity")) return ROLE_INTENSITY;
    if (strcmp(name, "rgb") == 0 || strcmp(name, "rgba") == 0)
        return ROLE_RGB;
    return ROLE_SKIP;
}

static int pcd_check_counts(ctx *c, pcd_header *h)
{
    if (!h->has_data) {
        set_err(c->err, c->errlen, "%s: no DATA line in the PCD header",
                c->path);
        return -1;
    }
    if (h->nfields == 0 || h->nsize != h->nfields ||
        h->ntype != h->nfields ||
        (h->ncount != 0 && h->ncount != h->nfields)) {
        set_err(c->err, c->errlen,
                "%s: FIELDS (%d), SIZE (%d), TYPE (%d) and COUNT (%d) "
                "must list the same number of entries",
                c->path, h->nfields, h->nsize, h->ntype, h->ncount);
        return -1;
    }
    return 0;
}

/* Assigns types, roles and record offsets; at most one field per role. */
static int pcd_layout(ctx *c, pcd_header *h, int seen[6])
{
    for (int i = 0; i < h->nfields; i++) {
        pcd_field *f = &h->f[i];
        if (h->ncount == 0)
            f->count = 1;
        f->vt = pcd_vtype(f->type, f->size);
        if (f->vt == VT_NONE || f->count == 0) {
            set_err(c->err, c->errlen,
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
        if (mul_overflows(f->size, f->count, &bytes) ||
            h->record_size + bytes < h->record_size) {
            set_err(c->err, c->errlen, "%s: field sizes overflow", c->path);
            return -1;
        }
        h->record_size += bytes;
        h->values_per_point += f->count;
    }
    return 0;
}

static int pcd_check_roles(ctx *c, pcd_header *h, const int seen[6])
{
    static const char *names[] = {"", "x", "y", "z"};
    for (int r = ROLE_X; r <= ROLE_Z; r++)
        if (!seen[r]) {
            set_err(c->err, c->errlen, "%s: PCD has no field '%s'", c->path,
                    names[r]);
            return -1;
        }
    if (seen[ROLE_INTENSITY])
        for (int i = 0; i < h->nfields; i++)
            if (h->f[i].role == ROLE_RGB)
                h->f[i].role = ROLE_SKIP; /* real intensity beats colour */
    for (int i = 0; i < h->nfields; i++) {
        const pcd_field *f = &h->f[i];
        if (f->role == ROLE_RGB && f->size != 4) {
            set_err(c->err, c->errlen, "%s: field '%s' must have SIZE 4",
                    c->path, f->name);
            return -1;
        }
    }
    return 0;
}

static int pcd_check_points(ctx *c, pcd_header *h)
{
    uint64_t wh = 0;
    int has_wh = h->has_width &&
                 !mul_overflows(h->width, h->has_height ? h->height : 1, &wh);
    if (!h->has_points && !has_wh) {
        set_err(c->err, c->errlen,
                "%s: header has neither POINTS nor a valid WIDTH/HEIGHT",
                c->path);
        return -1;
    }
    if (!h->has_points)
        h->points = wh;
    else if (has_wh && wh != h->points) {
        set_err(c->err, c->errlen,
                "%s: WIDTH*HEIGHT (%llu) does not match POINTS (%llu)",
                c->path, (unsigned long long)wh,
                (unsigned long long)h->points);
        return -1;
    }
    return 0;
}

static int pcd_parse_header(ctx *c, const char *buf, size_t len,
                            pcd_header *h)
{
    memset(h, 0, sizeof *h);
    text_cursor tc = {buf, buf + len, 0};
    const char *s, *e;
    while (!h->has_data && next_line(&tc, &s, &e))
        if (pcd_header_line(c, tc.lineno, s, e, h))
            return -1;
    h->data_offset = (size_t)(tc.p - buf);
    int seen[6] = {0};
    if (pcd_check_counts(c, h) || pcd_layout(c, h, seen) ||
        pcd_check_roles(c, h, seen) || pcd_check_points(c, h))
        return -1;
    return 0;
}

static void pcd_binary_point(const pcd_header *h, const unsigned char *rec,
                             cloud_out *o)
{
    double v[6] = {0};
    for (int i = 0; i < h->nfields; i++) {
        const pcd_field *f = &h->f[i];
        const unsigned char *p = rec + f->offset;
        if (f->role == ROLE_RGB)
            v[ROLE_INTENSITY] = rgb_luminance((uint32_t)load_uint_le(p, 4));
        else if (f->role != ROLE_SKIP)
            v[f->role] = load_value(p, f->vt);
    }
    out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
}

static int pcd_read_binary(ctx *c, const pcd_header *h, const char *buf,
                           size_t len, cloud_out *o)
{
    uint64_t avail = len - h->data_offset;
    uint64_t held = h->record_size ? avail / h->record_size : 0;
    if (h->points > held) {
        set_err(c->err, c->errlen,
                "%s: header says POINTS %llu but the file holds %llu points",
                c->path, (unsigned long long)h->points,
                (unsigned long long)held);
        return -1;
    }
    if (out_init(o, h->points)) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
        return -1;
    }
    const unsigned char *rec = (const unsigned char *)buf + h->data_offset;
    for (uint64_t i = 0; i < h->points; i++, rec += h->record_size)
        pcd_binary_point(h, rec, o);
    return 0;
}

/* Converts one ASCII value; rgb needs its bit pattern, not its value. */
static int pcd_ascii_value(const pcd_field *f, const char *ts,
                           const char *te, double v[6])
{
    if (f->role != ROLE_RGB)
        return parse_double(ts, te, &v[f->role]);
    uint32_t bits;
    if (f->vt == VT_F32) {
        double d;
        if (parse_double(ts, te, &d) || !fits_float(d))
            return -1;
        float fl = (float)d;
        memcpy(&bits, &fl, 4);
    } else if (parse_packed_int(ts, te, &bits))
        return -1;
    v[ROLE_INTENSITY] = rgb_luminance(bits);
    return 0;
}

static int pcd_ascii_line(ctx *c, const pcd_header *h, size_t lineno,
                          const char *p, const char *e, cloud_out *o)
{
    double v[6] = {0};
    const char *ts, *te;
    uint64_t got = 0;
    for (int i = 0; i < h->nfields; i++) {
        const pcd_field *f = &h->f[i];
        for (uint64_t k = 0; k < f->count; k++, got++) {
            if (!next_token(&p, e, &ts, &te))
                goto short_line;
            if (k == 0 && f->role != ROLE_SKIP &&
                pcd_ascii_value(f, ts, te, v)) {
                set_err(c->err, c->errlen,
                        "%s: line %zu: bad value '%.*s' for field '%s'",
                        c->path, lineno, (int)(te - ts), ts, f->name);
                return -1;
            }
        }
    }
    if (next_token(&p, e, &ts, &te)) {
        set_err(c->err, c->errlen,
                "%s: line %zu: more than the %llu values per point the "
                "header declares",
                c->path, lineno, (unsigned long long)h->values_per_point);
        return -1;
    }
    out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
    return 0;
short_line:
    set_err(c->err, c->errlen,
            "%s: line %zu: %llu values, expected %llu per point", c->path,
            lineno, (unsigned long long)got,
            (unsigned long long)h->values_per_point);
    return -1;
}

static uint64_t count_data_lines(const char *p, const char *end)
{
    text_cursor tc = {p, end, 0};
    const char *s, *e;
    uint64_t n = 0;
    while (next_line(&tc, &s, &e)) {
        const char *q = s, *ts, *te;
        if (next_token(&q, e, &ts, &te) && *ts != '#')
            n++;
    }
    return n;
}

static int pcd_read_ascii(ctx *c, const pcd_header *h, const char *buf,
                          size_t len, size_t header_lines, cloud_out *o)
{
    uint64_t held = count_data_lines(buf + h->data_offset, buf + len);
    if (h->points > held) {
        set_err(c->err, c->errlen,
                "%s: header says POINTS %llu but the file holds %llu points",
                c->path, (unsigned long long)h->points,
                (unsigned long long)held);
        return -1;
    }
    if (out_init(o, h->points)) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
        return -1;
    }
    text_cursor tc = {buf + h->data_offset, buf + len, header_lines};
    const char *s, *e;
    for (uint64_t i = 0; i < h->points && next_line(&tc, &s, &e);) {
        const char *q = s, *ts, *te;
        if (!next_token(&q, e, &ts, &te) || *ts == '#')
            continue;
        if (pcd_ascii_line(c, h, tc.lineno, s, e, o))
            return -1;
        i++;
    }
    return 0;
}

static size_t count_lines(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += p[i] == '\n';
    return n;
}

static int pcd_read_buffer(ctx *c, const char *buf, size_t len, cloud_out *o)
{
    pcd_header *h = malloc(sizeof *h);
    if (!h) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
        return -1;
    }
    int rc = pcd_parse_header(c, buf, len, h);
    if (rc == 0 && h->mode == PCD_BINARY)
        rc = pcd_read_binary(c, h, buf, len, o);
    else if (rc == 0)
        rc = pcd_read_ascii(c, h, buf, len,
                            count_lines(buf, h->data_offset), o);
    free(h);
    return rc;
}

/* Reads a whole file and parses it with `parse` (PCD or PLY). */
typedef int (*cloud_parser)(ctx *c, const char *buf, size_t len,
                            cloud_out *o);

static int read_text_cloud(const char *path, cloud_parser parse,
                           float **points, size_t *n, char *err,
                           size_t errlen)
{
    *points = NULL;
    *n = 0;
    char *buf;
    size_t len;
    if (slurp(path, &buf, &len, err, errlen))
        return -1;
    ctx c = {path, err, errlen};
    cloud_out o = {NULL, 0, 0};
    int rc = parse(&c, buf, len, &o);
    free(buf);
    if (rc) {
        free(o.pts);
        return -1;
    }
    out_give(&o, points, n);
    return 0;
}

int clsp_cloud_read_pcd(const char *path, float **points, size_t *n,
                        char *err, size_t errlen)
{
    return read_text_cloud(path, pcd_read_buffer, points, n, err, errlen);
}

/* ====================================================================== */
/* PLY */

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

static vtype ply_vtype(const char *ts, const char *te)
{
    static const struct { const char *name; vtype t; } names[] = {
        {"char", VT_I8},     {"int8", VT_I8},     {"uchar", VT_U8},
        {"uint8", VT_U8},    {"short", VT_I16},   {"int16", VT_I16},
        {"ushort", VT_U16},  {"uint16", VT_U16},  {"int", VT_I32},
        {"int32", VT_I32},   {"uint", VT_U32},    {"uint32", VT_U32},
        {"float", VT_F32},   {"float32", VT_F32}, {"double", VT_F64},
        {"float64", VT_F64}, {"int64", VT_I64},   {"uint64", VT_U64},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (token_eq(ts, te, names[i].name))
            return names[i].t;
    return VT_NONE;
}

static int ply_format(ctx *c, size_t lineno, const char *p, const char *e,
                      ply_header *h)
{
    const char *ts, *te, *vs, *ve;
    int ok = next_token(&p, e, &ts, &te) && next_token(&p, e, &vs, &ve);
    if (ok && token_eq(ts, te, "binary_big_endian")) {
        set_err(c->err, c->errlen,
                "%s: big-endian PLY is unsupported; re-save as "
                "binary_little_endian or ascii",
                c->path);
        return -1;
    }
    if (ok && token_eq(ts, te, "ascii"))
        h->format = PLY_ASCII;
    else if (ok && token_eq(ts, te, "binary_little_endian"))
        h->format = PLY_BINARY_LE;
    else
        ok = 0;
    if (!ok || !token_eq(vs, ve, "1.0")) {
        set_err(c->err, c->errlen, "%s: line %zu: unsupported PLY format",
                c->path, lineno);
        return -1;
    }
    h->has_format = 1;
    return 0;
}

static int ply_element_line(ctx *c, size_t lineno, const char *p,
                            const char *e, ply_header *h)
{
    const char *ns, *ne, *cs, *ce;
    if (h->nelems >= PLY_MAX_ELEMS) {
        set_err(c->err, c->errlen, "%s: more than %d PLY elements", c->path,
                PLY_MAX_ELEMS);
        return -1;
    }
    ply_element *el = &h->elems[h->nelems];
    if (!next_token(&p, e, &ns, &ne) || !next_token(&p, e, &cs, &ce) ||
        token_copy(ns, ne, el->name, sizeof el->name) ||
        parse_u64(cs, ce, &el->count)) {
        set_err(c->err, c->errlen, "%s: line %zu: bad element line",
                c->path, lineno);
        return -1;
    }
    if (h->vertex < 0 && strcmp(el->name, "vertex") == 0)
        h->vertex = h->nelems;
    h->nelems++;
    return 0;
}

static int ply_prop_role(const char *name)
{
    if (str_ieq(name, "x")) return ROLE_X;
    if (str_ieq(name, "y")) return ROLE_Y;
    if (str_ieq(name, "z")) return ROLE_Z;
    if (str_ieq(name, "intensity") || str_ieq(name, "scalar_intensity"))
        return ROLE_INTENSITY;
    return ROLE_SKIP;
}

static int ply_property_line(ctx *c, size_t lineno, const char *p,
                             const char *e, ply_header *h)
{
    ply_element *el = h->nelems ? &h->elems[h->nelems - 1] : NULL;
    if (!el || el->nprops >= PLY_MAX_PROPS) {
        set_err(c->err, c->errlen, "%s: line %zu: %s", c->path, lineno,
                el ? "too many properties" : "property before any element");
        return -1;
    }
    ply_prop *pr = &el->props[el->nprops];
    const char *ts, *te, *ns, *ne;
    int ok = next_token(&p, e, &ts, &te);
    pr->count_type = VT_NONE;
    if (ok && token_eq(ts, te, "list")) {
        ok = next_token(&p, e, &ts, &te);
        pr->count_type = ok ? ply_vtype(ts, te) : VT_NONE;
        ok = ok && vtype_is_int(pr->count_type) &&
             next_token(&p, e, &ts, &te);
    }
    pr->type = ok ? ply_vtype(ts, te) : VT_NONE;
    ok = ok && pr->type != VT_NONE && next_token(&p, e, &ns, &ne) &&
         !token_copy(ns, ne, pr->name, sizeof pr->name);
    if (!ok) {
        set_err(c->err, c->errlen, "%s: line %zu: bad property line",
                c->path, lineno);
        return -1;
    }
    pr->role = pr->count_type == VT_NONE ? ply_prop_role(pr->name)
                                         : ROLE_SKIP;
    el->nprops++;
    return 0;
}

/* Returns 1 at end_header, 0 to continue, -1 on error. */
static int ply_header_line(ctx *c, size_t lineno, const char *s,
                           const char *e, ply_header *h)
{
    const char *p = s, *ks, *ke;
    if (!next_token(&p, e, &ks, &ke) || token_eq(ks, ke, "comment") ||
        token_eq(ks, ke, "obj_info"))
        return 0;
    if (token_eq(ks, ke, "end_header"))
        return 1;
    if (token_eq(ks, ke, "format"))
        return ply_format(c, lineno, p, e, h);
    if (token_eq(ks, ke, "element"))
        return ply_element_line(c, lineno, p, e, h);
    if (token_eq(ks, ke, "property"))
        return ply_property_line(c, lineno, p, e, h);
    set_err(c->err, c->errlen, "%s: line %zu: unexpected PLY header line "
            "'%.*s'", c->path, lineno, (int)(e - s > 40 ? 40 : e - s), s);
    return -1;
}

static int ply_check_vertex(ctx *c, const ply_header *h)
{
    if (!h->has_format) {
        set_err(c->err, c->errlen, "%s: PLY header has no format line",
                c->path);
        return -1;
    }
    if (h->vertex < 0) {
        set_err(c->err, c->errlen, "%s: PLY has no 'vertex' element",
                c->path);
        return -1;
    }
    const ply_element *el = &h->elems[h->vertex];
    int seen[6] = {0};
    for (int i = 0; i < el->nprops; i++)
        seen[el->props[i].role] = 1;
    static const char *names[] = {"", "x", "y", "z"};
    for (int r = ROLE_X; r <= ROLE_Z; r++)
        if (!seen[r]) {
            set_err(c->err, c->errlen,
                    "%s: PLY vertex element has no scalar property '%s'",
                    c->path, names[r]);
            return -1;
        }
    return 0;
}

static int ply_parse_header(ctx *c, const char *buf, size_t len,
                            ply_header *h)
{
    memset(h, 0, sizeof *h);
    h->vertex = -1;
    text_cursor tc = {buf, buf + len, 0};
    const char *s, *e;
    if (!next_line(&tc, &s, &e) || !token_eq(s, e, "ply")) {
        set_err(c->err, c->errlen, "%s: not a PLY file (no 'ply' magic)",
                c->path);
        return -1;
    }
    int rc = 0;
    while (rc == 0 && next_line(&tc, &s, &e))
        rc = ply_header_line(c, tc.lineno, s, e, h);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        set_err(c->err, c->errlen, "%s: PLY header has no end_header",
                c->path);
        return -1;
    }
    h->data_offset = (size_t)(tc.p - buf);
    return ply_check_vertex(c, h);
}

/* --- binary PLY --- */

typedef struct {
    const unsigned char *p, *end;
} bin_cursor;

static int bin_take(bin_cursor *b, uint64_t n, const unsigned char **at)
{
    if (n > (uint64_t)(b->end - b->p))
        return -1;
    *at = b->p;
    b->p += n;
    return 0;
}

/* Reads (role >= 0) or skips one property of one element instance. */
static int bin_prop(bin_cursor *b, const ply_prop *pr, double v[6])
{
    const unsigned char *at;
    if (pr->count_type == VT_NONE) {
        if (bin_take(b, vtype_size(pr->type), &at))
            return -1;
        if (pr->role != ROLE_SKIP)
            v[pr->role] = load_value(at, pr->type);
        return 0;
    }
    if (bin_take(b, vtype_size(pr->count_type), &at))
        return -1;
    double cnt = load_value(at, pr->count_type);
    uint64_t bytes;
    if (cnt < 0 || cnt > 1e18 ||
        mul_overflows((uint64_t)cnt, vtype_size(pr->type), &bytes))
        return -1;
    return bin_take(b, bytes, &at);
}

/* Smallest possible byte size of one instance; exact without lists. */
static uint64_t bin_min_size(const ply_element *el, int *has_list)
{
    uint64_t size = 0;
    *has_list = 0;
    for (int i = 0; i < el->nprops; i++) {
        const ply_prop *pr = &el->props[i];
        *has_list |= pr->count_type != VT_NONE;
        size += vtype_size(pr->count_type != VT_NONE ? pr->count_type
                                                     : pr->type);
    }
    return size;
}

static int bin_skip_element(ctx *c, bin_cursor *b, const ply_element *el)
{
    int has_list;
    uint64_t size = bin_min_size(el, &has_list), total;
    const unsigned char *at;
    if (!has_list) {
        if (!mul_overflows(size, el->count, &total) &&
            !bin_take(b, total, &at))
            return 0;
    } else {
        double v[6];
        uint64_t i;
        for (i = 0; i < el->count; i++)
            for (int k = 0; k < el->nprops; k++)
                if (bin_prop(b, &el->props[k], v))
                    goto truncated;
        return 0;
    }
truncated:
    set_err(c->err, c->errlen, "%s: PLY data ends inside element '%s'",
            c->path, el->name);
    return -1;
}

static int bin_read_vertices(ctx *c, bin_cursor *b, const ply_element *el,
                             cloud_out *o)
{
    int has_list;
    uint64_t size = bin_min_size(el, &has_list);
    uint64_t held = (uint64_t)(b->end - b->p) / size;
    if (el->count > held) {
        set_err(c->err, c->errlen,
                "%s: header says %llu vertices but the file holds %s%llu",
                c->path, (unsigned long long)el->count,
                has_list ? "at most " : "", (unsigned long long)held);
        return -1;
    }
    if (out_init(o, el->count)) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
        return -1;
    }
    for (uint64_t i = 0; i < el->count; i++) {
        double v[6] = {0};
        for (int k = 0; k < el->nprops; k++)
            if (bin_prop(b, &el->props[k], v)) {
                set_err(c->err, c->errlen,
                        "%s: PLY data ends inside vertex %llu of %llu",
                        c->path, (unsigned long long)i,
                        (unsigned long long)el->count);
                return -1;
            }
        out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
    }
    return 0;
}

static int ply_read_binary(ctx *c, const ply_header *h, const char *buf,
                           size_t len, cloud_out *o)
{
    bin_cursor b = {(const unsigned char *)buf + h->data_offset,
                    (const unsigned char *)buf + len};
    for (int i = 0; i < h->vertex; i++)
        if (h->elems[i].nprops && bin_skip_element(c, &b, &h->elems[i]))
            return -1;
    /* Elements after the vertices (faces, ...) are not needed. */
    return bin_read_vertices(c, &b, &h->elems[h->vertex], o);
}

/* --- ASCII PLY --- */

/* Reads (role != skip) or skips one property as whitespace tokens. */
static int txt_prop(const char **p, const char *end, const ply_prop *pr,
                    double v[6])
{
    const char *ts, *te;
    if (!next_token(p, end, &ts, &te))
        return -1;
    if (pr->count_type == VT_NONE)
        return pr->role == ROLE_SKIP ? 0 : parse_double(ts, te, &v[pr->role]);
    uint64_t cnt;
    if (parse_u64(ts, te, &cnt))
        return -1;
    for (uint64_t i = 0; i < cnt; i++)
        if (!next_token(p, end, &ts, &te))
            return -1;
    return 0;
}

static int txt_skip_element(ctx *c, const char **p, const char *end,
                            const ply_element *el)
{
    double v[6];
    for (uint64_t i = 0; i < el->count; i++)
        for (int k = 0; k < el->nprops; k++)
            if (txt_prop(p, end, &el->props[k], v)) {
                set_err(c->err, c->errlen,
                        "%s: bad or missing data in element '%s' %llu",
                        c->path, el->name, (unsigned long long)i);
                return -1;
            }
    return 0;
}

static int txt_read_vertices(ctx *c, const char **p, const char *end,
                             const ply_element *el, cloud_out *o)
{
    /* Each value needs at least one byte, which bounds the allocation. */
    uint64_t bytes = (uint64_t)(end - *p);
    if (el->count > bytes / (uint64_t)el->nprops) {
        set_err(c->err, c->errlen,
                "%s: header says %llu vertices but the file has only %llu "
                "bytes of data",
                c->path, (unsigned long long)el->count,
                (unsigned long long)bytes);
        return -1;
    }
    if (out_init(o, el->count)) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
        return -1;
    }
    for (uint64_t i = 0; i < el->count; i++) {
        double v[6] = {0};
        for (int k = 0; k < el->nprops; k++)
            if (txt_prop(p, end, &el->props[k], v)) {
                set_err(c->err, c->errlen,
                        "%s: bad or missing value in vertex %llu of %llu",
                        c->path, (unsigned long long)i,
                        (unsigned long long)el->count);
                return -1;
            }
        out_push(o, v[ROLE_X], v[ROLE_Y], v[ROLE_Z], v[ROLE_INTENSITY]);
    }
    return 0;
}

static int ply_read_ascii(ctx *c, const ply_header *h, const char *buf,
                          size_t len, cloud_out *o)
{
    const char *p = buf + h->data_offset, *end = buf + len;
    for (int i = 0; i < h->vertex; i++)
        if (h->elems[i].nprops && txt_skip_element(c, &p, end, &h->elems[i]))
            return -1;
    return txt_read_vertices(c, &p, end, &h->elems[h->vertex], o);
}

static int ply_read_buffer(ctx *c, const char *buf, size_t len, cloud_out *o)
{
    ply_header *h = malloc(sizeof *h);
    if (!h) {
        set_err(c->err, c->errlen, "%s: out of memory", c->path);
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

int clsp_cloud_read_ply(const char *path, float **points, size_t *n,
                        char *err, size_t errlen)
{
    return read_text_cloud(path, ply_read_buffer, points, n, err, errlen);
}

/* ====================================================================== */

int clsp_cloud_read(const char *path, float **points, size_t *n, char *err,
                    size_t errlen)
{
    if (ext_is(path, ".bin"))
        return clsp_cloud_read_kitti(path, points, n, err, errlen);
    if (ext_is(path, ".pcd"))
        return clsp_cloud_read_pcd(path, points, n, err, errlen);
    if (ext_is(path, ".ply"))
        return clsp_cloud_read_ply(path, points, n, err, errlen);
    *points = NULL;
    *n = 0;
    set_err(err, errlen,
            "%s: unknown point-cloud extension (expected .bin, .pcd or .ply)",
            path);
    return -1;
}
