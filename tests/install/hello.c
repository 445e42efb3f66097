/* SPDX-License-Identifier: Apache-2.0 */
/* The README's example of a program built against the installed library
 * with pkg-config; tests/install/check.sh compiles and runs it. */
#include <stdio.h>
#include <clspconv/clspconv.h>

int main(void) {
  clsp_context *ctx;
  clsp_status st = clsp_context_create(NULL, &ctx); /* device from $CLSP_DEVICE */
  if (st != CLSP_SUCCESS) {
    fprintf(stderr, "no context: %s\n", clsp_status_string(st));
    return 1;
  }
  printf("clspconv on %s\n", clsp_context_caps(ctx)->device_name);
  clsp_context_destroy(ctx);
  return 0;
}
