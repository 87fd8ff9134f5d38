#!/usr/bin/env bash
# Smoke run of the full tour (issue 7) with default settings, as the README shows it:
# `full_tour` must exit 0 (the story ended as the seed says), write its events and summary,
# finish in under 2 minutes, and leave no service process behind.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cargo build -p keptn-examples --example full_tour --locked
start=$(date +%s)
target/debug/examples/full_tour --no-progress --events "$OUT/events.jsonl" --summary "$OUT/summary.json"
elapsed=$(( $(date +%s) - start ))
echo "full_tour finished in ${elapsed}s"

grep -q '"ok": true' "$OUT/summary.json" || { echo "summary does not say ok" >&2; exit 1; }
grep -q '"type":"sh.keptn.event.problem.open"' "$OUT/events.jsonl" || { echo "no problem.open event" >&2; exit 1; }
[ "$elapsed" -lt 120 ] || { echo "full_tour took ${elapsed}s (budget 120s)" >&2; exit 1; }

leaked=0
for cmd in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' < "$cmd" 2>/dev/null | grep -q 'full_tour carts-\(service\|db\)'; then
    echo "leaked process: $cmd" >&2
    leaked=1
  fi
done
[ "$leaked" = 0 ]
