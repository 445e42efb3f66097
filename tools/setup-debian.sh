#!/usr/bin/env bash
# Installs what clspconv needs on Debian 12 (as root, only what is missing),
# then configures and builds it in ./build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config meson ninja-build
  ocl-icd-opencl-dev opencl-headers clinfo
  pocl-opencl-icd mesa-opencl-icd oclgrind
  libclblast-dev libcmocka-dev
  libonnx-dev protobuf-c-compiler libprotobuf-c-dev
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

if [ ! -f build/build.ninja ]; then
  meson setup build -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built in $(pwd)/build" >&2
