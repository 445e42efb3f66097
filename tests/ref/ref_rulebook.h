/* SPDX-License-Identifier: Apache-2.0 */
/* CPU reference rulebooks for sparse convolution (test oracle only).
 *
 * Deliberately brute force and independent of the device code.  Conventions:
 *  - coords: int32 rows of (1 + ndim) values (batch, c1..cD) in shape[] order.
 *  - taps: row-major, first axis slowest; for ndim 3, t = (t0*k1 + t1)*k2 + t2.
 *  - kinds: 0 submanifold, 1 regular, 2 transposed, 3 inverse (of a regular).
 *  - output order: kind 0 = input order; kinds 1, 2 = ascending lexicographic
 *    (batch, c1, ..., cD); kind 3 = the regular conv's input order.
 *  - pairs are grouped by tap; within a tap sorted by out row, then in row.
 */
#ifndef CLSP_REF_RULEBOOK_H
#define CLSP_REF_RULEBOOK_H

#include <stddef.h>
#include <stdint.h>

#define REF_MAX_DIM 4

enum { REF_SUBM = 0, REF_REGULAR = 1, REF_TRANSPOSED = 2, REF_INVERSE = 3 };

/* Per-axis geometry: kernel >= 1, stride >= 1, padding >= 0, dilation >= 1.
 * For submanifold (kind 0) stride must be 1 and padding is ignored: the
 * kernel is centred, input = o + (t - (k-1)/2) * d per axis. */
typedef struct ref_geom {
  int ndim;
  int32_t kernel[4], stride[4], padding[4], dilation[4];
} ref_geom;

typedef struct ref_rulebook {
  int kind, ndim;
  int32_t in_shape[4];  /* spatial shape of the conv's input */
  int32_t out_shape[4]; /* spatial shape of the conv's output */
  size_t n_out;
  int32_t *out_coords; /* n_out x (1 + ndim) */
  size_t kvol;
  size_t *start;                /* kvol + 1 prefix offsets into in_rows/out_rows */
  uint32_t *in_rows, *out_rows; /* start[kvol] pairs, grouped by tap */
} ref_rulebook;

/* Product of kernel sizes. */
size_t ref_kernel_volume(const ref_geom *g);

/* Decode tap index t into per-axis kernel offsets (first axis slowest). */
void ref_tap_offsets(const ref_geom *g, size_t t, int32_t *ta);

/* Output spatial shape for kinds 0, 1, 2.  Returns 0 ok, -1 on invalid
 * geometry or a non-positive result.  Kind 3 is not computable from the
 * forward shape (floor is lossy); use the regular rulebook's in_shape. */
int ref_out_shape(int kind, const ref_geom *g, const int32_t *in_shape,
                  int32_t *out_shape);

/* Build the rulebook for kinds 0, 1, 2.  Input coords must be unique, with
 * batch in [0, batch) and every coordinate in [0, in_shape).  Returns 0 ok,
 * -1 on invalid arguments/input or allocation failure (out is then zeroed). */
int ref_rulebook_build(int kind, const ref_geom *g, const int32_t *in_shape,
                       int32_t batch, size_t n, const int32_t *coords, ref_rulebook *out);

/* Inverse (kind 3) of a regular rulebook: outputs = the regular conv's input
 * sites (n_in_of_regular rows, original order), inputs = its output sites,
 * same taps, pairs swapped.  out_shape = regular->in_shape. */
int ref_rulebook_inverse(const ref_rulebook *regular, size_t n_in_of_regular,
                         const int32_t *regular_in_coords, ref_rulebook *out);

void ref_rulebook_free(ref_rulebook *rb);

#endif
