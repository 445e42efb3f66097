#!/usr/bin/env bash
# Runs every benchmark quoted in BENCHMARKS.md on one device and keeps the
# raw outputs in OUTDIR (default bench-out/). Needs a build in ./build and
# the KITTI scans in ../shared/data/kitti. Takes ~15 minutes on 2 cores.
#   CLSP_DEVICE=pthread POCL_DEVICES=pthread tools/scripts/run-benchmarks.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-out}
kitti=${CLSP_KITTI_DIR:-../shared/data/kitti}
mkdir -p "$out"
clsp=build/tools/clsp

echo "== start-up: process start to every kernel program ready (5 runs each)"
for run in 1 2 3 4 5; do
  cache=$(mktemp -d)
  # cold: empty clspconv cache and PoCL's own kernel cache disabled
  /usr/bin/time -f "cold %e s" env CLSP_CACHE_DIR="$cache" POCL_KERNEL_CACHE=0 \
    $clsp warmup >/dev/null
  /usr/bin/time -f "warm %e s" env CLSP_CACHE_DIR="$cache" POCL_KERNEL_CACHE=0 \
    $clsp warmup >/dev/null
  rm -rf "$cache"
done 2>&1 | tee "$out/startup.txt"

# Per-kernel checks with timings (tests/checkkernels.c): each kernel is
# checked against its CPU reference, then timed (median after a warm-up).
check=build/tests/checkkernels
echo "== rulebook (KITTI 000000, SECOND recipe)"
$check --bench --input "$kitti/000000.bin" hash rulebook_subm rulebook_regular \
  | tee "$out/rulebook.txt"

echo "== conv layers (KITTI 000000)"
$check --bench --reps 9 --input "$kitti/000000.bin" --channels 64,64 conv_subm \
  | tee "$out/conv.txt"
$check --bench --reps 9 --input "$kitti/000000.bin" --channels 32,64 conv_regular \
  | tee -a "$out/conv.txt"

echo "== training: forward + backward of the same layers (KITTI 000000)"
build/tests/clsp-bench-train "$kitti/000000.bin" --reps 9 | tee "$out/train.txt"

for net in second minkunet; do
  echo "== $net on KITTI 000000"
  $clsp bench --net $net --input "$kitti/000000.bin" --repeat 5 \
    --json "$out/$net-kitti.json" 2>/dev/null | tee "$out/$net-kitti.txt"
  echo "== $net on the built-in scene"
  $clsp bench --net $net --repeat 5 --json "$out/$net-scene.json" \
    --trace "$out/$net-scene.trace.json" 2>/dev/null | tee "$out/$net-scene.txt"
done
