/* SPDX-License-Identifier: Apache-2.0 */
/* io suite: the built-in synthetic scene. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_test.h"
#include "scene/scene.h"

/* ====================================================================== */
/* Synthetic scene */

static int in_second_range(const float *p) {
  return p[0] >= 0.0f && p[0] < 70.4f && p[1] >= -40.0f && p[1] < 40.0f &&
         p[2] >= -3.0f && p[2] < 1.0f;
}

static void check_scene(uint64_t seed, float *pts, size_t n) {
  CHECK(n >= 80000 && n <= 130000, "seed %llu: %zu points", (unsigned long long)seed, n);
  size_t inside = 0, ground = 0;
  for (size_t i = 0; i < n; i++) {
    const float *p = pts + 4 * i;
    CHECK(isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]) && p[3] >= 0.0f &&
            p[3] < 1.0f,
          "seed %llu: point %zu is (%g %g %g %g)", (unsigned long long)seed, i, p[0],
          p[1], p[2], p[3]);
    CHECK(sqrtf(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) < 125.0f,
          "seed %llu: point %zu beyond range", (unsigned long long)seed, i);
    inside += in_second_range(p);
    ground += fabsf(p[2] + 1.73f) < 0.1f;
  }
  CHECK(inside >= n / 4,
        "seed %llu: only %zu of %zu points in the SECOND "
        "range",
        (unsigned long long)seed, inside, n);
  CHECK(ground >= n / 5, "seed %llu: only %zu ground points", (unsigned long long)seed,
        ground);
}

void test_scene(void **state) {
  (void)state;
  char err[256] = "";
  float *a, *b, *first = NULL;
  size_t na, nb, nfirst = 0;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    CHECK(clsp_scene_generate(seed, &a, &na, err, sizeof err) == 0, "seed %llu: %s",
          (unsigned long long)seed, err);
    check_scene(seed, a, na);
    CHECK(clsp_scene_generate(seed, &b, &nb, err, sizeof err) == 0, "seed %llu: %s",
          (unsigned long long)seed, err);
    CHECK(na == nb && memcmp(a, b, na * 16) == 0, "seed %llu: two runs differ",
          (unsigned long long)seed);
    clsp_scene_free(b);
    if (seed == 1) {
      first = a;
      nfirst = na;
      continue;
    }
    CHECK(na != nfirst || memcmp(a, first, na * 16) != 0,
          "seeds 1 and %llu give identical scenes", (unsigned long long)seed);
    clsp_scene_free(a);
  }
  clsp_scene_free(first);
}
