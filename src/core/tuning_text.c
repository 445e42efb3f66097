/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning file: "name = value" lines, '#' comments, written by
 * clsp_tuning_save. Example:
 *   format = 1
 *   library = 0.9.0
 *   platform = Portable Computing Language
 *   platform_version = OpenCL 3.0 PoCL 3.1 ...
 *   device = cpu-haswell-...
 *   driver = 3.1
 *   fused_default = 1
 *   fused_vec = 16
 *   fused_blocks = 4
 *   fused_ksplit = 1
 *   fused_rows = 128           (optional: the default stays without it)
 *   fused_groups = 0           (optional, likewise)
 *   fused_local = 4            (optional, likewise)
 *   local_size = 64
 *   dataflow.16.32 = fused      (Cin <= 16, Cout in 17..32; 64, more)
 * Everything read is checked against its allowed set; any problem rejects
 * the whole file (see tuning_text.h). */
#include "tuning_text.h"
#include <stdio.h>
#include <string.h>

static const char *const bucket_names[CLSP_TUNING_BUCKETS] = {"16", "32", "64", "more"};
static const char *const dataflow_names[3] = {"default", "fused", "gemm"};

/* Fields by bit in the parser's "seen" mask; dataflow entries follow. */
enum {
  F_FORMAT,
  F_LIBRARY,
  F_PLATFORM,
  F_PLATFORM_VERSION,
  F_DEVICE,
  F_DRIVER,
  F_FUSED_DEFAULT,
  F_VEC,
  F_BLOCKS,
  F_KSPLIT,
  F_LOCAL,
  F_ROWS,
  F_GROUPS,
  F_FUSED_LOCAL,
  F_DATAFLOW0,
};
static const char *const field_names[F_DATAFLOW0] = {"format",        "library",
                                                     "platform",      "platform_version",
                                                     "device",        "driver",
                                                     "fused_default", "fused_vec",
                                                     "fused_blocks",  "fused_ksplit",
                                                     "local_size",    "fused_rows",
                                                     "fused_groups",  "fused_local"};
#define KEY_FIELDS                                                                       \
  ((1u << F_FORMAT) | (1u << F_LIBRARY) | (1u << F_PLATFORM) |                           \
   (1u << F_PLATFORM_VERSION) | (1u << F_DEVICE) | (1u << F_DRIVER))

int clsp__tuning_check(const clsp_tuning_params *p, uint32_t max_local, char *why,
                       size_t cap) {
  uint32_t v = p->fused_vec, l = p->local_size;
  if (p->fused_default != 0 && p->fused_default != 1)
    snprintf(why, cap, "fused_default: %d (allowed: 0, 1)", p->fused_default);
  else if (v != 16 && v != 8 && v != 4 && v != 1)
    snprintf(why, cap, "fused_vec: %u (allowed: 16, 8, 4, 1)", v);
  else if (p->fused_blocks < 1 || p->fused_blocks > 4)
    snprintf(why, cap, "fused_blocks: %u (allowed: 1..4)", p->fused_blocks);
  else if (v != 16 && p->fused_blocks != 1)
    snprintf(why, cap, "fused_blocks: %u (must be 1 when fused_vec is %u)",
             p->fused_blocks, v);
  else if (p->fused_ksplit != 1 && p->fused_ksplit != 2)
    snprintf(why, cap, "fused_ksplit: %u (allowed: 1, 2)", p->fused_ksplit);
  else if (p->fused_rows < 1 || p->fused_rows > CLSP_TUNING_ROWS_MAX)
    snprintf(why, cap, "fused_rows: %u (allowed: 1..%d)", p->fused_rows,
             CLSP_TUNING_ROWS_MAX);
  else if (p->fused_groups > 1)
    snprintf(why, cap, "fused_groups: %u (allowed: 0, 1)", p->fused_groups);
  else if (l < 1 || l > max_local || (l & (l - 1)) != 0)
    snprintf(why, cap, "local_size: %u (allowed: a power of two in 1..%u)", l, max_local);
  else if (p->fused_local > max_local || (p->fused_local & (p->fused_local - 1)) != 0)
    snprintf(why, cap, "fused_local: %u (allowed: 0 = default, a power of two in 1..%u)",
             p->fused_local, max_local);
  else {
    for (int i = 0; i < CLSP_TUNING_BUCKETS * CLSP_TUNING_BUCKETS; i++) {
      unsigned d = p->dataflow[i / CLSP_TUNING_BUCKETS][i % CLSP_TUNING_BUCKETS];
      if (d > CLSP_TUNED_GEMM) {
        snprintf(why, cap, "dataflow[%d][%d]: %u (allowed: 0 default, 1 fused, 2 gemm)",
                 i / CLSP_TUNING_BUCKETS, i % CLSP_TUNING_BUCKETS, d);
        return -1;
      }
    }
    return 0;
  }
  return -1;
}

