/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
 *
 * Only what clsp needs: little-endian int32 ('<i4'), int64 ('<i8',
 * numpy's default integer), float32 ('<f4') and float64 ('<f8'; numpy's
 * default float) to read, int32 and float32 to write, C order; rank 1 to CLSP_NPY_MAX_RANK to read (weights of 3D kernels are
 * rank 5), rank 1 or 2 to write.  Everything else is rejected with a message.
 * All functions return 0 on success and nonzero on error; on error a
 * message naming the file is written to err (if err != NULL) and nothing
 * is left allocated.
 */
#ifndef CLSP_IO_NPY_H
#define CLSP_IO_NPY_H

#include <stddef.h>

typedef enum {
  CLSP_NPY_F32 = 1, /* '<f4' */
  CLSP_NPY_I32 = 2, /* '<i4' */
  CLSP_NPY_I64 = 3, /* '<i8' (read only) */
  CLSP_NPY_F64 = 4  /* '<f8' (read only) */
} clsp_npy_dtype;

/* Bytes per element of dtype: 4 or 8. */
size_t clsp_npy_elem_size(clsp_npy_dtype dtype);

#define CLSP_NPY_MAX_RANK 6

typedef struct {
  clsp_npy_dtype dtype;
  int rank;                        /* 1 to CLSP_NPY_MAX_RANK */
  size_t shape[CLSP_NPY_MAX_RANK]; /* entries past rank are 1 */
  void *data;                      /* shape[0] * shape[1] elements, C order; never NULL
                        after a successful read, even for empty arrays */
} clsp_npy_array;

/* Reads path into *out.  Release with clsp_npy_free(). */
int clsp_npy_read(const char *path, clsp_npy_array *out, char *err, size_t errlen);

/* Writes a v1.0 file byte-identical to numpy.save() (numpy >= 1.24 layout,
 * header padded with spaces and '\n' to a multiple of 64 bytes).
 * For rank 1 only shape[0] is used. */
int clsp_npy_write(const char *path, clsp_npy_dtype dtype, int rank,
                   const size_t shape[2], const void *data, char *err, size_t errlen);

/* The same for rank 1 to CLSP_NPY_MAX_RANK (shape has rank entries), e.g.
 * a dense [B, C, H, W] feature map. */
int clsp_npy_write_nd(const char *path, clsp_npy_dtype dtype, int rank,
                      const size_t *shape, const void *data, char *err, size_t errlen);

/* Converts an int64 array to int32 or a float64 array to float32 in place
 * (others are left as they are). Returns 0, or -1 with *bad the first
 * element (C order) that does not fit (int32 range; a finite float64
 * beyond float32's range); the array is then unusable: free it. */
int clsp_npy_narrow(clsp_npy_array *a, size_t *bad);

/* Frees out->data and zeroes *a; safe on a zeroed or already freed array. */
void clsp_npy_free(clsp_npy_array *a);

#endif
