#!/usr/bin/env bash
# The closed loop on a simulated scenario: simulate, start `moat serve
# --clock event` with the policy (config/policy.toml, plus the simulation's
# research-lab orgs on its allow-list, as an operator would list the labs it
# has verified), drive it with `moat replay`, print what every population
# received.   SCENARIO=seed SEED=1 scripts/replay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOAT=$BUILD/moat
SCENARIO=${SCENARIO:-seed}
SEED=${SEED:-1}
POLICY=${POLICY:-config/policy.toml}
OUT=${REPLAY_OUT:-out/replay/$SCENARIO-$SEED}
PORT=${REPLAY_PORT:-$((20000 + RANDOM % 20000))}
CORPORA=${CORPORA:-../shared/corpora}

mkdir -p "$OUT"
if [ ! -s "$OUT/sim/log.jsonl" ]; then
  "$MOAT" simulate --scenario "$SCENARIO" --seed "$SEED" --corpora "$CORPORA" --out "$OUT/sim" >/dev/null
fi
# The labs (eval-researcher accounts) are verified organisations.
python3 - "$OUT/sim" "$POLICY" "$OUT/policy.toml" <<'PY'
import json, re, sys
sim, src, dst = sys.argv[1:]
labs = {json.loads(l)["account_id"] for l in open(f"{sim}/truth.jsonl") if '"eval-researcher"' in l}
orgs = set()
for line in open(f"{sim}/log.jsonl"):
    if '"org_id"' not in line:
        continue
    x = json.loads(line)
    if x.get("account_id") in labs and x.get("org_id"):
        orgs.add(x["org_id"])
text = open(src).read()
m = re.search(r"^\[allowlist\]\s*$(.*?)^orgs\s*=\s*\[(.*?)\]", text, re.S | re.M)
if not m:
    sys.exit("replay.sh: no [allowlist] orgs = [...] in " + src)
listed = [o.strip() for o in m.group(2).split(",") if o.strip()]
listed += [json.dumps(o) for o in sorted(orgs)]
text = text[:m.start(2)] + ", ".join(listed) + text[m.end(2):]
open(dst, "w").write(text)
print(f"replay.sh: {len(orgs)} lab orgs added to the allow-list ({len(labs)} lab accounts)")
PY
rm -rf "$OUT/data"
"$MOAT" serve --listen "127.0.0.1:$PORT" --clock event --no-fsync --data-dir "$OUT/data" \
  --policy "$OUT/policy.toml" 2>"$OUT/serve.log" &
pid=$!
# The server's journal is as large as the log: kept only with KEEP_DATA=1.
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; [ -n "${KEEP_DATA:-}" ] || rm -rf "$OUT/data"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
"$MOAT" replay --log "$OUT/sim/log.jsonl" --truth "$OUT/sim/truth.jsonl" --server "http://127.0.0.1:$PORT" \
  --policy "$OUT/policy.toml" --json "$OUT/replay.json"
