/* SPDX-License-Identifier: Apache-2.0 */
/* The geometry combinations of the backward suite (test_backward.c), the
 * same as the forward suite's (test_conv.c), and helpers shared with the
 * pooling suite (conv_cases.c).
 * k/s/p/d per axis; 0 in k, s or d means 1. */
#ifndef CLSP_TEST_CONV_CASES_H
#define CLSP_TEST_CONV_CASES_H

#include <stddef.h>
#include <stdint.h>
#include "harness.h"
#include "ref_rulebook.h"

typedef struct conv_case {
  int kind, ndim;
  int32_t k[4], s[4], p[4], d[4];
  size_t cin, cout;
  int bias;
} conv_case;

/* The reference geometry of a case (0 in k, s, d read as 1). */
ref_geom conv_case_geom(const conv_case *c);
/* "kind nD cin cout bias k/s/p/d ..." for failure messages. */
void conv_case_describe(const conv_case *c, char *buf, size_t cap);
/* Grid and site count per dimensionality, smaller on slow devices. */
void conv_case_grid(int ndim, int32_t *grid, size_t *n);
/* Sites of batch x grid, each cell active with probability
 * keep_per_mille / 1000 (n x (1 + nd) int32; the caller frees). */
int32_t *conv_case_sites(harness_rng *rng, int nd, const int32_t *grid, int32_t batch,
                         uint32_t keep_per_mille, size_t *n);

/* Channel counts of the channel sweeps (1 to 65). */
static const size_t conv_case_channels[] = {1, 3, 7, 16, 33, 64, 65};

static const conv_case conv_cases_subm_3d[] = {
  {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 16, 16, 0},
  {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {0}, 7, 5, 1},
  {REF_SUBM, 3, {3, 1, 1}, {0}, {0}, {0}, 3, 4, 1},
  {REF_SUBM, 3, {5, 3, 1}, {0}, {0}, {2, 1, 1}, 4, 6, 0},
  {REF_SUBM, 3, {1, 1, 1}, {0}, {0}, {0}, 5, 3, 1},
  {REF_SUBM, 3, {3, 3, 3}, {0}, {0}, {2, 2, 2}, 8, 8, 0},
};

static const conv_case conv_cases_regular_3d[] = {
  {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 32, 0},
  {REF_REGULAR, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 5, 7, 1},
  {REF_REGULAR, 3, {3, 3, 3}, {1, 1, 1}, {0}, {0}, 4, 4, 1},
  {REF_REGULAR, 3, {3, 1, 1}, {2, 1, 1}, {1, 0, 0}, {0}, 6, 3, 0},
  {REF_REGULAR, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {2, 2, 2}, 3, 5, 1},
  {REF_REGULAR, 3, {2, 3, 1}, {1, 2, 3}, {0, 1, 0}, {1, 2, 1}, 4, 9, 1},
};

static const conv_case conv_cases_transposed_3d[] = {
  {REF_TRANSPOSED, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 8, 0},
  {REF_TRANSPOSED, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 5, 7, 1},
  {REF_TRANSPOSED, 3, {3, 1, 1}, {2, 1, 1}, {0}, {0}, 3, 6, 1},
  {REF_TRANSPOSED, 3, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {2, 2, 2}, 4, 4, 0},
  {REF_TRANSPOSED, 3, {1, 2, 3}, {3, 2, 1}, {0, 0, 1}, {0}, 2, 5, 1},
};

static const conv_case conv_cases_inverse_3d[] = {
  {REF_INVERSE, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 16, 8, 0},
  {REF_INVERSE, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, 7, 5, 1},
  {REF_INVERSE, 3, {3, 1, 1}, {2, 1, 1}, {1, 0, 0}, {0}, 3, 3, 1},
  {REF_INVERSE, 3, {3, 3, 3}, {1, 1, 1}, {0}, {2, 1, 2}, 4, 6, 0},
};

static const conv_case conv_cases_2d[] = {
  {REF_SUBM, 2, {3, 3}, {0}, {0}, {0}, 8, 8, 1},
  {REF_SUBM, 2, {3, 1}, {0}, {0}, {1, 2}, 3, 5, 0},
  {REF_REGULAR, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 8, 16, 1},
  {REF_REGULAR, 2, {4, 2}, {2, 1}, {1, 0}, {1, 2}, 5, 3, 0},
  {REF_TRANSPOSED, 2, {2, 2}, {2, 2}, {0}, {0}, 8, 4, 1},
  {REF_TRANSPOSED, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 4, 4, 0},
  {REF_INVERSE, 2, {3, 3}, {2, 2}, {1, 1}, {0}, 8, 8, 1},
  {REF_INVERSE, 2, {2, 3}, {2, 1}, {0, 1}, {0}, 3, 2, 0},
};

static const conv_case conv_cases_1d_4d[] = {
  {REF_SUBM, 1, {3}, {0}, {0}, {0}, 4, 4, 1},
  {REF_REGULAR, 1, {4}, {2}, {1}, {0}, 3, 5, 0},
  {REF_TRANSPOSED, 1, {3}, {2}, {1}, {0}, 5, 3, 1},
  {REF_INVERSE, 1, {3}, {2}, {1}, {0}, 2, 2, 0},
  {REF_SUBM, 4, {3, 3, 3, 3}, {0}, {0}, {0}, 4, 4, 1},
  {REF_REGULAR, 4, {2, 2, 2, 2}, {2, 2, 2, 2}, {0}, {0}, 3, 5, 0},
  {REF_TRANSPOSED, 4, {2, 1, 2, 1}, {2, 1, 2, 1}, {0}, {0}, 3, 3, 1},
  {REF_INVERSE, 4, {3, 3, 1, 1}, {2, 2, 1, 1}, {1, 1, 0, 0}, {0}, 2, 3, 0},
};

/* The six test functions of the geometry tables, each calling the suite's
 * own check_cases(cases, n, salt). */
#define CONV_CASES_N(a) (sizeof(a) / sizeof((a)[0]))
#define CONV_CASE_TEST(name, table, salt)                                                \
  static void name(void **state) {                                                       \
    (void)state;                                                                         \
    check_cases(table, CONV_CASES_N(table), salt);                                       \
  }
#define CONV_CASE_TESTS                                                                  \
  CONV_CASE_TEST(test_submanifold_3d, conv_cases_subm_3d, 1)                             \
  CONV_CASE_TEST(test_regular_3d, conv_cases_regular_3d, 2)                              \
  CONV_CASE_TEST(test_transposed_3d, conv_cases_transposed_3d, 3)                        \
  CONV_CASE_TEST(test_inverse_3d, conv_cases_inverse_3d, 4)                              \
  CONV_CASE_TEST(test_2d_all_kinds, conv_cases_2d, 5)                                    \
  CONV_CASE_TEST(test_1d_and_4d, conv_cases_1d_4d, 6)

#endif
