#!/usr/bin/env bash
# Detection quality matrix: every scenario x several seeds at default scale,
# simulate -> scan -> eval, then one summary table (and out/quality/summary.json).
#   scripts/quality.sh [SEEDS...]        default seeds: 1 2 3
# SCENARIOS, SCALE, DAYS, OUT and MOAT can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
MOAT=${MOAT:-build/moat}
OUT=${OUT:-out/quality}
SCALE=${SCALE:-1}
DAYS=${DAYS:-7}
SCENARIOS=${SCENARIOS:-"seed evasive-lowslow evasive-blend benign"}
CORPORA=${CORPORA:-../shared/corpora}
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)

for scenario in $SCENARIOS; do
  for seed in "${seeds[@]}"; do
    dir=$OUT/$scenario-s$seed
    if [ ! -s "$dir/log.jsonl" ]; then
      "$MOAT" simulate --scenario "$scenario" --seed "$seed" --scale "$SCALE" --days "$DAYS" \
        --corpora "$CORPORA" --out "$dir" >/dev/null 2>&1
    fi
    "$MOAT" scan --quiet --input "$dir/log.jsonl" --out "$dir/scan"
    "$MOAT" eval --json --log "$dir/log.jsonl" --truth "$dir/truth.jsonl" --out "$dir/scan" > "$dir/eval.json"
  done
done

python3 - "$OUT" $SCENARIOS -- "${seeds[@]}" <<'PY'
import json, sys
out = sys.argv[1]
sep = sys.argv.index("--")
scenarios, seeds = sys.argv[2:sep], sys.argv[sep + 1:]
def rate(r):
    return "  n/a " if r["rate"] is None else f"{r['rate']:.4f}"
rows, summary = [], []
print(f"{'scenario':<18}{'seed':>5}  {'recall':>7} {'fpr':>7} {'review':>7} {'leakage':>8}  {'grouping':>9}  {'benign-in-cmp':>13}  worst campaign (recall / leakage / largest-id share)")
for sc in scenarios:
    for s in seeds:
        e = json.load(open(f"{out}/{sc}-s{s}/eval.json"))
        worst = None
        for c in e["campaigns"]:
            key = (c["recall"]["rate"] or 0.0)
            if worst is None or key < (worst["recall"]["rate"] or 0.0):
                worst = c
        w = "-" if worst is None else f"{worst['label']} {rate(worst['recall'])} / {rate(worst['leakage'])} / {rate(worst['largest_campaign_id_share'])}"
        g = f"{e['campaigns_meeting_grouping_target']}/{e['counts']['true_campaigns']}"
        bic = e["purity"]["benign_accounts_in_predicted_campaigns"]
        print(f"{sc:<18}{s:>5}  {rate(e['recall']):>7} {rate(e['false_positive_rate']):>7} {rate(e['review_load']):>7} {rate(e['leakage']):>8}  {g:>9}  {bic:>13}  {w}")
        fps = [f"{p['population']}:{p['false_positives']['count']}/{p['review']['count']}" for p in e["populations"] if p["false_positives"]["count"] or p["review"]["count"]]
        if fps:
            print(f"{'':<25}fp/review by population: {' '.join(fps)}")
        summary.append({"scenario": sc, "seed": int(s), "recall": e["recall"], "false_positive_rate": e["false_positive_rate"],
                        "review_load": e["review_load"], "leakage": e["leakage"], "grouping": g,
                        "benign_in_campaigns": bic, "campaigns": e["campaigns"], "populations": e["populations"]})
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
PY
