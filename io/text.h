/* SPDX-License-Identifier: Apache-2.0 */
/* The tokenizer shared by the text formats in io/ (PCD, PLY). Ranges are
 * [start, end) pointers into a NUL-terminated buffer. */
#ifndef CLSP_IO_TEXT_H
#define CLSP_IO_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_LEN 64 /* longest number token */

typedef struct {
  const char *p, *end;
  size_t lineno; /* line number of the last line returned */
} text_cursor;

/* The next line [*s, *e) without its '\n' or trailing blanks; 0 at the end. */
int io_next_line(text_cursor *c, const char **s, const char **e);
/* The next whitespace-separated token [*ts, *te) in [*p, e); 0 if none. */
int io_next_token(const char **p, const char *e, const char **ts, const char **te);
/* Copies a token into buf (NUL-terminated); -1 if empty or too long. */
int io_token_copy(const char *ts, const char *te, char *buf, size_t len);
/* 1 when the token is exactly word. */
int io_token_eq(const char *ts, const char *te, const char *word);
/* A whole token as a number; -1 when it is not one. */
int io_parse_double(const char *ts, const char *te, double *v);
int io_parse_u64(const char *ts, const char *te, uint64_t *v);

#endif