/* A key value as written: control characters replaced, outer blanks
 * trimmed, at most CLSP_TUNING_LINE_MAX / 2 characters. */
static void sanitise(const char *s, char *out, size_t cap) {
  size_t n = 0;
  while (*s == ' ' || *s == '\t') s++;
  for (; *s && n + 1 < cap && n < CLSP_TUNING_LINE_MAX / 2; s++)
    out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
  while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t')) n--;
  out[n] = 0;
}

static const char *key_value(const clsp__tuning_key *k, int field) {
  switch (field) {
    case F_LIBRARY: return k->library;
    case F_PLATFORM: return k->platform;
    case F_PLATFORM_VERSION: return k->platform_version;
    case F_DEVICE: return k->device;
    default: return k->driver;
  }
}

/* Strict decimal in [lo, hi], at most 7 digits. */
static int parse_uint(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
  uint32_t v = 0;
  size_t n = strlen(s);
  if (n == 0 || n > 7) return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (uint32_t)(s[i] - '0');
  }
  if (v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int find_name(const char *const *names, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], s)) return i;
  return -1;
}

/* "dataflow.IN.OUT": the field bit, or -1. */
static int dataflow_field(const char *name) {
  char in[8], out[8], extra;
  if (strncmp(name, "dataflow.", 9) != 0 || strlen(name) > 24) return -1;
  if (sscanf(name + 9, "%7[^.].%7[^.]%c", in, out, &extra) != 2) return -1;
  int i = find_name(bucket_names, CLSP_TUNING_BUCKETS, in);
  int o = find_name(bucket_names, CLSP_TUNING_BUCKETS, out);
  return i < 0 || o < 0 ? -1 : F_DATAFLOW0 + i * CLSP_TUNING_BUCKETS + o;
}

/* Applies one field; 0, or -1 with a message. */
static int set_field(int f, const char *value, const clsp__tuning_key *key,
                     clsp_tuning_params *p, char *why, size_t cap) {
  char want[CLSP_TUNING_LINE_MAX];
  uint32_t u = 0;
  if (f == F_FORMAT) {
    if (parse_uint(value, CLSP_TUNING_FORMAT, CLSP_TUNING_FORMAT, &u) == 0) return 0;
    snprintf(why, cap, "format: '%.40s' (this library reads format %d)", value,
             CLSP_TUNING_FORMAT);
    return -1;
  }
  if (f < F_FUSED_DEFAULT) {
    sanitise(key_value(key, f), want, sizeof want);
    if (!strcmp(value, want)) return 0;
    snprintf(why, cap, "written for another %s ('%.60s', this one: '%.60s')",
             field_names[f], value, want);
    return -1;
  }
  if (f >= F_DATAFLOW0) {
    int d = find_name(dataflow_names, 3, value);
    if (d >= 0) {
      int i = f - F_DATAFLOW0;
      p->dataflow[i / CLSP_TUNING_BUCKETS][i % CLSP_TUNING_BUCKETS] = (uint8_t)d;
      return 0;
    }
    snprintf(why, cap, "dataflow: '%.40s' (allowed: default, fused, gemm)", value);
    return -1;
  }
  static const uint32_t hi[] = {1, 16, 4, 2, 1u << 20, CLSP_TUNING_ROWS_MAX, 1, 1u << 20};
  if (parse_uint(value, 0, hi[f - F_FUSED_DEFAULT], &u) != 0) {
    snprintf(why, cap, "%s: '%.40s' (not a number in 0..%u)", field_names[f], value,
             hi[f - F_FUSED_DEFAULT]);
    return -1;
  }
  if (f == F_FUSED_DEFAULT) p->fused_default = (int)u;
  if (f == F_VEC) p->fused_vec = u;
  if (f == F_BLOCKS) p->fused_blocks = u;
  if (f == F_KSPLIT) p->fused_ksplit = u;
  if (f == F_LOCAL) p->local_size = u;
  if (f == F_ROWS) p->fused_rows = u;
  if (f == F_GROUPS) p->fused_groups = u;
  if (f == F_FUSED_LOCAL) p->fused_local = u;
  return 0;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
  return s;
}

