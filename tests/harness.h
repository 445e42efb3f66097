/* SPDX-License-Identifier: Apache-2.0 */
/* Test harness: runs a cmocka suite once per OpenCL device of the matrix.
 * CLSP_TEST_DEVICES (comma-separated device specs) limits the devices;
 * CLSP_TEST_SMALL=1 asks suites for small sizes (simulators, llvmpipe);
 * CLSP_TEST_SEED overrides the random seed. */
#ifndef CLSP_TEST_HARNESS_H
#define CLSP_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "clspconv/clspconv.h"

/* The context of the device the suite runs on now (profiling queue). */
clsp_context *harness_ctx(void);
/* The device spec ("P:D") and a readable label of the current device. */
const char *harness_device_spec(void);
const char *harness_device_label(void);
/* Whether small sizes were asked for. */
int harness_small(void);
/* The suite's base seed; every random test derives its own from it and
 * prints it on failure. */
uint64_t harness_seed(void);
/* Prints "SKIP <test>: <reason>" (collected by tests/matrix.c) and skips. */
#define HARNESS_SKIP(...)                                                                \
  do {                                                                                   \
    harness_skip_note(__func__, __VA_ARGS__);                                            \
    skip();                                                                              \
  } while (0)
void harness_skip_note(const char *test, const char *fmt, ...);

/* Runs `tests` on every selected device; returns the process exit status:
 * 0 all passed, 1 some failed, 77 no device selected (skip).
 * With `per_device` 0 the suite runs once with no context (host suites). */
int harness_run(const char *suite, const struct CMUnitTest *tests, size_t n,
                int per_device);
#define HARNESS_RUN(suite, tests, per_device)                                            \
  harness_run(suite, tests, sizeof(tests) / sizeof((tests)[0]), per_device)

/* Deterministic random numbers (splitmix64). */
typedef struct harness_rng {
  uint64_t s;
} harness_rng;
uint64_t harness_next(harness_rng *r);
/* Uniform in [0, n). */
uint32_t harness_below(harness_rng *r, uint32_t n);
/* Uniform in [-1, 1). */
float harness_unit(harness_rng *r);

/* Fails with the seed printed when `cond` is false. */
#define HARNESS_CHECK(cond, seed)                                                        \
  do {                                                                                   \
    if (!(cond))                                                                         \
      fail_msg("%s (seed %llu, device %s)", #cond, (unsigned long long)(seed),           \
               harness_device_label());                                                  \
  } while (0)

#endif
