/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: argument validation of the conv entry point.
 * Inputs whose first byte is odd are `clsp conv` command lines (tokens
 * split at spaces, newlines and NULs) run through the tool's parser and then
 * the library's host-side geometry check; even ones are raw geometry
 * structs fed to clsp_conv_output_shape directly. Contract: no crash, and
 * any accepted geometry gives the PyTorch output extent computed here in
 * 64-bit arithmetic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_conv.h"
#include "fuzz_common.h"

#define MAX_TOKENS 48

static int64_t expected_extent(clsp_conv_kind kind, const clsp_conv_geometry *g, int a,
                               int64_t n) {
  int64_t ext = (int64_t)g->dilation[a] * (g->kernel[a] - 1);
  if (kind == CLSP_CONV_REGULAR)
    return (n + 2 * (int64_t)g->padding[a] - ext - 1) / g->stride[a] + 1;
  if (kind == CLSP_CONV_TRANSPOSED)
    return (n - 1) * g->stride[a] - 2 * (int64_t)g->padding[a] + ext + 1;
  return n;
}

static void check_shape(clsp_conv_kind kind, int ndim, const clsp_conv_geometry *g,
                        const int32_t *in) {
  int32_t out[CLSP_MAX_DIMS];
  if (clsp_conv_output_shape(kind, ndim, g, in, out) != CLSP_SUCCESS) return;
  for (int a = 0; a < ndim; a++) {
    if (out[a] <= 0 || out[a] != expected_extent(kind, g, a, in[a]))
      fuzz_fail("accepted geometry gives a wrong output extent");
    if (g->kernel[a] < 1 || g->stride[a] < 1 || g->dilation[a] < 1 || g->padding[a] < 0)
      fuzz_fail("accepted a non-positive kernel, stride or dilation");
  }
}

static void fuzz_command_line(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return;
  memcpy(text, data, size);
  text[size] = 0;
  char *argv[MAX_TOKENS + 1] = {"conv"};
  int argc = 1;
  for (char *tok = strtok(text, " \n"); tok && argc < MAX_TOKENS;
       tok = strtok(NULL, " \n"))
    argv[argc++] = tok;
  argv[argc] = NULL;
  conv_args a;
  if (conv_parse_args(argc, argv, &a) == 1 && a.kind != CLSP_CONV_INVERSE)
    check_shape(a.kind, a.ndim, &a.g, a.shape);
  free(text);
}

static void fuzz_raw_geometry(const uint8_t *data, size_t size) {
  struct {
    int32_t kind, ndim;
    int32_t shape[CLSP_MAX_DIMS];
    clsp_conv_geometry g;
  } raw;
  memset(&raw, 0, sizeof raw);
  memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
  check_shape((clsp_conv_kind)raw.kind, raw.ndim, &raw.g, raw.shape);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1)
    fuzz_command_line(data + 1, size - 1);
  else
    fuzz_raw_geometry(data + 1, size - 1);
  return 0;
}
