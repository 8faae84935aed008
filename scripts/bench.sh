#!/usr/bin/env bash
# `make bench`: throughput and memory figures on one generated log of at least
# a million exchanges. Figures, not pass/fail: the machine is shared and noisy,
# so compare the ratios against the read-only floor measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOAT=$BUILD/moat
CORPORA=${CORPORA:-../shared/corpora}
DIR=${BENCH_DIR:-out/bench}
SCALE=${BENCH_SCALE:-3}
RUNS=${BENCH_RUNS:-5}
mkdir -p "$DIR"

LOG=$DIR/seed-x$SCALE.jsonl
if [ ! -s "$LOG" ]; then
  echo "== generating the benchmark log (scenario seed, scale $SCALE, 7 days, seed 7)"
  "$MOAT" simulate --scenario seed --scale "$SCALE" --days 7 --seed 7 --corpora "$CORPORA" --out "$DIR/sim"
  mv "$DIR/sim/log.jsonl" "$LOG"
  mv "$DIR/sim/truth.jsonl" "$DIR/seed-x$SCALE.truth.jsonl"
fi
lines=$(wc -l < "$LOG")
if [ "$lines" -lt 1000000 ]; then
  echo "bench: $LOG has only $lines lines; raise BENCH_SCALE" >&2
  exit 1
fi

echo
echo "== pipeline: read-only floor, decode-only, full scan (one core, median of $RUNS)"
"$BUILD/bench/pipeline_bench" "$LOG" "$DIR/scan" "$RUNS"

echo
echo "== peak memory of a full 'moat scan'"
/usr/bin/time -f "peak RSS %M KB, wall %e s" "$MOAT" scan --quiet --input "$LOG" --out "$DIR/scan-cli" 2>&1 | tail -1
python3 - "$DIR/scan-cli/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"scan: {s['exchanges']} exchanges, {s['accounts']} accounts, {s['exchanges_per_second']:.0f} exchanges/s")
PY

if [ -x "$BUILD/bench/policy_bench" ]; then
  echo
  echo "== policy: Decide ns/op with N accounts beside a hash-map lookup floor (median of 5)"
  "$BUILD/bench/policy_bench" --benchmark_min_time=0.2 --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true 2>&1 | grep -E "^BM_.*_median|^Benchmark|^---"
  echo
  echo "== audit store: acknowledged records/s, group commit vs one commit per record"
  "$BUILD/bench/store_bench" "$DIR/store" 2
fi

if [ -x "$BUILD/bench/degrade_bench" ]; then
  echo
  echo "== degrade: transform MB/s and p50/p99 per ~4 KB response beside copy/parse floors"
  "$BUILD/bench/degrade_bench" "$CORPORA" 5
fi

if [ -x "$BUILD/bench/serve_load" ]; then
  echo
  echo "== moat serve: decision latency and throughput beside nginx (loopback, same run)"
  BUILD=$BUILD scripts/serve_bench.sh
fi

if [ -x "$BUILD/bench/micro_bench" ]; then
  echo
  echo "== kernels (Google Benchmark)"
  "$BUILD/bench/micro_bench" --benchmark_min_time=0.2
fi
