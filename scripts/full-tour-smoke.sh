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
# The embedded defaults, as the README's first command: the Unleash that test-all.sh started for
# keptn-remediate's tests must not switch the tour to a real backend.
# Started in the background only to learn its pid for the leak check below; `wait` returns its
# exit status, which set -e turns into this script's failure.
env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN -u DT_TENANT -u DT_API_TOKEN \
  target/debug/examples/full_tour --no-progress --events "$OUT/events.jsonl" --summary "$OUT/summary.json" &
TOUR_PID=$!
wait "$TOUR_PID"
elapsed=$(( $(date +%s) - start ))
echo "full_tour finished in ${elapsed}s"

grep -q '"ok": true' "$OUT/summary.json" || { echo "summary does not say ok" >&2; exit 1; }
grep -q '"type":"sh.keptn.event.problem.open"' "$OUT/events.jsonl" || { echo "no problem.open event" >&2; exit 1; }
# The issue's budget is 2 minutes; reported, not asserted (speed is not judged by timed runs).
[ "$elapsed" -lt 120 ] || echo "note: full_tour took ${elapsed}s, over the 2-minute budget" >&2

# No service process of this run is left: they carry KEPTN_SUPERVISOR_PID=<the tour's pid>
# (other tours on the same machine are not ours to judge).
leaked=0
for env_file in /proc/[0-9]*/environ; do
  if { tr "\0" "\n" < "$env_file"; } 2>/dev/null | grep -qx "KEPTN_SUPERVISOR_PID=$TOUR_PID"; then
    echo "leaked process: ${env_file%/environ} ($(tr '\0' ' ' < "${env_file%/environ}/cmdline" 2>/dev/null))" >&2
    leaked=1
  fi
done
[ "$leaked" = 0 ]
