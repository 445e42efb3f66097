/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommands of the clsp tool. Each returns the process exit status. */
#ifndef CLSP_TOOL_H
#define CLSP_TOOL_H

#include <stdio.h>
#include "clspconv/clspconv.h"

int clsp_cmd_info(int argc, char **argv);
int clsp_cmd_warmup(int argc, char **argv);
int clsp_cmd_bench(int argc, char **argv);
int clsp_cmd_conv(int argc, char **argv);
int clsp_cmd_run(int argc, char **argv);
int clsp_cmd_pool(int argc, char **argv);
int clsp_cmd_tune(int argc, char **argv);

/* Prints why a context could not be created (for NO_DEVICE: the spec from
 * --device, else CLSP_DEVICE, and where to see the devices). */
void clsp_tool_context_fail(const char *tool, const char *device, clsp_status st);
/* A clsp_log_fn for the commands' contexts: prints the library's notes
 * (first-use compiles, cache fallbacks) on stderr, one line each; errors
 * are printed by the commands themselves. */
void clsp_tool_log_notes(void *user, clsp_log_level level, const char *message);

/* Median of v[0..n) (n >= 1; even n: the mean of the middle two); sorts v. */
double clsp_tool_median(double *v, int n);

/* Monotonic wall clock in milliseconds. */
double clsp_tool_now_ms(void);

/* Parses n comma-separated floats ("X,Y,Z"); 0 ok, 1 malformed. */
int clsp_tool_parse_floats(const char *s, float *out, int n);

/* One Chrome trace complete ("X") event, preceded by a comma unless *first
 * (then cleared); times given in ms, written in microseconds. */
void clsp_tool_trace_event(FILE *f, int *first, const char *name, const char *cat,
                           int tid, double ts_ms, double dur_ms);

/* A document output named on the command line: "-" is stdout, anything
 * else a file created for writing; NULL after perror(path). */
FILE *clsp_tool_open_out(const char *path);
/* Closes what clsp_tool_open_out opened (stdout is flushed, not closed);
 * 0, or 1 when writing failed. */
int clsp_tool_close_out(FILE *f);

/* Writes s as a JSON string literal (quoted, escaped) to f. */
void clsp_tool_json_string(FILE *f, const char *s);

#endif
