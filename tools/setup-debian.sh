#!/usr/bin/env bash
# Installs what clspconv needs on Debian 12 (as root, only what is missing),
# then configures and builds it in ./build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config meson ninja-build
  ocl-icd-opencl-dev opencl-headers clinfo
  pocl-opencl-icd mesa-opencl-icd oclgrind
  libclblast-dev libcmocka-dev libopenblas-dev
  libonnx-dev protobuf-c-compiler libprotobuf-c-dev
  clang-format git
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
  apt_get update -q
  DEBIAN_FRONTEND=noninteractive apt_get install -y -q --no-install-recommends "${missing[@]}"
fi

# Quiet when all goes well; on a failure the captured output (the
# compiler's error, meson's message) is shown and the script exits 1.
log="$(mktemp "${TMPDIR:-/tmp}/clsp-setup.XXXXXX")"
trap 'rm -f "$log"' EXIT
quiet() { # what, command...
  local what=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "setup: $what failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}
if [ ! -f build/build.ninja ]; then
  quiet "configuring" meson setup build -Dwerror=true
fi
quiet "building" ninja -C build
echo "setup: built in $(pwd)/build" >&2
