/* SPDX-License-Identifier: Apache-2.0 */
/* clsp-matrix (build/tests/clsp-matrix): the device test matrix of CI.
 * Runs every test suite of build/tests/suites.list once per device
 * configuration (PoCL pthread, PoCL basic, Mesa llvmpipe, oclgrind) in a
 * child process with that configuration's environment, and prints a
 * device x suite table. Exit status 0 when all passed, 1 on any failure
 * (or an absent device with --require-all), 2 on a usage error. A test
 * tool, not installed: the device list is CI's. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "clspconv/clspconv.h"

#define MAX_SUITES 32
#define MAX_REASONS 64
#define SKIP_EXIT 77

typedef struct device_config {
  const char *name;
  const char *env[5];      /* NAME=VALUE settings, NULL-terminated */
  int oclgrind;            /* run under oclgrind, fail on any report */
  const char *absent_hint; /* why it may be missing */
} device_config;

static const device_config configs[] = {
  {"pocl-pthread",
   {"POCL_DEVICES=pthread", "CLSP_DEVICE=pthread", "CLSP_TEST_DEVICES=pthread", NULL},
   0,
   "needs pocl-opencl-icd"},
  {"pocl-basic",
   {"POCL_DEVICES=basic", "CLSP_DEVICE=basic", "CLSP_TEST_DEVICES=basic", NULL},
   0,
   "needs pocl-opencl-icd"},
  {"llvmpipe",
   {"RUSTICL_ENABLE=llvmpipe", "CLSP_DEVICE=llvmpipe", "CLSP_TEST_DEVICES=llvmpipe",
    "CLSP_TEST_SMALL=1"},
   0,
   "needs mesa-opencl-icd (rusticl)"},
  {"oclgrind",
   {"CLSP_DEVICE=oclgrind", "CLSP_TEST_DEVICES=oclgrind", "CLSP_TEST_SMALL=1", NULL},
   1,
   "needs the oclgrind package"},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

typedef struct suite {
  char name[64];
  char kind[16]; /* "device" runs per device, "host" once */
  char path[PATH_MAX];
} suite;

typedef struct cell {
  int ran, passed, failed, skipped, crashed, timed_out, oclgrind_errors;
} cell;

typedef struct matrix_opts {
  char build_dir[PATH_MAX];
  const char *devices; /* comma list of config names, NULL = all */
  const char *suites;  /* comma list of suite names, NULL = all */
  int timeout_s;
  int require_all;
  int verbose;
} matrix_opts;

static char reasons[MAX_REASONS][1400];
static int n_reasons;

static void add_reason(const char *fmt, const char *a, const char *b, const char *c) {
  if (n_reasons == MAX_REASONS) return;
  char buf[1400];
  snprintf(buf, sizeof buf, fmt, a, b, c);
  for (int i = 0; i < n_reasons; i++)
    if (!strcmp(reasons[i], buf)) return;
  snprintf(reasons[n_reasons++], sizeof reasons[0], "%s", buf);
}

static int in_list(const char *list, const char *name) {
  if (!list) return 1;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && !strncmp(p, name, n)) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

static void default_build_dir(char *buf, size_t cap) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  snprintf(buf, cap, "build");
  if (n <= 0) return;
  exe[n] = 0;
  char *slash = strrchr(exe, '/'); /* .../build/tests/clsp-matrix -> .../build */
  if (slash) *slash = 0;
  slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  snprintf(buf, cap, "%s", exe);
}

static int load_suites(const matrix_opts *o, suite *s, int *n) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/tests/suites.list", o->build_dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr,
            "clsp-matrix: %s not found (build the tests first, or pass "
            "--build-dir)\n",
            path);
    return 0;
  }
  *n = 0;
  char line[PATH_MAX + 128];
  while (*n < MAX_SUITES && fgets(line, sizeof line, f)) {
    suite *x = &s[*n];
    if (sscanf(line, "%63s %15s %4095s", x->name, x->kind, x->path) == 3 &&
        in_list(o->suites, x->name))
      (*n)++;
  }
  fclose(f);
  return 1;
}

static void set_env_pair(const char *pair) {
  char name[128];
  size_t n = strcspn(pair, "=");
  snprintf(name, sizeof name, "%.*s", (int)n, pair);
  setenv(name, pair[n] ? pair + n + 1 : "", 1);
}

/* Runs argv with env settings, output to log; returns the wait status or
 * -1 after a time-out kill. */
