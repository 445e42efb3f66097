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
  printf("      compute units %u, max work-group %zu, global memory %.1f GiB "
         "(largest allocation %.1f GiB)\n",
         c->compute_units, c->max_work_group_size,
         (double)c->global_mem_bytes / (1 << 30), (double)c->max_alloc_bytes / (1 << 30));
  printf("      local memory %llu KiB (%s)\n",
         (unsigned long long)(c->local_mem_bytes >> 10),
         c->local_mem_dedicated ? "dedicated" : "emulated in global");
  printf("      64-bit atomics %s, fp16 %s, fp64 %s, float atomic add %s, "
         "subgroups %s\n",
         yes(c->int64_atomics), yes(c->fp16), yes(c->fp64), yes(c->float_atomic_add),
         yes(c->subgroups));
}

/* --select: print only the index of the device CLSP_DEVICE selects; exit 1
 * if none matches. Used by `clsp matrix` to probe a device's presence. */
static int print_selection(void) {
  clsp_device_info sel;
  if (clsp_device_select(getenv("CLSP_DEVICE"), &sel) != CLSP_SUCCESS) return 1;
  printf("%u:%u %s\n", sel.platform_index, sel.device_index, sel.caps.device_name);
  return 0;
}

int clsp_cmd_info(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--select")) return print_selection();
  if (argc > 1) {
    printf("usage: clsp info [--select]\n  Lists every OpenCL device; '*' marks the "
           "one CLSP_DEVICE (or the default rule) selects.\n");
    return strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  clsp_device_info devs[MAX_LISTED];
  size_t n = 0;
  clsp_status st = clsp_devices_list(devs, MAX_LISTED, &n);
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp info: listing devices failed: %s (%d)\n",
            clsp_status_string(st), st);
    return 1;
  }
  const char *spec = getenv("CLSP_DEVICE");
  clsp_device_info sel;
  int have_sel = clsp_device_select(spec, &sel) == CLSP_SUCCESS;
  printf("clspconv %s: %zu OpenCL device%s (platforms without devices are "
         "skipped)\n",
         CLSP_VERSION_STRING, n, n == 1 ? "" : "s");
  for (size_t i = 0; i < n && i < MAX_LISTED; i++)
    print_device(&devs[i], have_sel && sel.platform_index == devs[i].platform_index &&
                               sel.device_index == devs[i].device_index);
  if (have_sel)
    printf("CLSP_DEVICE=%s selects %u:%u (%s)\n", spec ? spec : "(unset: default rule)",
           sel.platform_index, sel.device_index, sel.caps.device_name);
  else
    printf("CLSP_DEVICE=%s selects no device\n", spec ? spec : "(unset)");
  return have_sel ? 0 : 1;
}
