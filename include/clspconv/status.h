/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_STATUS_H
#define CLSPCONV_STATUS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CLSP_BUILDING_DLL)
#define CLSP_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLSP_API __attribute__((visibility("default")))
#else
#define CLSP_API
#endif

/*
 * One status code for every call.
 *
 *  0                  success
 *  -1 .. -999         an OpenCL error, passed through with its CL code
 *                     (CL_OUT_OF_RESOURCES is -5, CL_BUILD_PROGRAM_FAILURE
 *                     -11, ...), as CLBlast does
 *  -1000 .. -2999     a CLBlast status, passed through unchanged
 *  -4000 and below    errors of clspconv itself, by class (below)
 *
 * The context's clsp_context_last_error() carries the detail: which
 * argument, which value, and for a build failure the compiler log.
 */
typedef enum clsp_status {
  CLSP_SUCCESS = 0,
  CLSP_ERROR_INVALID_ARGUMENT = -4001, /* a NULL, a size, a range, ... */
  CLSP_ERROR_UNSUPPORTED = -4002,      /* the device cannot do this */
  CLSP_ERROR_OUT_OF_HOST_MEMORY = -4003,
  CLSP_ERROR_OUT_OF_DEVICE_MEMORY = -4004, /* allocation failed on the device */
  CLSP_ERROR_BUILD_FAILED = -4005,         /* kernel program did not compile */
  CLSP_ERROR_NO_DEVICE = -4006,            /* no OpenCL device matches */
  CLSP_ERROR_DUPLICATE_COORDS = -4007,     /* two input sites share coordinates */
  CLSP_ERROR_OUT_OF_RANGE = -4008,         /* coordinate or batch index outside
                                           the shape / batch size */
  CLSP_ERROR_TOO_LARGE = -4009,            /* exceeds the key width or the
                                           index arithmetic */
  CLSP_ERROR_MISMATCH = -4010,             /* handles that do not belong
                                           together (rulebook vs tensor,
                                           weights vs channels, contexts) */
  CLSP_ERROR_KERNEL_SOURCE = -4011,        /* kernel source could not be read
                                           (development override folder) */
  CLSP_ERROR_INTERNAL = -4012,             /* a bug in clspconv: please report */
  CLSP_ERROR_IO = -4013,                   /* a file could not be read or
                                           written (the message names it) */
} clsp_status;

/*
 * A short static English name for any status code: clspconv's own, OpenCL's
 * and CLBlast's. Never NULL; unknown codes give "unknown status".
 */
CLSP_API const char *clsp_status_string(int status);

/*
 * The class of a status: 'C' for an OpenCL code, 'B' for CLBlast, 'L' for
 * clspconv, 0 for success.
 */
CLSP_API char clsp_status_origin(int status);

#ifdef __cplusplus
}
#endif
#endif
