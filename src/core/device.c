/* SPDX-License-Identifier: Apache-2.0 */
/* Device enumeration, capability probing and selection by spec. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* cl_ext_float_atomics; older headers (Debian 12's) lack these. */
#ifndef CL_DEVICE_SINGLE_FP_ATOMIC_CAPABILITIES_EXT
#define CL_DEVICE_SINGLE_FP_ATOMIC_CAPABILITIES_EXT 0x4231
#endif
#ifndef CL_DEVICE_GLOBAL_FP_ATOMIC_ADD_EXT
#define CL_DEVICE_GLOBAL_FP_ATOMIC_ADD_EXT (1 << 1)
#endif

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

typedef struct device_entry {
  cl_platform_id platform;
  cl_device_id device;
  unsigned platform_index, device_index;
} device_entry;

/* Collects every device of every platform that reports one. */
static cl_int enumerate(device_entry *out, size_t cap, size_t *count) {
  cl_platform_id platforms[MAX_PLATFORMS];
  cl_uint np = 0;
  *count = 0;
  cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &np);
  if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */) return CL_SUCCESS;
  if (err != CL_SUCCESS) return err;
  if (np > MAX_PLATFORMS) np = MAX_PLATFORMS;
  for (cl_uint p = 0; p < np; p++) {
    cl_device_id devs[MAX_DEVICES];
    cl_uint nd = 0;
    err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd);
    if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue; /* empty platform */
    if (err != CL_SUCCESS) continue; /* a broken ICD must not hide the rest */
    if (nd > MAX_DEVICES) nd = MAX_DEVICES;
    for (cl_uint d = 0; d < nd && *count < cap; d++) {
      out[*count] = (device_entry){platforms[p], devs[d], p, d};
      (*count)++;
    }
  }
  return CL_SUCCESS;
}

static void get_string(cl_device_id d, cl_device_info what, char *buf, size_t cap) {
  buf[0] = 0;
  if (clGetDeviceInfo(d, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = 0;
  buf[cap - 1] = 0;
}

static void get_platform_string(cl_platform_id p, cl_platform_info what, char *buf,
                                size_t cap) {
  buf[0] = 0;
  if (clGetPlatformInfo(p, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = 0;
  buf[cap - 1] = 0;
}

/* Parses "OpenCL 1.2 ..." or "OpenCL C 1.2 ..." into major/minor. */
static void parse_version(const char *s, const char *prefix, int *major, int *minor) {
  *major = 1;
  *minor = 0;
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n) == 0) sscanf(s + n, "%d.%d", major, minor);
}

static int has_extension(const char *list, const char *ext) {
  size_t n = strlen(ext);
  for (const char *p = strstr(list, ext); p; p = strstr(p + 1, ext)) {
    int starts = (p == list) || p[-1] == ' ';
    int ends = p[n] == 0 || p[n] == ' ';
    if (starts && ends) return 1;
  }
  return 0;
}

static int probe_float_atomic_add(cl_device_id d, const char *exts) {
  if (!has_extension(exts, "cl_ext_float_atomics")) return 0;
  cl_bitfield caps = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_ATOMIC_CAPABILITIES_EXT, sizeof caps, &caps,
                      NULL) != CL_SUCCESS)
    return 0;
  return (caps & CL_DEVICE_GLOBAL_FP_ATOMIC_ADD_EXT) != 0;
}

static void probe_limits(cl_device_id d, clsp_device_caps *c) {
  cl_ulong u = 0;
  cl_uint ui = 0;
  size_t sz = 0;
  cl_device_local_mem_type lt = CL_GLOBAL;
  cl_device_fp_config fp = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
    c->local_mem_bytes = u;
  if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL) == CL_SUCCESS)
    c->local_mem_dedicated = lt == CL_LOCAL;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) ==
      CL_SUCCESS)
    c->max_work_group_size = sz;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof ui, &ui, NULL) == CL_SUCCESS)
    c->compute_units = ui;
  if (clGetDeviceInfo(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof ui, &ui, NULL) ==
      CL_SUCCESS)
    c->native_float_width = ui;
  if (clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
    c->global_mem_bytes = u;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
    c->max_alloc_bytes = u;
  if (clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL) ==
        CL_SUCCESS &&
      fp != 0)
    c->fp64 = 1;
}

clsp_status clsp__probe_caps(cl_platform_id p, cl_device_id d, clsp_device_caps *c) {
  memset(c, 0, sizeof *c);
  get_platform_string(p, CL_PLATFORM_NAME, c->platform_name, sizeof c->platform_name);
  get_platform_string(p, CL_PLATFORM_VERSION, c->platform_version,
                      sizeof c->platform_version);
  get_string(d, CL_DEVICE_NAME, c->device_name, sizeof c->device_name);
  get_string(d, CL_DEVICE_VERSION, c->device_version, sizeof c->device_version);
  get_string(d, CL_DRIVER_VERSION, c->driver_version, sizeof c->driver_version);
  char clc[128];
  get_string(d, CL_DEVICE_OPENCL_C_VERSION, clc, sizeof clc);
  parse_version(c->device_version, "OpenCL ", &c->opencl_major, &c->opencl_minor);
  parse_version(clc, "OpenCL C ", &c->opencl_c_major, &c->opencl_c_minor);
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof c->type, &c->type, NULL);

  size_t n = 0;
  char *exts = NULL;
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) == CL_SUCCESS && n > 0)
    exts = calloc(n + 1, 1);
  if (!exts) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, exts, NULL) != CL_SUCCESS) exts[0] = 0;
  c->int64_atomics = has_extension(exts, "cl_khr_int64_base_atomics");
  c->fp16 = has_extension(exts, "cl_khr_fp16");
  c->fp64 = has_extension(exts, "cl_khr_fp64");
  c->subgroups = has_extension(exts, "cl_khr_subgroups");
  c->float_atomic_add = probe_float_atomic_add(d, exts);
  free(exts);
  probe_limits(d, c);
  return CLSP_SUCCESS;
}

