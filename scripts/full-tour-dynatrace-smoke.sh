#!/usr/bin/env bash
# The full tour in Dynatrace mode (issue 7, item 7) against the fake tenant
# (`dynatrace_serve_fake`, which follows Dynatrace's published API; no real tenant is reachable
# from CI): DT_TENANT + DT_API_TOKEN must make the staging gate read its SLIs from the tenant,
# and the production problem must come from the tenant's metric event. Asserts the seed's
# outcome from the summary and events: 0.11.2 fails staging on response_time_p95 from Dynatrace
# values, 0.11.3 is promoted, "Failure rate increase" is opened by Dynatrace (problem ids of
# the fake, problem URL on the tenant) and remediated; the tour sent data points; the token
# never appears in the output; no process is left behind. Shortened (--test-duration 4).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
FAKE_PID=
cleanup() {
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

# python3 reads the summary below (a fresh Debian may lack it)
if ! command -v python3 >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "python3 is missing: apt-get install python3" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi

TOKEN="dt0c01.SMOKE.TOUR-SECRET-TOKEN"
cargo build -p keptn-examples --example full_tour --example dynatrace_serve_fake --locked
target/debug/examples/dynatrace_serve_fake --token "$TOKEN" --sample-seconds 1 > "$OUT/fake.url" &
FAKE_PID=$!
for _ in $(seq 50); do [ -s "$OUT/fake.url" ] && break; sleep 0.1; done
TENANT=$(head -1 "$OUT/fake.url")
[ -n "$TENANT" ] || { echo "the fake tenant did not start" >&2; exit 1; }

set +e
env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN DT_TENANT="$TENANT" DT_API_TOKEN="$TOKEN" \
  target/debug/examples/full_tour --no-progress --test-duration 4 --dt-settle 7 --dt-poll 1 \
  --events "$OUT/events.jsonl" --summary "$OUT/summary.json" > "$OUT/tour.log" 2>&1 &
TOUR_PID=$!
wait "$TOUR_PID"
rc=$?
set -e
cat "$OUT/tour.log"
[ "$rc" = 0 ] || { echo "full_tour in Dynatrace mode exited $rc" >&2; exit 1; }

fail() { echo "full-tour-dynatrace-smoke: $*" >&2; exit 1; }
python3 - "$OUT/summary.json" "$TENANT" <<'PY' || fail "the summary does not tell the seed's story from Dynatrace"
import json, sys
s = json.load(open(sys.argv[1])); tenant = sys.argv[2]
assert s["ok"] is True, s["checks"]
dt = s["monitoring"]["dynatrace"]
assert dt["tenant"] == tenant and dt["linesOk"] > 0 and dt["linesInvalid"] == 0, dt
a = {(x["service"], x["version"]): x for x in s["artifacts"]}
v2 = a[("carts", "0.11.2")]["stages"]["staging"]
assert v2["evaluation"]["result"] == "fail" and v2["evaluation"]["response_time_p95"] >= 600, v2
assert v2["rolledBack"] and v2["servingAfter"] == "0.11.1", v2
assert a[("carts", "0.11.3")]["stages"]["production"]["servingAfter"] == "0.11.3"
p = [x for x in s["problems"] if x["title"] == "Failure rate increase"]
assert p and p[0]["problemId"].startswith("P-") and p[0]["pid"].endswith("V2"), p
assert p[0]["outcome"] == "resolved" and p[0]["resolvedAt"], p
PY
grep -q "problems/problemdetails;pid=" "$OUT/events.jsonl" || fail "no problem event carries the tenant's problem URL"
grep -q '"source":"keptn-dynatrace"' "$OUT/events.jsonl" || fail "no problem event came through keptn-dynatrace"
if grep -rq "TOUR-SECRET-TOKEN" "$OUT/tour.log" "$OUT/events.jsonl" "$OUT/summary.json"; then
  fail "the API token appears in the output"
fi

# No service process of this tour is left (they carry KEPTN_SUPERVISOR_PID=<the tour's pid>;
# other tours running on the same machine are not ours to judge).
leaked=0
for env_file in /proc/[0-9]*/environ; do
  if { tr "\0" "\n" < "$env_file"; } 2>/dev/null | grep -qx "KEPTN_SUPERVISOR_PID=$TOUR_PID"; then
    echo "leaked process: ${env_file%/environ}" >&2
    leaked=1
  fi
done
[ "$leaked" = 0 ]
echo "full-tour-dynatrace-smoke: ok"
