/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the suites that run the clsp binary (test_cli.c: host;
 * test_cli_device.c: on each matrix device): a temporary folder, running
 * clsp, and writing .npy inputs. */
#ifndef CLSP_TESTS_CLI_UTIL_H
#define CLSP_TESTS_CLI_UTIL_H

#include <stddef.h>
#include "io/npy.h"

extern char tmpdir[256];
/* cmocka group setup and teardown: make and remove tmpdir. */
int setup(void);
int teardown(void);
/* tmpdir/name (eight rotating buffers). */
const char *path(const char *name);
/* The text of tmpdir/name ("" when absent). */
void read_text(const char *name, char *buf, size_t cap);
/* Runs `ENV clsp ARGS` (env: "" or NAME=VALUE settings), stdout to
 * out.txt and stderr to err.txt; returns the exit status (1000 + n: signal
 * n), `log` gets stderr then stdout. */
int run_clsp_env(const char *env, const char *args, char *log, size_t cap);
int run_clsp(const char *args, char *log, size_t cap);
void write_npy(const char *name, clsp_npy_dtype dt, int rank, size_t rows, size_t cols,
               const void *data);
/* A .npy of any dtype and shape ("(2, 3)"), bytes of data as given. */
void write_npy_raw(const char *name, const char *descr, const char *shape,
                   const void *data, size_t bytes);
void write_npy3(const char *name, size_t a, size_t b, size_t c, const float *data);
void write_bytes(const char *name, const char *data, size_t n);
/* Valid inputs: 4 sites in an 8^3 grid, 2 -> 3 channels, 3^3 kernel. */
void write_valid_inputs(void);
/* The base subm command line with `extra` appended; `skip` drops one
 * option (and its value) from the base. */
const char *conv_args(const char *skip, const char *extra);
/* The base subm layer on other --coords and --feats files, plus `extra`. */
const char *conv_on(const char *coords, const char *feats, const char *extra);
/* The data of tmpdir/name, which must have dtype dt; rows and columns
 * (1 for rank 1). The caller frees. */
void *read_npy_data(const char *name, clsp_npy_dtype dt, size_t *rows, size_t *cols);

#endif
