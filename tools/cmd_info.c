/* SPDX-License-Identifier: Apache-2.0 */
/* clsp info: every platform and device with its capabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clsp.h"
#include "clspconv/clspconv.h"

#define MAX_LISTED 64

static const char *type_name(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "GPU";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (t & CL_DEVICE_TYPE_CPU) return "CPU";
  return "other";
}

static const char *yes(int v) { return v ? "yes" : "no"; }

static void print_device(const clsp_device_info *d, int selected) {
  const clsp_device_caps *c = &d->caps;
  printf("%s %u:%u  %s / %s\n", selected ? "*" : " ", d->platform_index, d->device_index,
         c->platform_name, c->device_name);
  printf("      type %s, %s, OpenCL C %d.%d, driver %s\n", type_name(c->type),
         c->device_version, c->opencl_c_major, c->opencl_c_minor, c->driver_version);
  printf(
    "      compute units %u, max work-group %zu, native float vector %u, global memory "
    "%.1f GiB (largest allocation %.1f GiB)\n",
    c->compute_units, c->max_work_group_size, c->native_float_width,
    (double)c->global_mem_bytes / (1 << 30), (double)c->max_alloc_bytes / (1 << 30));
  printf("      local memory %llu KiB (%s)\n",
         (unsigned long long)(c->local_mem_bytes >> 10),
         c->local_mem_dedicated ? "dedicated" : "emulated in global");
  printf(
    "      64-bit atomics %s, fp16 %s, fp64 %s, float atomic add %s, "
    "subgroups %s\n",
    yes(c->int64_atomics), yes(c->fp16), yes(c->fp64), yes(c->float_atomic_add),
    yes(c->subgroups));
}

static int list_devices(clsp_device_info *devs, size_t *n) {
  clsp_status st = clsp_devices_list(devs, MAX_LISTED, n);
  if (st == CLSP_SUCCESS) return 1;
  fprintf(stderr, "clsp info: listing devices failed: %s (%d)\n", clsp_status_string(st),
          st);
  return 0;
}

/* No device matches CLSP_DEVICE: says so on stderr, with the devices there are. */
static int no_selection(const char *spec) {
  clsp_device_info devs[MAX_LISTED];
  size_t n = 0;
  fprintf(stderr, "clsp info: CLSP_DEVICE=%s selects no device", spec ? spec : "(unset)");
  if (!list_devices(devs, &n)) return 1;
  fprintf(stderr, "; %s:\n",
          n ? "the devices are (P:D or a name substring selects one)"
            : "there is no OpenCL device (is an ICD installed?)");
  for (size_t i = 0; i < n && i < MAX_LISTED; i++)
    fprintf(stderr, "  %u:%u  %s / %s\n", devs[i].platform_index, devs[i].device_index,
            devs[i].caps.platform_name, devs[i].caps.device_name);
  return 1;
}

/* --select: print only the index and name of the device CLSP_DEVICE
 * selects; exit 1 naming the value and the devices there are if none. */
static int print_selection(void) {
  clsp_device_info sel;
  const char *spec = getenv("CLSP_DEVICE");
  if (clsp_device_select(spec, &sel) != CLSP_SUCCESS) return no_selection(spec);
  printf("%u:%u %s\n", sel.platform_index, sel.device_index, sel.caps.device_name);
  return 0;
}

static const char usage[] =
  "usage: clsp info [--select]\n"
  "  Lists every OpenCL device; '*' marks the one CLSP_DEVICE (or the default\n"
  "  rule) selects. --select prints only that one. Exit status: 0 ok, 1 no\n"
  "  device selected, 2 usage error.\n";

int clsp_cmd_info(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--select")) return print_selection();
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "clsp info: unknown option '%s'\n%s", argv[1], usage);
    return 2;
  }
  clsp_device_info devs[MAX_LISTED];
  size_t n = 0;
  if (!list_devices(devs, &n)) return 1;
  const char *spec = getenv("CLSP_DEVICE");
  clsp_device_info sel;
  int have_sel = clsp_device_select(spec, &sel) == CLSP_SUCCESS;
  printf(
    "clspconv %s: %zu OpenCL device%s (platforms without devices are "
    "skipped)\n",
    CLSP_VERSION_STRING, n, n == 1 ? "" : "s");
  for (size_t i = 0; i < n && i < MAX_LISTED; i++)
    print_device(&devs[i], have_sel && sel.platform_index == devs[i].platform_index &&
                             sel.device_index == devs[i].device_index);
  if (have_sel)
    printf("CLSP_DEVICE=%s selects %u:%u (%s)\n", spec ? spec : "(unset: default rule)",
           sel.platform_index, sel.device_index, sel.caps.device_name);
  else
    fprintf(stderr, "clsp info: CLSP_DEVICE=%s selects no device (listed above)\n",
            spec ? spec : "(unset)");
  return have_sel ? 0 : 1;
}
