#!/usr/bin/env bash
# The demo: simulate the default scenario, scan it, evaluate the scan.
set -euo pipefail
cd "$(dirname "$0")/.."
MOAT=${MOAT:-build/moat}
OUT=${OUT:-out/demo}
CORPORA=${CORPORA:-../shared/corpora}
SCENARIO=${SCENARIO:-seed}
SEED=${SEED:-1}

mkdir -p "$OUT"
echo "== simulate: scenario $SCENARIO, seed $SEED (real prompts and traces from $CORPORA)"
"$MOAT" simulate --scenario "$SCENARIO" --seed "$SEED" --corpora "$CORPORA" --out "$OUT"
echo
echo "== scan"
"$MOAT" scan --input "$OUT/log.jsonl" --out "$OUT/scan"
echo
echo "== eval against ground truth"
"$MOAT" eval --log "$OUT/log.jsonl" --truth "$OUT/truth.jsonl" --out "$OUT/scan" | tee "$OUT/eval.txt"
echo
echo "Reports:"
echo "  verdicts per account  $OUT/scan/accounts.jsonl"
echo "  campaigns             $OUT/scan/campaigns.jsonl"
echo "  quarantined lines     $OUT/scan/quarantine.jsonl"
echo "  scan summary          $OUT/scan/summary.json"
echo "  evaluation            $OUT/eval.txt"
