#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR and checks what the README
# promises: the installed clsp runs without LD_LIBRARY_PATH (its rpath
# finds the installed library), and a program builds against the installed
# clspconv.pc and runs. Usage: check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dest="$(mktemp -d "${TMPDIR:-/tmp}/clsp-install.XXXXXX")"
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest/install.log" 2>&1 ||
  { cat "$dest/install.log"; exit 1; }
clsp="$(find "$dest" -path '*/bin/clsp' -type f | head -1)"
[ -x "$clsp" ] || { echo "no bin/clsp under $dest"; exit 1; }
out="$(env -u LD_LIBRARY_PATH "$clsp" --version)"
echo "installed clsp: $out"
[ "${out#clsp }" != "$out" ] || { echo "unexpected: $out"; exit 1; }
pc="$(find "$dest" -name clspconv.pc | head -1)"
[ -n "$pc" ] || { echo "no clspconv.pc under $dest"; exit 1; }
# The .pc names the final prefix; the files lie under DESTDIR for now.
export PKG_CONFIG_PATH="$(dirname "$pc")"
prefix="$(pkg-config --variable=prefix clspconv)"
pc_args=(--define-variable=prefix="$dest$prefix")
cc="${CC:-cc}"
"$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/install/hello.c" \
  $(pkg-config "${pc_args[@]}" --cflags --libs clspconv) \
  -Wl,-rpath,"$(pkg-config "${pc_args[@]}" --variable=libdir clspconv)" -o "$dest/hello"
echo "built against $pc: $(env -u LD_LIBRARY_PATH ldd "$dest/hello" | grep clspconv)"
# Running it needs a device; without one, the program's own message is fine.
env -u LD_LIBRARY_PATH "$dest/hello" || echo "(hello ran: no OpenCL device here)"