static int run_child(char *const *argv, const char *const *env, const char *log,
                     int timeout_s) {
  pid_t pid = fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    for (int i = 0; env[i]; i++) set_env_pair(env[i]);
    FILE *f = freopen(log, "w", stdout);
    if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status = 0;
  time_t start = time(NULL);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -2;
    if (time(NULL) - start > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Sums cmocka's summary lines and collects our "SKIP name: reason" lines. */
static void parse_log(const char *log, const char *device, cell *c) {
  FILE *f = fopen(log, "r");
  if (!f) return;
  char line[1024];
  int v, w;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "[  PASSED  ] %d test", &v) == 1)
      c->passed += v;
    else if (sscanf(line, "[  FAILED  ] %d test", &v) == 1)
      c->failed += v;
    else if (sscanf(line, "[  SKIPPED ] %d test", &v) == 1)
      c->skipped += v;
    else if (sscanf(line, "%*[^:]: %d passed, %d failed", &v, &w) == 2) {
      c->passed += v;
      c->failed += w;
    } else if (!strncmp(line, "SKIP ", 5)) {
      line[strcspn(line, "\n")] = 0;
      add_reason("%s: %s%s", device, line + 5, "");
    }
  }
  fclose(f);
}

/* Whether a test log holds an oclgrind report: a kernel diagnostic (its
 * "\tKernel: " line) or an API error ("Oclgrind - ..." and its "\tError:"
 * line). A failed clBuildProgram is not counted: the core suite provokes
 * one on purpose, and a real one fails the test that builds. Reports go to
 * the test's stderr, not to `oclgrind --log FILE`, which reopens
 * (truncates) the file for every cl_context and so loses the reports of
 * earlier tests in the same process. */
static int has_oclgrind_report(const char *log) {
  FILE *f = fopen(log, "r");
  if (!f) return 0;
  char line[1024];
  int found = 0, in_api = 0;
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, "Oclgrind - ", 11) == 0)
      in_api = 1;
    else if (in_api && strncmp(line, "\tError:", 7) == 0)
      found = !strstr(line, "CL_BUILD_PROGRAM_FAILURE"), in_api = 0;
    else
      found = strncmp(line, "\tKernel: ", 9) == 0;
  }
  fclose(f);
  return found;
}

static int device_present(const device_config *d) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 0;
  self[n] = 0;
  char *plain[] = {self, "--probe", NULL};
  char *grind[] = {"oclgrind", self, "--probe", NULL};
  int st = run_child(d->oclgrind ? grind : plain, d->env, "/dev/null", 60);
  return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void run_cell(const matrix_opts *o, const device_config *d, const suite *s,
                     cell *c) {
  char log[PATH_MAX + 200];
  snprintf(log, sizeof log, "%s/matrix/%s.%s.log", o->build_dir, d->name, s->name);
  char *plain[] = {(char *)s->path, NULL};
  /* No --uninitialized: oclgrind 21.10 marks a reused buffer's memory
   * uninitialised even after a kernel wrote it (docs/oclgrind-fillbuffer.md),
   * which floods the rulebook's hash kernels with false reports.
   * Out-of-bounds accesses are checked in every mode. */
  char *grind[] = {"oclgrind", "--data-races", "--check-api", (char *)s->path, NULL};
  int st = run_child(d->oclgrind ? grind : plain, d->env, log, o->timeout_s);
  c->ran = 1;
  parse_log(log, d->name, c);
  if (st == -1)
    c->timed_out = 1;
  else if (st < 0 || !WIFEXITED(st))
    c->crashed = 1;
  else if (WEXITSTATUS(st) == SKIP_EXIT && c->passed + c->failed == 0)
    c->skipped += 1;
  else if (WEXITSTATUS(st) != 0 && c->failed == 0)
    c->crashed = 1;
  if (d->oclgrind && has_oclgrind_report(log)) c->oclgrind_errors = 1;
  if (o->verbose || c->failed || c->crashed || c->timed_out || c->oclgrind_errors)
    fprintf(stderr, "  %s on %s: log %s%s\n", s->name, d->name, log,
            c->oclgrind_errors ? " (holds an oclgrind report)" : "");
}

static int cell_failed(const cell *c) {
  return c->failed || c->crashed || c->timed_out || c->oclgrind_errors;
}

static void format_cell(const cell *c, char *buf, size_t cap) {
  if (!c->ran)
    snprintf(buf, cap, "-");
  else if (c->timed_out)
    snprintf(buf, cap, "TIMEOUT");
  else if (c->oclgrind_errors)
    snprintf(buf, cap, "OCLGRIND ERR");
  else if (c->crashed)
    snprintf(buf, cap, "CRASH");
  else if (c->failed)
    snprintf(buf, cap, "%d FAILED", c->failed);
  else if (c->skipped)
    snprintf(buf, cap, "%d ok %d skip", c->passed, c->skipped);
  else
    snprintf(buf, cap, "%d ok", c->passed);
}