/* One line (NUL-terminated copy); *seen collects the fields read. */
static int parse_line(char *line, int line_no, const clsp__tuning_key *key,
                      clsp_tuning_params *p, uint32_t *seen, char *why, size_t cap) {
  char *s = trim(line), *eq = strchr(s, '=');
  if (*s == 0 || *s == '#') return 0;
  if (!eq) {
    snprintf(why, cap, "line %d: no '=' in '%.40s'", line_no, s);
    return -1;
  }
  *eq = 0;
  char *name = trim(s), *value = trim(eq + 1);
  int f = find_name(field_names, F_DATAFLOW0, name);
  if (f < 0) f = dataflow_field(name);
  if (f < 0 || (*seen == 0 && f != F_FORMAT)) {
    snprintf(why, cap, "line %d: %s '%.40s'", line_no,
             f < 0 ? "unknown field" : "expected 'format = N' first, got", name);
    return -1;
  }
  if (*seen & (1u << f)) {
    snprintf(why, cap, "line %d: %s given twice", line_no, name);
    return -1;
  }
  *seen |= 1u << f;
  return set_field(f, value, key, p, why, cap);
}

/* Copies line [b, e) of text into buf, checking length and characters. */
static int copy_line(const char *b, const char *e, int line_no, char *buf, char *why,
                     size_t cap) {
  if (e > b && e[-1] == '\r') e--;
  if (e - b > CLSP_TUNING_LINE_MAX) {
    snprintf(why, cap, "line %d longer than %d characters", line_no,
             CLSP_TUNING_LINE_MAX);
    return -1;
  }
  for (const char *c = b; c < e; c++)
    if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
      snprintf(why, cap, "line %d: control character 0x%02x", line_no,
               (unsigned)(unsigned char)*c);
      return -1;
    }
  memcpy(buf, b, (size_t)(e - b));
  buf[e - b] = 0;
  return 0;
}

int clsp__tuning_parse(const char *text, size_t len, const clsp__tuning_key *key,
                       uint32_t max_local, clsp_tuning_params *inout, char *why,
                       size_t cap) {
  if (len > CLSP_TUNING_FILE_MAX) {
    snprintf(why, cap, "larger than %d bytes", CLSP_TUNING_FILE_MAX);
    return -1;
  }
  clsp_tuning_params p = *inout;
  uint32_t seen = 0;
  char line[CLSP_TUNING_LINE_MAX + 1];
  const char *end = text + len;
  int line_no = 0;
  for (const char *b = text; b < end;) {
    const char *e = memchr(b, '\n', (size_t)(end - b));
    if (!e) e = end;
    line_no++;
    if (copy_line(b, e, line_no, line, why, cap) != 0 ||
        parse_line(line, line_no, key, &p, &seen, why, cap) != 0)
      return -1;
    b = e + 1;
  }
  if ((seen & KEY_FIELDS) != KEY_FIELDS) {
    int f = 0;
    while (seen & (1u << f)) f++;
    snprintf(why, cap, "no '%s' line (truncated or not a tuning file)", field_names[f]);
    return -1;
  }
  if (clsp__tuning_check(&p, max_local, why, cap) != 0) return -1;
  *inout = p;
  return 0;
}

size_t clsp__tuning_format(const clsp__tuning_key *key, const clsp_tuning_params *p,
                           char *buf, size_t cap) {
  char v[5][CLSP_TUNING_LINE_MAX];
  for (int f = F_LIBRARY; f <= F_DRIVER; f++)
    sanitise(key_value(key, f), v[f - F_LIBRARY], sizeof v[0]);
  int n = snprintf(buf, cap,
                   "# clspconv tuning record, written by clsp_tuning_save (clsp tune).\n"
                   "# Used only by this library version on this device and driver;\n"
                   "# delete the file to return to the defaults.\n"
                   "format = %d\nlibrary = %s\nplatform = %s\nplatform_version = %s\n"
                   "device = %s\ndriver = %s\nfused_default = %d\nfused_vec = %u\n"
                   "fused_blocks = %u\nfused_ksplit = %u\nfused_rows = %u\n"
                   "fused_groups = %u\nfused_local = %u\nlocal_size = %u\n",
                   CLSP_TUNING_FORMAT, v[0], v[1], v[2], v[3], v[4], p->fused_default,
                   p->fused_vec, p->fused_blocks, p->fused_ksplit, p->fused_rows,
                   p->fused_groups, p->fused_local, p->local_size);
  size_t len = n < 0 ? cap : (size_t)n;
  for (int i = 0; len < cap && i < CLSP_TUNING_BUCKETS * CLSP_TUNING_BUCKETS; i++) {
    unsigned d = p->dataflow[i / CLSP_TUNING_BUCKETS][i % CLSP_TUNING_BUCKETS];
    if (d == CLSP_TUNED_DEFAULT || d > CLSP_TUNED_GEMM) continue;
    n = snprintf(buf + len, cap - len, "dataflow.%s.%s = %s\n",
                 bucket_names[i / CLSP_TUNING_BUCKETS],
                 bucket_names[i % CLSP_TUNING_BUCKETS], dataflow_names[d]);
    len = n < 0 ? cap : len + (size_t)n;
  }
  return len < cap ? len : 0;
}
