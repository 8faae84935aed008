#!/usr/bin/env bash
# `moat serve` decision latency and throughput, beside nginx answering a
# static 200 on the same machine in the same run (loopback only). Figures,
# not pass/fail:
#   1. closed loop (wrk, keep-alive, as fast as it goes): requests/s and
#      latency distribution for nginx and for moat's POST /v1/decide;
#   2. open loop at a constant rate (bench/serve_load; Debian's wrk 4.1 has
#      no -R): latency percentiles at SERVE_BENCH_RATE requests/s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOAT=$BUILD/moat
LOAD=$BUILD/bench/serve_load
DIR=${SERVE_BENCH_DIR:-out/bench/serve}
SECS=${SERVE_BENCH_SECONDS:-10}
RATE=${SERVE_BENCH_RATE:-20000}
CONNS=${SERVE_BENCH_CONNECTIONS:-32}
MOAT_PORT=${SERVE_BENCH_MOAT_PORT:-18080}
NGINX_PORT=${SERVE_BENCH_NGINX_PORT:-18081}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
command -v wrk >/dev/null || { echo "serve_bench: wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "serve_bench: nginx is not installed (scripts/install-deps.sh)" >&2; exit 1; }

rm -rf "$DIR"
mkdir -p "$DIR/data" "$DIR/nginx/tmp"
DIR=$(cd "$DIR" && pwd)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "serve_bench: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# nginx with a private configuration: no root config, no system paths.
cat > "$DIR/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $DIR/nginx/tmp/body;
  proxy_temp_path $DIR/nginx/tmp/proxy;
  fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
  uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
  scgi_temp_path $DIR/nginx/tmp/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "ok\n"; }
  }
}
NGINX
"$NGINX" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>"$DIR/nginx/stderr.log" &
pids+=($!)

# moat: two workers (this machine has two cores), the default policy, and no
# fsync (the decision path never touches the disk; ingest does).
policy=()
[ -f config/policy.toml ] && policy=(--policy config/policy.toml)
"$MOAT" serve --listen "127.0.0.1:$MOAT_PORT" --threads 2 --data-dir "$DIR/data" --no-fsync \
  "${policy[@]}" 2>"$DIR/moat.log" &
pids+=($!)
wait_port "$NGINX_PORT"
wait_port "$MOAT_PORT"

# The decision cache knows the 10,000 accounts the load rotates over.
python3 - "$DIR/seed.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(json.dumps({"ts": "2026-01-01T00:00:00Z", "account_id": f"acct_{i}", "ip": f"10.{i % 250}.{i // 250 % 250}.7",
                            "model": "m-large", "prompt": "hello", "output_tokens": 100}) + "\n")
PY
exec 3<>"/dev/tcp/127.0.0.1/$MOAT_PORT"
len=$(stat -c %s "$DIR/seed.jsonl")
{ printf 'POST /v1/exchanges HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %s\r\n\r\n' "$len"; cat "$DIR/seed.jsonl"; } >&3
head -1 <&3 | tr -d '\r'
exec 3>&-

wrk_run() {  # name url [script]
  local name=$1 url=$2 script=${3:-}
  local args=(-t1 -c"$CONNS" -d"${SECS}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$url" > "$DIR/wrk-$name.txt"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$DIR/wrk-$name.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$DIR/wrk-$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$DIR/wrk-$name.txt")
  printf '  %-24s %10s req/s   p50 %8s   p99 %8s\n' "$name" "$rps" "$p50" "$p99"
  echo "$rps" > "$DIR/rps-$name"
}

echo "== closed loop: wrk -t1 -c$CONNS -d${SECS}s, keep-alive (as fast as each server answers)"
wrk_run nginx-static "http://127.0.0.1:$NGINX_PORT/"
wrk_run moat-decide "http://127.0.0.1:$MOAT_PORT/v1/decide" bench/wrk_decide.lua
python3 - "$DIR" <<'PY'
import sys
d = sys.argv[1]
n = float(open(f"{d}/rps-nginx-static").read())
m = float(open(f"{d}/rps-moat-decide").read())
print(f"  moat / nginx throughput: {m / n:.2f} (target >= 0.5)")
PY

echo
echo "== open loop: $RATE requests/s for ${SECS}s on 16 keep-alive connections (bench/serve_load)"
printf '  %-24s ' nginx-static
"$LOAD" --port "$NGINX_PORT" --get --path / --rate "$RATE" --seconds "$SECS" --connections 16 | tee "$DIR/open-nginx.json"
printf '  %-24s ' moat-decide
"$LOAD" --port "$MOAT_PORT" --rate "$RATE" --seconds "$SECS" --connections 16 | tee "$DIR/open-moat.json"
python3 - "$DIR/open-moat.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  moat decide at {r['achieved_rate']:.0f}/s: p50 {r['p50_us'] / 1000:.3f} ms, p99 {r['p99_us'] / 1000:.3f} ms, "
      f"p99.9 {r['p999_us'] / 1000:.3f} ms (target p99 <= 1 ms), non-2xx {r['non2xx']}")
PY
echo
echo "== moat's own decision histogram (server side)"
exec 3<>"/dev/tcp/127.0.0.1/$MOAT_PORT"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
grep -E '^moat_decision_duration_seconds_(bucket\{le="0.0001"|bucket\{le="0.001"|count)' <&3 | sed 's/^/  /'
exec 3>&-
