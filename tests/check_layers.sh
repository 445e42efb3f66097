#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The library's layering (docs/architecture.md): src/core is the ground
# floor. Fails when
#  1. a file in src/core includes a header of src/pipeline;
#  2. an object of src/core uses a symbol that an object of src/pipeline
#     defines (a call or data reference upward), read with nm from the
#     static library;
#  3. a file other than src/core/launch.c calls clSetKernelArg or
#     clEnqueueNDRangeKernel;
#  4. a file in tools/ includes a library-internal header or a test
#     reference (tests/ref): the CLI is a client of the public API.
# Usage: check_layers.sh SOURCE_ROOT LIBCLSPCONV.a
set -eu
root=$1
lib=$2
fail=0

pipeline_headers=$(cd "$root/src/pipeline" && ls *.h)
for h in $pipeline_headers; do
  if grep -n "#include \"$h\"" "$root"/src/core/*.c "$root"/src/core/*.h; then
    echo "FAIL: src/core includes pipeline header $h"; fail=1
  fi
done

defined_up=$(nm -A --defined-only "$lib" | awk -F: '$2 ~ /^pipeline_/ {print $3}' |
             awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
used_core=$(nm -A -u "$lib" | awk -F: '$2 ~ /^core_/ {print $2 " " $3}' |
            awk '{print $1 " " $3}')
upward=$(echo "$used_core" | while read -r obj sym; do
  [ -n "$sym" ] || continue
  if echo "$defined_up" | grep -qx "$sym"; then echo "$obj uses $sym"; fi
done)
if [ -n "$upward" ]; then
  echo "FAIL: src/core uses symbols defined in src/pipeline:"; echo "$upward"; fail=1
fi

calls=$(grep -rln "clSetKernelArg *(\|clEnqueueNDRangeKernel *(" "$root/src" "$root/tools" \
          "$root/tests" --include=*.c | grep -v "src/core/launch.c$" || true)
if [ -n "$calls" ]; then
  echo "FAIL: kernel launches outside src/core/launch.c: $calls"; fail=1
fi

for h in $(cd "$root/src" && ls core/*.h pipeline/*.h model/*.h | xargs -n1 basename) \
         $(cd "$root/tests/ref" && ls *.h); do
  if grep -ln "#include \"$h\"" "$root"/tools/*.c "$root"/tools/*.h 2>/dev/null |
     grep -v "embed_kernels.c"; then
    echo "FAIL: tools/ includes library-internal or test header $h"; fail=1
  fi
done

[ $fail -eq 0 ] && echo "layers ok: core includes and calls nothing of pipeline;" \
  "only launch.c launches; tools/ includes no internal or test header"
exit $fail
