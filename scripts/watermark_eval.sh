#!/usr/bin/env bash
# The watermark's figures on the real corpora, in a minute or two on one core:
#  1. false positives and p-value uniformity on every unmarked real answer,
#     and detection of marked answers joined to 200..800 words;
#  2. radioactivity: Kneser-Ney trigram students trained with 0/10/25/50% of
#     their answers marked, tested on their samples;
#  3. transform throughput and latency (bench/degrade_bench).
# Deterministic for the given seeds. BUILD picks the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CORPORA=${CORPORA:-../shared/corpora}
MOAT=$BUILD/moat
if [ ! -x "$MOAT" ]; then
  echo "watermark_eval: $MOAT not built (cmake --build $BUILD --target moat degrade_bench)" >&2
  exit 1
fi

echo "== watermark eval (seed 1)"
"$MOAT" watermark eval --corpora "$CORPORA" --seed 1 --lengths 200 400 600 800
echo
echo "== radioactivity (seed 7)"
"$MOAT" watermark radioactivity --corpora "$CORPORA" --seed 7 --marked-fraction 0 0.1 0.25 0.5
if [ -x "$BUILD/bench/degrade_bench" ]; then
  echo
  echo "== transform throughput (one core)"
  "$BUILD/bench/degrade_bench" "$CORPORA" 5
fi