clsp_status clsp_devices_list(clsp_device_info *out, size_t capacity, size_t *count) {
  if (!count || (!out && capacity > 0)) return CLSP_ERROR_INVALID_ARGUMENT;
  device_entry devs[MAX_DEVICES];
  size_t n = 0;
  cl_int err = enumerate(devs, MAX_DEVICES, &n);
  if (err != CL_SUCCESS) return (clsp_status)err;
  *count = n;
  for (size_t i = 0; i < n && i < capacity; i++) {
    out[i].platform_index = devs[i].platform_index;
    out[i].device_index = devs[i].device_index;
    clsp_status st = clsp__probe_caps(devs[i].platform, devs[i].device, &out[i].caps);
    if (st != CLSP_SUCCESS) return st;
  }
  return CLSP_SUCCESS;
}

static int contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] &&
           tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n) return 1;
  }
  return n == 0;
}

static cl_device_type type_of(cl_device_id d) {
  cl_device_type t = 0;
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
  return t;
}

static long pick_default(const device_entry *devs, size_t n) {
  static const cl_device_type order[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR,
                                         CL_DEVICE_TYPE_CPU};
  for (size_t o = 0; o < 3; o++)
    for (size_t i = 0; i < n; i++)
      if (type_of(devs[i].device) & order[o]) return (long)i;
  return n > 0 ? 0 : -1;
}

static long pick_index(const device_entry *devs, size_t n, unsigned p, unsigned d) {
  for (size_t i = 0; i < n; i++)
    if (devs[i].platform_index == p && devs[i].device_index == d) return (long)i;
  return -1;
}

static long pick_name(const device_entry *devs, size_t n, const char *spec) {
  for (size_t i = 0; i < n; i++) {
    char pname[256], dname[256];
    get_platform_string(devs[i].platform, CL_PLATFORM_NAME, pname, sizeof pname);
    get_string(devs[i].device, CL_DEVICE_NAME, dname, sizeof dname);
    if (contains_nocase(pname, spec) || contains_nocase(dname, spec)) return (long)i;
  }
  return -1;
}

/* Parses "P:D" exactly (digits only). */
static int parse_index_spec(const char *spec, unsigned *p, unsigned *d) {
  char tail;
  return sscanf(spec, "%u:%u%c", p, d, &tail) == 2 && isdigit((unsigned char)spec[0]);
}

static long pick(const device_entry *devs, size_t n, const char *spec) {
  unsigned p, d;
  if (!spec || !spec[0]) return pick_default(devs, n);
  if (parse_index_spec(spec, &p, &d)) return pick_index(devs, n, p, d);
  return pick_name(devs, n, spec);
}

clsp_status clsp__select(clsp_context *ctx, const char *spec, cl_platform_id *platform,
                         cl_device_id *device) {
  device_entry devs[MAX_DEVICES];
  size_t n = 0;
  cl_int err = enumerate(devs, MAX_DEVICES, &n);
  if (err != CL_SUCCESS) return clsp__cl_fail(ctx, err, "clGetPlatformIDs");
  if (n == 0)
    return clsp__fail(ctx, CLSP_ERROR_NO_DEVICE,
                      "no OpenCL device found (is an ICD such as "
                      "pocl-opencl-icd installed?)");
  long i = pick(devs, n, spec);
  if (i < 0)
    return clsp__fail(ctx, CLSP_ERROR_NO_DEVICE,
                      "device spec '%s' matches none of the %zu OpenCL "
                      "devices (use 'P:D' or a platform/device name "
                      "substring; 'clsp info' lists them)",
                      spec, n);
  *platform = devs[i].platform;
  *device = devs[i].device;
  return CLSP_SUCCESS;
}

clsp_status clsp_device_select(const char *spec, clsp_device_info *out) {
  if (!out) return CLSP_ERROR_INVALID_ARGUMENT;
  device_entry devs[MAX_DEVICES];
  size_t n = 0;
  cl_int err = enumerate(devs, MAX_DEVICES, &n);
  if (err != CL_SUCCESS) return (clsp_status)err;
  long i = pick(devs, n, spec);
  if (i < 0) return CLSP_ERROR_NO_DEVICE;
  out->platform_index = devs[i].platform_index;
  out->device_index = devs[i].device_index;
  return clsp__probe_caps(devs[i].platform, devs[i].device, &out->caps);
}
