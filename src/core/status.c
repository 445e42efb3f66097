/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes: their names (clsp_status_string, clsp_status_origin) and
 * the recording of errors and log notes on a context. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include "internal.h"

typedef struct status_name {
  int code;
  const char *name;
} status_name;

static const status_name library_names[] = {
  {CLSP_SUCCESS, "success"},
  {CLSP_ERROR_INVALID_ARGUMENT, "invalid argument"},
  {CLSP_ERROR_UNSUPPORTED, "unsupported on this device"},
  {CLSP_ERROR_OUT_OF_HOST_MEMORY, "out of host memory"},
  {CLSP_ERROR_OUT_OF_DEVICE_MEMORY, "out of device memory"},
  {CLSP_ERROR_BUILD_FAILED, "kernel program build failed"},
  {CLSP_ERROR_NO_DEVICE, "no matching OpenCL device"},
  {CLSP_ERROR_DUPLICATE_COORDS, "duplicate coordinates"},
  {CLSP_ERROR_OUT_OF_RANGE, "coordinate out of range"},
  {CLSP_ERROR_TOO_LARGE, "too large for the supported index or key width"},
  {CLSP_ERROR_MISMATCH, "objects do not belong together"},
  {CLSP_ERROR_KERNEL_SOURCE, "kernel source unavailable"},
  {CLSP_ERROR_INTERNAL, "internal error"},
  {CLSP_ERROR_IO, "file input/output failed"},
};

#define CL_NAME(c)                                                                       \
  { c, #c }
static const status_name opencl_names[] = {
  CL_NAME(CL_DEVICE_NOT_FOUND),
  CL_NAME(CL_DEVICE_NOT_AVAILABLE),
  CL_NAME(CL_COMPILER_NOT_AVAILABLE),
  CL_NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE),
  CL_NAME(CL_OUT_OF_RESOURCES),
  CL_NAME(CL_OUT_OF_HOST_MEMORY),
  CL_NAME(CL_PROFILING_INFO_NOT_AVAILABLE),
  CL_NAME(CL_MEM_COPY_OVERLAP),
  CL_NAME(CL_IMAGE_FORMAT_MISMATCH),
  CL_NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED),
  CL_NAME(CL_BUILD_PROGRAM_FAILURE),
  CL_NAME(CL_MAP_FAILURE),
  CL_NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET),
  CL_NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST),
  CL_NAME(CL_COMPILE_PROGRAM_FAILURE),
  CL_NAME(CL_LINKER_NOT_AVAILABLE),
  CL_NAME(CL_LINK_PROGRAM_FAILURE),
  CL_NAME(CL_DEVICE_PARTITION_FAILED),
  CL_NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE),
  CL_NAME(CL_INVALID_VALUE),
  CL_NAME(CL_INVALID_DEVICE_TYPE),
  CL_NAME(CL_INVALID_PLATFORM),
  CL_NAME(CL_INVALID_DEVICE),
  CL_NAME(CL_INVALID_CONTEXT),
  CL_NAME(CL_INVALID_QUEUE_PROPERTIES),
  CL_NAME(CL_INVALID_COMMAND_QUEUE),
  CL_NAME(CL_INVALID_HOST_PTR),
  CL_NAME(CL_INVALID_MEM_OBJECT),
  CL_NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR),
  CL_NAME(CL_INVALID_IMAGE_SIZE),
  CL_NAME(CL_INVALID_SAMPLER),
  CL_NAME(CL_INVALID_BINARY),
  CL_NAME(CL_INVALID_BUILD_OPTIONS),
  CL_NAME(CL_INVALID_PROGRAM),
  CL_NAME(CL_INVALID_PROGRAM_EXECUTABLE),
  CL_NAME(CL_INVALID_KERNEL_NAME),
  CL_NAME(CL_INVALID_KERNEL_DEFINITION),
  CL_NAME(CL_INVALID_KERNEL),
  CL_NAME(CL_INVALID_ARG_INDEX),
  CL_NAME(CL_INVALID_ARG_VALUE),
  CL_NAME(CL_INVALID_ARG_SIZE),
  CL_NAME(CL_INVALID_KERNEL_ARGS),
  CL_NAME(CL_INVALID_WORK_DIMENSION),
  CL_NAME(CL_INVALID_WORK_GROUP_SIZE),
  CL_NAME(CL_INVALID_WORK_ITEM_SIZE),
  CL_NAME(CL_INVALID_GLOBAL_OFFSET),
  CL_NAME(CL_INVALID_EVENT_WAIT_LIST),
  CL_NAME(CL_INVALID_EVENT),
  CL_NAME(CL_INVALID_OPERATION),
  CL_NAME(CL_INVALID_GL_OBJECT),
  CL_NAME(CL_INVALID_BUFFER_SIZE),
  CL_NAME(CL_INVALID_MIP_LEVEL),
  CL_NAME(CL_INVALID_GLOBAL_WORK_SIZE),
  CL_NAME(CL_INVALID_PROPERTY),
  CL_NAME(CL_INVALID_IMAGE_DESCRIPTOR),
  CL_NAME(CL_INVALID_COMPILER_OPTIONS),
  CL_NAME(CL_INVALID_LINKER_OPTIONS),
  CL_NAME(CL_INVALID_DEVICE_PARTITION_COUNT),
  {-1001, "CL_PLATFORM_NOT_FOUND_KHR"},
};

