#!/usr/bin/env bash
# A bounded soak of `moat serve`: ingest and decide load with malformed
# requests mixed in, and one `kill -9` + restart in the middle. Checks: the
# server never dies on its own, never answers 5xx to a bad request, RSS stays
# flat, and every acknowledged write (exchange batches, overrides, appeals)
# is there after the restart.
#   SOAK_SECONDS=600 (default) scripts/soak.sh
# Exit code 0 when every check holds.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOAT=${MOAT:-$BUILD/moat}
SOAK_SECONDS=${SOAK_SECONDS:-600}
DIR=${SOAK_DIR:-out/soak}
PORT=${SOAK_PORT:-$((20000 + RANDOM % 20000))}

rm -rf "$DIR"
mkdir -p "$DIR/data"
DIR=$(cd "$DIR" && pwd)
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/admin.token"

start_server() {
  "$MOAT" serve --listen "127.0.0.1:$PORT" --threads 2 --data-dir "$DIR/data" \
    --admin-token-file "$DIR/admin.token" --max-body-mb 4 2>>"$DIR/moat.log" &
  echo $! > "$DIR/moat.pid"
  disown  # it is killed with -9 on purpose: no job notice
}
start_server
trap 'kill "$(cat "$DIR/moat.pid")" 2>/dev/null || true' EXIT

python3 - "$DIR" "$PORT" "$SOAK_SECONDS" "$MOAT" <<'PY'
import http.client, json, os, random, signal, socket, subprocess, sys, time

d, port, seconds, moat = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
token = open(f"{d}/admin.token").read().strip()
rng = random.Random(7)
t_start = time.time()
failures, rss, acked_ids, acked_overrides, acked_appeals = [], [], [], {}, []
counts = {"batches": 0, "decides": 0, "malformed": 0, "4xx": 0, "restarts": 0}

def pid():
    return int(open(f"{d}/moat.pid").read())

def alive(p):
    try:
        os.kill(p, 0)
        return True
    except OSError:
        return False

def wait_ready():
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return c
        except OSError:
            time.sleep(0.05)
    raise SystemExit("soak: the server did not come up")

def sample_rss():
    try:
        for line in open(f"/proc/{pid()}/status"):
            if line.startswith("VmRSS:"):
                rss.append((round(time.time() - t_start, 1), int(line.split()[1])))
    except OSError:
        pass

