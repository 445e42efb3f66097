/* SPDX-License-Identifier: Apache-2.0 */
/* clsp warmup: builds (or loads from the binary cache) every kernel program
 * for the selected device and reports how long it took and what the cache
 * did. Run it once after installing to make later starts fast; time it from
 * outside to measure process start to all kernels ready. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "clsp.h"
#include "clspconv/clspconv.h"

int clsp_cmd_warmup(int argc, char **argv) {
  clsp_context_options o = {.log = clsp_tool_log_notes};
  int launches = 1;
  static const char usage[] =
    "usage: clsp warmup [--device SPEC] [--no-cache] [--programs-only]\n"
    "  Builds (or loads from the binary cache) every kernel program for the\n"
    "  device, then launches everything once on a point-cloud workload\n"
    "  (CLBlast's GEMMs included; on PoCL also on ~98 k points, whose wide\n"
    "  grids PoCL compiles apart) so that drivers that compile at the first launch\n"
    "  (PoCL) have done so: the first frame of a later run is then not slower\n"
    "  than the next. --programs-only: build the programs only.\n"
    "  Exit status: 0 ok, 1 failure, 2 usage error.\n";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      o.device = argv[++i];
    else if (!strcmp(argv[i], "--no-cache"))
      o.flags |= CLSP_CONTEXT_NO_BINARY_CACHE;
    else if (!strcmp(argv[i], "--programs-only"))
      launches = 0;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return 0;
    } else {
      fprintf(stderr, "clsp warmup: %s '%s'\n%s",
              strcmp(argv[i], "--device") ? "unknown option" : "missing value after",
              argv[i], usage);
      return 2;
    }
  }
  double t0 = clsp_tool_now_ms();
  clsp_context *ctx = NULL;
  clsp_status st = clsp_context_create(&o, &ctx);
  if (st != CLSP_SUCCESS) {
    clsp_tool_context_fail("clsp warmup", o.device, st);
    return 1;
  }
  double t1 = clsp_tool_now_ms();
  st = clsp_context_warmup(ctx);
  double t2 = clsp_tool_now_ms();
  if (st == CLSP_SUCCESS && launches) st = clsp_context_warmup_launches(ctx);
  double t3 = clsp_tool_now_ms();
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "clsp warmup: %s: %s\n", clsp_status_string(st),
            clsp_context_last_error(ctx));
    clsp_context_destroy(ctx);
    return 1;
  }
  clsp_cache_stats cs;
  clsp_context_cache_stats(ctx, &cs);
  printf(
    "device %s\ncontext %.1f ms, programs %.1f ms, launches %.1f ms\n"
    "binary cache %s: %u hits, %u misses, %u rejected, %u written\n",
    clsp_context_caps(ctx)->device_name, t1 - t0, t2 - t1, t3 - t2,
    clsp_context_cache_dir(ctx)[0] ? clsp_context_cache_dir(ctx) : "(disabled)", cs.hits,
    cs.misses, cs.rejected, cs.writes);
  clsp_context_destroy(ctx);
  return 0;
}
