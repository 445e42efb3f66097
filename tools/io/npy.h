/*
 * NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
 *
 * Only what clsp needs: little-endian int32 ('<i4') and float32 ('<f4'),
 * C order; rank 1 to CLSP_NPY_MAX_RANK to read (weights of 3D kernels are
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
    CLSP_NPY_I32 = 2  /* '<i4' */
} clsp_npy_dtype;

#define CLSP_NPY_MAX_RANK 6

typedef struct {
    clsp_npy_dtype dtype;
    int rank;        /* 1 to CLSP_NPY_MAX_RANK */
    size_t shape[CLSP_NPY_MAX_RANK]; /* entries past rank are 1 */
    void *data;      /* shape[0] * shape[1] elements, C order; never NULL
                        after a successful read, even for empty arrays */
} clsp_npy_array;

/* Reads path into *out.  Release with clsp_npy_free(). */
int clsp_npy_read(const char *path, clsp_npy_array *out, char *err,
                  size_t errlen);

/* Writes a v1.0 file byte-identical to numpy.save() (numpy >= 1.24 layout,
 * header padded with spaces and '\n' to a multiple of 64 bytes).
 * For rank 1 only shape[0] is used. */
int clsp_npy_write(const char *path, clsp_npy_dtype dtype, int rank,
                   const size_t shape[2], const void *data, char *err,
                   size_t errlen);

/* The same for rank 1 to CLSP_NPY_MAX_RANK (shape has rank entries), e.g.
 * a dense [B, C, H, W] feature map. */
int clsp_npy_write_nd(const char *path, clsp_npy_dtype dtype, int rank,
                      const size_t *shape, const void *data, char *err,
                      size_t errlen);

/* Frees out->data and zeroes *a; safe on a zeroed or already freed array. */
void clsp_npy_free(clsp_npy_array *a);

#endif
