/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_PERF_H
#define CLSPCONV_PERF_H

#include "clspconv/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Measures the context's device's single-precision FMA throughput in
 * GFLOP/s (one fused multiply-add = 2 FLOPs): a short kernel of 12
 * independent fma() chains per work-item in float8 and in float16
 * vectors, enough work-items for every compute unit, timed on the host
 * around clFinish after a warm-up (best of 5, ~50 ms each); the faster
 * vector width counts. The result is cached per device for the process
 * (later calls return it at once). Blocks until measured.
 * Takes: ctx; writes *gflops (> 0 on success).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL), OpenCL codes.
 */
CLSP_API clsp_status clsp_device_fma_peak(clsp_context *ctx, double *gflops);

#ifdef __cplusplus
}
#endif
#endif
