/* SPDX-License-Identifier: Apache-2.0 */
/* Finite-difference checks of the gradient references (selftest_grad.c). */
#ifndef CLSP_SELFTEST_GRAD_H
#define CLSP_SELFTEST_GRAD_H

/* Runs the checks, printing PASS/FAIL lines and counting them. */
void selftest_grad(int *pass, int *fail);

#endif
