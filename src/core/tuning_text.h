/* SPDX-License-Identifier: Apache-2.0 */
/* The tuning file's text format (tuning_text.c): parse, check and write a
 * clsp_tuning_params record. Pure functions on memory, no OpenCL calls, so
 * the fuzz target links tuning_text.c alone. Not installed. */
#ifndef CLSP_CORE_TUNING_TEXT_H
#define CLSP_CORE_TUNING_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"

/* Version of the format; a file with another "format = N" is ignored. */
#define CLSP_TUNING_FORMAT 1
/* Files larger than this, or with longer lines, are rejected unread. */
#define CLSP_TUNING_FILE_MAX 8192
#define CLSP_TUNING_LINE_MAX 256

/* What a record is valid for: a file written for another key is foreign.
 * Values are compared after the same sanitising the writer applies
 * (control characters to '?', outer blanks trimmed). */
typedef struct clsp__tuning_key {
  const char *library, *platform, *platform_version, *device, *driver;
} clsp__tuning_key;

/* 0 when every field of *p has an allowed value (local_size at most
 * max_local); else -1 and a message naming the field and the value. */
int clsp__tuning_check(const clsp_tuning_params *p, uint32_t max_local, char *why,
                       size_t cap);

/* Parses a tuning file of len bytes (not NUL-terminated). On success
 * (0) the fields present replace those of *inout and the result passed
 * clsp__tuning_check. On any problem (-1) *inout is untouched and `why`
 * says what: too large, a long line, a control character, no or another
 * format line, an unknown or repeated field, a number outside its set, a
 * key line missing or for another device/driver/platform/library. */
int clsp__tuning_parse(const char *text, size_t len, const clsp__tuning_key *key,
                       uint32_t max_local, clsp_tuning_params *inout, char *why,
                       size_t cap);

/* Writes the file text for (key, p) to buf; returns its length, or 0 if
 * cap is too small. */
size_t clsp__tuning_format(const clsp__tuning_key *key, const clsp_tuning_params *p,
                           char *buf, size_t cap);

#endif
