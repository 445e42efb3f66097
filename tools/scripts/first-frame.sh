#!/usr/bin/env bash
# First-frame latency on fresh caches: `clsp warmup`, then one `clsp bench`
# process (its start-up builds and launches every kernel once; its warm-up
# pass is then its first frame), compared with the median of the passes
# after it; and the same without `clsp warmup`, for contrast.
# Usage: tools/scripts/first-frame.sh [CLSP] [clsp bench options...]
set -euo pipefail
clsp=${1:-build/tools/clsp}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fresh_caches() {
  rm -rf "$tmp/clsp" "$tmp/pocl"
  export CLSP_CACHE_DIR="$tmp/clsp" POCL_CACHE_DIR="$tmp/pocl"
}

# Prints "first FIRST_MS median MEDIAN_MS ratio R" from bench's progress lines.
first_vs_median() {
  "$clsp" bench "$@" --repeat 5 2>&1 >/dev/null |
    awk '/start-up/ { s = $(NF - 1) }
         { for (i = 1; i < NF; i++) {
             if ($i == "warm-up" && $(i + 2) == "ms") w = $(i + 1)
             if ($i == "far") m = $(i + 1) } }
         END { printf "start-up %.1f ms, first frame %.1f ms, median of the next 5 %.1f ms, ratio %.2f\n", s, w, m, w / m }'
}

fresh_caches
start=$(date +%s.%N)
"$clsp" warmup >/dev/null
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "clsp warmup on fresh caches: %.1f s\n", b - a }'
printf 'after warmup:   %s\n' "$(first_vs_median "$@")"
fresh_caches
printf 'without warmup: %s\n' "$(first_vs_median "$@")"