/* CLBlast's own codes (clblast_c.h), kept verbatim so callers can compare. */
static const status_name clblast_names[] = {
  {-1024, "CLBlastNotImplemented"},
  {-1022, "CLBlastInvalidMatrixA"},
  {-1021, "CLBlastInvalidMatrixB"},
  {-1020, "CLBlastInvalidMatrixC"},
  {-1019, "CLBlastInvalidVectorX"},
  {-1018, "CLBlastInvalidVectorY"},
  {-1017, "CLBlastInvalidDimension"},
  {-1016, "CLBlastInvalidLeadDimA"},
  {-1015, "CLBlastInvalidLeadDimB"},
  {-1014, "CLBlastInvalidLeadDimC"},
  {-1013, "CLBlastInvalidIncrementX"},
  {-1012, "CLBlastInvalidIncrementY"},
  {-1011, "CLBlastInsufficientMemoryA"},
  {-1010, "CLBlastInsufficientMemoryB"},
  {-1009, "CLBlastInsufficientMemoryC"},
  {-1008, "CLBlastInsufficientMemoryX"},
  {-1007, "CLBlastInsufficientMemoryY"},
  {-2050, "CLBlastInsufficientMemoryTemp"},
  {-2049, "CLBlastInvalidBatchCount"},
  {-2048, "CLBlastInvalidOverrideKernel"},
  {-2047, "CLBlastMissingOverrideParameter"},
  {-2046, "CLBlastInvalidLocalMemUsage"},
  {-2045, "CLBlastNoHalfPrecision"},
  {-2044, "CLBlastNoDoublePrecision"},
  {-2043, "CLBlastInvalidVectorScalar"},
  {-2042, "CLBlastInsufficientMemoryScalar"},
  {-2041, "CLBlastDatabaseError"},
  {-2040, "CLBlastUnknownError"},
  {-2039, "CLBlastUnexpectedError"},
};

static const char *lookup(const status_name *table, size_t n, int code) {
  for (size_t i = 0; i < n; i++)
    if (table[i].code == code) return table[i].name;
  return NULL;
}

#define LOOKUP(table, code) lookup(table, sizeof(table) / sizeof(table[0]), code)

char clsp_status_origin(int status) {
  if (status == 0) return 0;
  if (status <= -4000) return 'L';
  if (status <= -1000 && status > -3000) return 'B';
  return 'C';
}

const char *clsp_status_string(int status) {
  const char *name = NULL;
  switch (clsp_status_origin(status)) {
    case 0:
    case 'L': name = LOOKUP(library_names, status); break;
    case 'B':
      name = LOOKUP(clblast_names, status);
      if (!name) name = LOOKUP(opencl_names, status);
      break;
    default: name = LOOKUP(opencl_names, status); break;
  }
  return name ? name : "unknown status";
}

/* ---- recording ---- */

static void vrecord(clsp_context *ctx, clsp_log_level level, const char *fmt,
                    va_list ap) {
  if (!ctx) return;
  char *buf = ctx->message;
  char tmp[CLSP_MESSAGE_MAX];
  if (level != CLSP_LOG_ERROR) buf = tmp; /* notes do not replace errors */
  vsnprintf(buf, CLSP_MESSAGE_MAX, fmt, ap);
  if (ctx->log) ctx->log(ctx->log_user, level, buf);
}

clsp_status clsp__fail(clsp_context *ctx, clsp_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(ctx, CLSP_LOG_ERROR, fmt, ap);
  va_end(ap);
  return st;
}

void clsp__log(clsp_context *ctx, clsp_log_level level, const char *fmt, ...) {
  if (!ctx || !ctx->log) return;
  va_list ap;
  va_start(ap, fmt);
  vrecord(ctx, level, fmt, ap);
  va_end(ap);
}

clsp_status clsp__cl_fail(clsp_context *ctx, cl_int err, const char *what) {
  clsp_status st = (clsp_status)err;
  if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE) st = CLSP_ERROR_OUT_OF_DEVICE_MEMORY;
  if (err == CL_OUT_OF_HOST_MEMORY) st = CLSP_ERROR_OUT_OF_HOST_MEMORY;
  return clsp__fail(ctx, st, "%s: %s (%d)", what, clsp_status_string(err), (int)err);
}
