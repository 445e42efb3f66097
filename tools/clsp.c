/* SPDX-License-Identifier: Apache-2.0 */
/* clsp: the clspconv command-line tool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clsp.h"
#include "clspconv/clspconv.h"

double clsp_tool_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double clsp_tool_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void clsp_tool_log_notes(void *user, clsp_log_level level, const char *message) {
  (void)user;
  if (level == CLSP_LOG_WARNING || level == CLSP_LOG_INFO)
    fprintf(stderr, "clsp: %s\n", message);
}

void clsp_tool_context_fail(const char *tool, const char *device, clsp_status st) {
  const char *spec = device ? device : getenv("CLSP_DEVICE");
  if (st == CLSP_ERROR_NO_DEVICE)
    fprintf(stderr,
            "%s: no OpenCL device matches %s'%s'; 'clsp info' lists the devices\n", tool,
            device ? "--device " : "CLSP_DEVICE=", spec ? spec : "(default rule)");
  else
    fprintf(stderr, "%s: no OpenCL context: %s (%d)\n", tool, clsp_status_string(st), st);
}

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
  {"info", clsp_cmd_info, "list OpenCL platforms, devices and capabilities"},
  {"warmup", clsp_cmd_warmup, "build or load every kernel program, timed"},
  {"conv", clsp_cmd_conv, "run one sparse convolution layer from .npy files"},
  {"pool", clsp_cmd_pool, "sparse max/avg pooling (and its backward) from .npy files"},
  {"bench", clsp_cmd_bench, "voxelize a point cloud and time a network per layer"},
  {"tune", clsp_cmd_tune, "measure tile and dataflow candidates, store the best"},
  {"run", clsp_cmd_run, "run a trained network from its SCN ONNX file"},
};

static void usage(FILE *f) {
  fprintf(f, "clsp %s: sparse convolution on OpenCL\n\nusage: clsp COMMAND [options]\n\n",
          CLSP_VERSION_STRING);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\n'clsp COMMAND --help' describes a command's options.\n"
          "CLSP_DEVICE=P:D or a name substring picks the device.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("clsp %s\n", CLSP_VERSION_STRING);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "clsp: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
