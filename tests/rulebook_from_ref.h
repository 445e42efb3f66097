/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only: a device rulebook (struct clsp_rulebook) made from the CPU
 * reference rulebook, so that the conv tests do not depend on the device
 * rulebook builder. Tests get their rulebooks through one call
 * (test_conv.c: make_rulebook), so switching to clsp_rulebook_build is a
 * one-line change. */
#ifndef CLSP_TEST_RULEBOOK_FROM_REF_H
#define CLSP_TEST_RULEBOOK_FROM_REF_H

#include "clspconv/clspconv.h"
#include "ref_rulebook.h"

/* Uploads `ref` (built by ref_rulebook_build/_inverse with geometry `g`
 * for the sites of `in`). in_sites_id is in's; out_sites_id is
 * `out_sites_id`, or a fresh id when 0 (submanifold: in's). */
clsp_status rulebook_from_ref(clsp_context *ctx, const ref_rulebook *ref,
                              const ref_geom *g, const clsp_tensor *in,
                              uint64_t out_sites_id, clsp_rulebook **out);
/* Releases a rulebook made by rulebook_from_ref. NULL is a no-op. */
void rulebook_from_ref_destroy(clsp_rulebook *rb);
/* The site-set identity of a tensor (tests of inverse convs need the
 * regular conv's input identity). */
uint64_t rulebook_tensor_sites_id(const clsp_tensor *t);

#endif
