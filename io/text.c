/* SPDX-License-Identifier: Apache-2.0 */
/* The tokenizer shared by the text formats (PCD and PLY headers, ASCII
 * data): lines, whitespace-separated tokens, numbers. */
#include "io/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Returns the next line [*s, *e) without its '\n' or trailing blanks. */
int io_next_line(text_cursor *c, const char **s, const char **e) {
  if (c->p >= c->end) return 0;
  const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
  const char *stop = nl ? nl : c->end;
  *s = c->p;
  *e = stop;
  while (*e > *s && ((*e)[-1] == '\r' || (*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
  c->p = nl ? nl + 1 : c->end;
  c->lineno++;
  return 1;
}

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* Finds the next whitespace-separated token in [*p, e). */
int io_next_token(const char **p, const char *e, const char **ts, const char **te) {
  const char *q = *p;
  while (q < e && is_blank(*q)) q++;
  if (q >= e) return 0;
  *ts = q;
  while (q < e && !is_blank(*q)) q++;
  *te = q;
  *p = q;
  return 1;
}

int io_token_copy(const char *ts, const char *te, char *buf, size_t len) {
  size_t n = (size_t)(te - ts);
  if (n == 0 || n >= len) return -1;
  memcpy(buf, ts, n);
  buf[n] = '\0';
  return 0;
}

int io_token_eq(const char *ts, const char *te, const char *word) {
  size_t n = strlen(word);
  return (size_t)(te - ts) == n && memcmp(ts, word, n) == 0;
}

int io_parse_double(const char *ts, const char *te, double *v) {
  char buf[TOKEN_LEN], *end;
  if (io_token_copy(ts, te, buf, sizeof buf)) return -1;
  *v = strtod(buf, &end);
  return *end == '\0' ? 0 : -1;
}

int io_parse_u64(const char *ts, const char *te, uint64_t *v) {
  char buf[TOKEN_LEN], *end;
  if (io_token_copy(ts, te, buf, sizeof buf) || buf[0] < '0' || buf[0] > '9') return -1;
  errno = 0;
  unsigned long long x = strtoull(buf, &end, 10);
  if (*end != '\0' || errno == ERANGE) return -1;
  *v = x;
  return 0;
}
