#!/usr/bin/env bash
# The same day's traffic split across three gateway streams, one plain, one
# gzip, one zstd: the scan must merge them into one event-time order.
set -euo pipefail
cd "$WORK"
awk 'NR % 3 == 1' "$CASE/../truncated_gzip/input.jsonl" > a.jsonl
awk 'NR % 3 == 2' "$CASE/../truncated_gzip/input.jsonl" | gzip -n > b.jsonl.gz
awk 'NR % 3 == 0' "$CASE/../truncated_gzip/input.jsonl" | zstd -q > c.jsonl.zst
