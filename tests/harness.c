/* SPDX-License-Identifier: Apache-2.0 */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEST_DEVICES 16

static clsp_context *current_ctx;
static char current_spec[64];
static char current_label[300];

clsp_context *harness_ctx(void) { return current_ctx; }
const char *harness_device_spec(void) { return current_spec; }
const char *harness_device_label(void) { return current_label; }

int harness_small(void) {
  const char *s = getenv("CLSP_TEST_SMALL");
  return s && s[0] && strcmp(s, "0") != 0;
}

uint64_t harness_seed(void) {
  const char *s = getenv("CLSP_TEST_SEED");
  return s && s[0] ? strtoull(s, NULL, 0) : 20261125u;
}

void harness_skip_note(const char *test, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("SKIP %s: %s\n", test, msg);
  fflush(stdout);
}

uint64_t harness_next(harness_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t harness_below(harness_rng *r, uint32_t n) {
  return n ? (uint32_t)((harness_next(r) >> 32) % n) : 0;
}

float harness_unit(harness_rng *r) {
  return (float)((double)(harness_next(r) >> 40) / (double)(1ull << 23) - 1.0);
}

/* Device specs to run on: CLSP_TEST_DEVICES entries resolved to "P:D", or
 * every device. */
static int selected_devices(clsp_device_info *out, int cap) {
  const char *env = getenv("CLSP_TEST_DEVICES");
  if (!env || !env[0]) {
    size_t n = 0;
    if (clsp_devices_list(out, (size_t)cap, &n) != CLSP_SUCCESS) return 0;
    return n < (size_t)cap ? (int)n : cap;
  }
  int n = 0;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", env);
  for (char *tok = strtok(buf, ",;"); tok && n < cap; tok = strtok(NULL, ",;")) {
    if (clsp_device_select(tok, &out[n]) == CLSP_SUCCESS)
      n++;
    else
      printf("SKIP devices: CLSP_TEST_DEVICES entry '%s' matches no device\n", tok);
  }
  return n;
}

static int run_on_device(const char *suite, const clsp_device_info *d,
                         const struct CMUnitTest *tests, size_t n) {
  snprintf(current_spec, sizeof current_spec, "%u:%u", d->platform_index,
           d->device_index);
  snprintf(current_label, sizeof current_label, "%s [%s]", d->caps.device_name,
           current_spec);
  clsp_context_options opts = {0};
  opts.device = current_spec;
  opts.flags = CLSP_CONTEXT_PROFILING;
  clsp_status st = clsp_context_create(&opts, &current_ctx);
  if (st != CLSP_SUCCESS) {
    printf("[  FAILED  ] 1 test(s): context on %s: %s\n", current_label,
           clsp_status_string(st));
    return 1;
  }
  char group[400];
  snprintf(group, sizeof group, "%s on %s", suite, current_label);
  int failures = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
  clsp_context_destroy(current_ctx);
  current_ctx = NULL;
  return failures;
}

int harness_run(const char *suite, const struct CMUnitTest *tests, size_t n,
                int per_device) {
  printf("%s: seed %llu (set CLSP_TEST_SEED to change)\n", suite,
         (unsigned long long)harness_seed());
  if (!per_device) return _cmocka_run_group_tests(suite, tests, n, NULL, NULL) ? 1 : 0;
  clsp_device_info devs[MAX_TEST_DEVICES];
  int nd = selected_devices(devs, MAX_TEST_DEVICES);
  if (nd == 0) {
    printf("SKIP %s: no OpenCL device selected\n", suite);
    return 77;
  }
  int failures = 0;
  for (int i = 0; i < nd; i++) failures += run_on_device(suite, &devs[i], tests, n);
  return failures ? 1 : 0;
}
