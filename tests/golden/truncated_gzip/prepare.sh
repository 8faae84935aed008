#!/usr/bin/env bash
# A gzip stream cut off mid-way: the lines before the cut must still be scanned.
set -euo pipefail
python3 - "$CASE/input.jsonl" "$WORK/cut.jsonl.gz" <<'PY'
import gzip, sys
data = open(sys.argv[1], "rb").read()
blob = gzip.compress(data, compresslevel=6, mtime=0)
open(sys.argv[2], "wb").write(blob[: len(blob) * 2 // 3])
PY
