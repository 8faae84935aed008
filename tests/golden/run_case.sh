#!/usr/bin/env bash
# Golden end-to-end case: runs `moat scan` on CASE/ and compares every
# expected_* file with what the scan wrote. UPDATE=1 rewrites the expectations.
#   run_case.sh MOAT CASE_DIR
# The scan runs in a scratch folder holding a copy of the case's inputs, so
# the paths it writes (quarantine `source`) are the same on every machine.
# CASE_DIR/args        arguments after `moat scan`, relative to that folder
# CASE_DIR/exit_code   the expected exit status (default 0)
# CASE_DIR/prepare.sh  optional: builds more inputs in the scratch folder ($WORK)
# CASE_DIR/stdin       optional: piped to the scan's standard input (use `--input -`)
# CASE_DIR/stderr_contains  optional: lines the error output must contain
# CASE_DIR/expected/   files the scan must write, byte for byte
set -euo pipefail
moat=$1
case_dir=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
moat=$(cd "$(dirname "$moat")" && pwd)/$(basename "$moat")
export WORK=$work CASE=$case_dir
find "$case_dir" -maxdepth 1 -type f -name '*.jsonl*' -exec cp {} "$work/" \;
[ -x "$case_dir/prepare.sh" ] && "$case_dir/prepare.sh"
cd "$work"
args=$(cat "$case_dir/args")
want_rc=$(cat "$case_dir/exit_code" 2>/dev/null || echo 0)
set +e
# shellcheck disable=SC2086
stdin_file=/dev/null
[ -f "$case_dir/stdin" ] && stdin_file=$case_dir/stdin
"$moat" scan --quiet $args --out out 2>stderr <"$stdin_file"
rc=$?
set -e
if [ "$rc" != "$want_rc" ]; then
  echo "exit code $rc, expected $want_rc; stderr:"; cat stderr; exit 1
fi
# CASE_DIR/stderr_contains: lines that must each appear in the error output.
if [ -f "$case_dir/stderr_contains" ]; then
  while IFS= read -r want; do
    grep -qF -- "$want" stderr || { echo "stderr lacks: $want"; cat stderr; exit 1; }
  done < "$case_dir/stderr_contains"
fi
if [ "${UPDATE:-0}" = 1 ]; then
  mkdir -p "$case_dir/expected"
  for f in accounts.jsonl campaigns.jsonl quarantine.jsonl; do cp "out/$f" "$case_dir/expected/$f"; done
  echo "updated $case_dir/expected"; exit 0
fi
status=0
for f in "$case_dir"/expected/*; do
  name=$(basename "$f")
  if ! diff -u "$f" "out/$name"; then echo "MISMATCH: $name"; status=1; fi
done
exit $status