def call(c, method, path, body=None, headers=None, expect=None):
    h = dict(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 500:
        failures.append(f"{method} {path}: {r.status} {data[:200]!r}")
    if expect is not None and r.status != expect:
        failures.append(f"{method} {path}: expected {expect}, got {r.status} {data[:200]!r}")
    return r.status, data

ACCOUNTS = 3000  # bounded: memory must level off, not grow with time
seq = 0
base = 1767225600  # 2026-01-01T00:00:00Z, event time advances with the load

def batch(n):
    global seq
    lines, ids = [], []
    for _ in range(n):
        seq += 1
        a = rng.randrange(ACCOUNTS)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + seq // 4)) + "Z"
        rid = f"soak-{seq}"
        ids.append(rid)
        lines.append(json.dumps({"ts": ts, "account_id": f"acct_{a}", "request_id": rid, "ip": f"10.0.{a % 200}.{a % 7}",
                                 "model": "m", "prompt": f"question {rng.randrange(10**6)} about topic {a % 50}",
                                 "output_tokens": rng.randrange(50, 900), "max_tokens": 1024}))
    if rng.random() < 0.3:  # a malformed line inside a good batch
        lines.insert(rng.randrange(len(lines)), "{broken json")
    return "\n".join(lines) + "\n", ids

MALFORMED = [
    ("POST", "/v1/decide", "{not json", 400),
    ("POST", "/v1/decide", '{"account_id": 5}', 400),
    ("POST", "/v1/decide", "[]", 400),
    ("POST", "/v1/exchanges", "garbage\n", 400),
    ("GET", "/v1/decide", None, 405),
    ("GET", "/no/such/route", None, 404),
    ("POST", "/admin/v1/overrides", "{}", 401),
]

def raw_abuse():
    # Oversized body (413), a slow half-sent request and a garbage request line, each on its own socket.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/exchanges HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    if not s.recv(4096).startswith(b"HTTP/1.1 413"):
        failures.append("oversized body was not answered 413")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
    if not s.recv(4096).startswith(b"HTTP/1.1 400"):
        failures.append("garbage request was not answered 400")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Le")  # and walks away
    s.close()

c = wait_ready()
restarted = False
last_rss = 0
admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
while time.time() - t_start < seconds:
    if not alive(pid()):
        failures.append(f"server died on its own at {time.time() - t_start:.1f}s")
        break
    if not restarted and time.time() - t_start > seconds / 2:
        os.kill(pid(), signal.SIGKILL)  # mid-load, no warning
        time.sleep(0.2)
        p = subprocess.Popen([moat, "serve", "--listen", f"127.0.0.1:{port}", "--threads", "2", "--data-dir",
                              f"{d}/data", "--admin-token-file", f"{d}/admin.token", "--max-body-mb", "4"],
                             stderr=open(f"{d}/moat.log", "a"))
        open(f"{d}/moat.pid", "w").write(str(p.pid))
        c = wait_ready()
        restarted = True
        counts["restarts"] += 1
    try:
        body, ids = batch(rng.randrange(20, 200))
        st, data = call(c, "POST", "/v1/exchanges", body, {"Content-Type": "application/x-ndjson"})
        if st == 200:
            acked_ids.extend(ids)  # acknowledged: must survive anything from now on
            counts["batches"] += 1
        for _ in range(20):
            a = rng.randrange(ACCOUNTS)
            call(c, "POST", "/v1/decide", json.dumps({"account_id": f"acct_{a}", "ip": f"10.0.{a % 200}.1"}), expect=200)
            counts["decides"] += 1
        m = rng.choice(MALFORMED)
        st, _ = call(c, m[0], m[1], m[2], expect=m[3])
        counts["malformed"] += 1
        if rng.random() < 0.05:
            raw_abuse()
            counts["malformed"] += 3
        if rng.random() < 0.05:
            a = f"acct_{rng.randrange(ACCOUNTS)}"
            st, data = call(c, "POST", "/admin/v1/overrides",
                            json.dumps({"account_id": a, "action": "throttle", "requests_per_minute": 30,
                                        "analyst": "soak", "reason": "soak"}), admin)
            if st == 201:
                acked_overrides[a] = json.loads(data)["id"]
            st, data = call(c, "POST", "/admin/v1/appeals", json.dumps({"account_id": a, "text": "please"}), admin)
            if st == 201:
                acked_appeals.append((a, json.loads(data)["id"]))
    except (OSError, http.client.HTTPException) as e:
        if not alive(pid()):
            failures.append(f"server died: {e}")
            break
        c = wait_ready()  # e.g. a connection closed by a 4xx; reconnect
    if time.time() - last_rss > max(1.0, seconds / 60):
        sample_rss()
        last_rss = time.time()

# Verification after the load: the journal and the store must hold every acknowledged write.
c = wait_ready()
import re
in_journal = set(re.findall(r'"request_id": ?"(soak-[0-9]+)"', open(f"{d}/data/journal.jsonl").read()))
missing = [i for i in acked_ids if i not in in_journal]
missing_overrides = []
for a, oid in acked_overrides.items():
    st, data = call(c, "GET", f"/admin/v1/accounts/{a}", headers=admin)
    if st != 200 or f'"id":{oid},' not in data.decode():
        missing_overrides.append(a)
missing_appeals = []
st, data = call(c, "GET", "/admin/v1/appeals?status=open", headers=admin)
have = data.decode()
for a, aid in acked_appeals:
    if f'"id":{aid},' not in have:
        missing_appeals.append(aid)

half = [k for t, k in rss if t > seconds / 2 + 5]
first = [k for t, k in rss if seconds * 0.2 < t < seconds / 2]
print(f"soak: {seconds:.0f} s, {counts['batches']} batches ({len(acked_ids)} exchanges acknowledged), "
      f"{counts['decides']} decisions, {counts['malformed']} malformed requests, {counts['restarts']} kill -9 restart")
print("soak: RSS samples (s, KB): " + ", ".join(f"{t}:{k}" for t, k in rss))
if first and half:
    print(f"soak: RSS before the restart max {max(first)} KB, after it max {max(half)} KB, "
          f"growth within the second half {max(half) - min(half)} KB")
print(f"soak: acknowledged exchanges missing after restart: {len(missing)}; overrides missing: "
      f"{len(missing_overrides)} of {len(acked_overrides)}; appeals missing: {len(missing_appeals)} of {len(acked_appeals)}")
for f in failures[:20]:
    print("soak: FAIL " + f)
ok = not failures and not missing and not missing_overrides and not missing_appeals and counts["restarts"] == 1
print("soak: " + ("every check holds" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