static void print_table(const suite *s, int ns, cell cells[][MAX_SUITES],
                        const int *present, const char *devices) {
  printf("\n%-14s", "device");
  for (int j = 0; j < ns; j++) printf(" | %-14s", s[j].name);
  printf("\n%-14s", "--------------");
  for (int j = 0; j < ns; j++) printf("-|-%-14s", "--------------");
  printf("\n");
  for (size_t i = 0; i < N_CONFIGS; i++) {
    if (!in_list(devices, configs[i].name)) continue;
    printf("%-14s", configs[i].name);
    for (int j = 0; j < ns; j++) {
      char buf[32];
      if (!present[i])
        snprintf(buf, sizeof buf, "absent");
      else
        format_cell(&cells[i][j], buf, sizeof buf);
      printf(" | %-14s", buf);
    }
    printf("\n");
  }
}

static int parse_args(int argc, char **argv, matrix_opts *o) {
  default_build_dir(o->build_dir, sizeof o->build_dir);
  o->timeout_s = 1200;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--build-dir") && v)
      snprintf(o->build_dir, sizeof o->build_dir, "%s", argv[++i]);
    else if (!strcmp(a, "--devices") && v)
      o->devices = argv[++i];
    else if (!strcmp(a, "--suites") && v)
      o->suites = argv[++i];
    else if (!strcmp(a, "--timeout") && v)
      o->timeout_s = atoi(argv[++i]);
    else if (!strcmp(a, "--require-all"))
      o->require_all = 1;
    else if (!strcmp(a, "--verbose"))
      o->verbose = 1;
    else {
      fprintf(!strcmp(a, "--help") ? stdout : stderr,
              "usage: clsp-matrix [--build-dir DIR] [--devices LIST] [--suites LIST]\n"
              "                   [--timeout SECONDS] [--require-all] [--verbose]\n"
              "  devices: pocl-pthread,pocl-basic,llvmpipe,oclgrind (default: all)\n"
              "  --require-all: an absent device is a failure, not a skip\n");
      return !strcmp(a, "--help") ? 0 : 2;
    }
  }
  if (o->timeout_s <= 0) {
    fprintf(stderr, "clsp-matrix: --timeout must be positive\n");
    return 2;
  }
  return -1;
}

static int host_suite_done(const suite *s, cell cells[][MAX_SUITES], int j) {
  if (strcmp(s->kind, "host") != 0) return 0;
  for (size_t i = 0; i < N_CONFIGS; i++)
    if (cells[i][j].ran) return 1;
  return 0;
}

/* --probe: exit 0 when the device CLSP_DEVICE names is present (run in the
 * configuration's environment, under oclgrind for the oclgrind cell). */
static int probe_device(void) {
  clsp_device_info sel;
  return clsp_device_select(getenv("CLSP_DEVICE"), &sel) == CLSP_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--probe")) return probe_device();
  matrix_opts o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  suite suites[MAX_SUITES];
  int ns = 0;
  if (!load_suites(&o, suites, &ns)) return 1;
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/matrix", o.build_dir);
  mkdir(dir, 0755);
  static cell cells[N_CONFIGS][MAX_SUITES];
  int present[N_CONFIGS] = {0};
  int passed = 0, failed = 0, skipped = 0;
  for (size_t i = 0; i < N_CONFIGS; i++) {
    const device_config *d = &configs[i];
    if (!in_list(o.devices, d->name)) continue;
    present[i] = device_present(d);
    fprintf(stderr, "clsp-matrix: %s: %s\n", d->name, present[i] ? "running" : "absent");
    if (!present[i]) {
      add_reason("%s: device absent (%s)%s", d->name, d->absent_hint, "");
      if (o.require_all)
        failed++;
      else
        skipped++;
      continue;
    }
    for (int j = 0; j < ns; j++) {
      if (host_suite_done(&suites[j], cells, j)) continue;
      cell *c = &cells[i][j];
      run_cell(&o, d, &suites[j], c);
      passed += c->passed;
      skipped += c->skipped;
      failed += c->failed + (cell_failed(c) && !c->failed);
    }
  }
  print_table(suites, ns, cells, present, o.devices);
  if (n_reasons) printf("\nskips and absences:\n");
  for (int i = 0; i < n_reasons; i++) printf("  %s\n", reasons[i]);
  printf("\nmatrix: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
