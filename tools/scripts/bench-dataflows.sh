#!/usr/bin/env bash
# Fused vs gather -> GEMM -> scatter on one device, interleaved in one run
# (docs/performance.md, BENCHMARKS.md). KITTI 000000, SECOND recipe:
#  - checkkernels --bench: SubM 64->64 and regular 32->64 (gemm atomic,
#    gemm ordered, fused alternating call by call, fraction of the FMA
#    peak, fused speed-up) and the rulebooks;
#  - clsp bench --net second (and minkunet) with CLSP_CONV_DATAFLOW=gemm and
#    =fused alternating process by process, ROUNDS rounds;
#  - with BASE=DIR (a build of an older commit, e.g. main): its
#    checkkernels and clsp bench in the same rounds.
# Raw outputs and a summary (summary.txt) go to OUTDIR.
#   POCL_DEVICES=pthread CLSP_DEVICE=pthread tools/scripts/bench-dataflows.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-dataflows}
kitti=${CLSP_KITTI_DIR:-../shared/data/kitti}/000000.bin
rounds=${ROUNDS:-3}
base=${BASE:-}
mkdir -p "$out"
lscpu > "$out/lscpu.txt"
for r in $(seq 1 "$rounds"); do
  echo "== round $r"
  build/tests/checkkernels --bench --input "$kitti" rulebook > "$out/rulebook-new-$r.txt"
  [ -n "$base" ] && "$base/tests/checkkernels" --bench --input "$kitti" rulebook \
    > "$out/rulebook-base-$r.txt"
  for flow in gemm fused; do
    CLSP_CONV_DATAFLOW=$flow build/tools/clsp bench --net second --input "$kitti" \
      --repeat 3 --json "$out/second-$flow-$r.json" > "$out/second-$flow-$r.txt" 2>&1
  done
  if [ -n "$base" ]; then
    "$base/tools/clsp" bench --net second --input "$kitti" --repeat 3 \
      --json "$out/second-base-$r.json" > "$out/second-base-$r.txt" 2>&1
  fi
done
for layer in "64,64 conv_subm" "32,64 conv_regular"; do
  set -- $layer
  build/tests/checkkernels --bench --reps 7 --input "$kitti" --channels "$1" "$2" \
    >> "$out/layers-new.txt"
  [ -n "$base" ] && "$base/tests/checkkernels" --bench --reps 7 --input "$kitti" \
    --channels "$1" "$2" >> "$out/layers-base.txt"
done
if [ "${MINKUNET:-1}" = 1 ]; then
  for flow in gemm fused; do
    reps=3; [ $flow = gemm ] && reps=1 # ~22 s per pass
    CLSP_CONV_DATAFLOW=$flow build/tools/clsp bench --net minkunet --input "$kitti" \
      --repeat $reps --json "$out/minkunet-$flow.json" > "$out/minkunet-$flow.txt" 2>&1
  done
fi
python3 - "$out" <<'PY' | tee "$out/summary.txt"
import glob, json, statistics, sys
out = sys.argv[1]
def med(xs): return statistics.median(xs) if xs else float('nan')
for net in ('second', 'minkunet'):
    for flow in ('base', 'gemm', 'fused'):
        runs = [json.load(open(f)) for f in sorted(glob.glob(f'{out}/{net}-{flow}*.json'))]
        if not runs: continue
        ms = [r['total_ms'] for r in runs]
        peak = [r.get('fma_peak_gflops', 0) for r in runs]
        gf = runs[0]['gflop']
        rb = med([sum(l['stage_ms']['rulebook'] for l in r['layers']) for r in runs])
        print(f"{net:8s} {flow:5s} runs {len(runs)}: total ms median {med(ms):8.1f} "
              f"(all {', '.join(f'{m:.0f}' for m in ms)}); rulebooks {rb:.0f} ms; "
              f"{gf / (med(ms) * 1e-3):6.1f} GFLOP/s; FMA peak median {med(peak):.0f} "
              f"-> {100 * gf / (med(ms) * 1e-3) / med(peak) if med(peak) else 0:.1f}% of peak")
# Per layer: conv time without its rulebook, gemm vs fused (medians over rounds).
for net in ('second', 'minkunet'):
    per = {}
    for flow in ('gemm', 'fused'):
        for f in sorted(glob.glob(f'{out}/{net}-{flow}*.json')):
            for l in json.load(open(f))['layers']:
                ms = l['ms'] - l['stage_ms']['rulebook']
                per.setdefault(l['name'], {}).setdefault(flow, []).append(ms)
                per[l['name']]['shape'] = f"{l['kind']} {l['c_in']}>{l['c_out']} {l['gflop']:.3f} GFLOP"
    if per: print(f"\n{net}: per layer, ms without the rulebook (median): gemm, fused, ratio")
    for name, d in per.items():
        if 'gemm' in d and 'fused' in d:
            g, fu = med(d['gemm']), med(d['fused'])
            print(f"  {name:16s} {d['shape']:28s} {g:9.2f} {fu:9.2f} {g / fu if fu else 0:6.1f}x")
PY
