#!/usr/bin/env bash
# Smoke test of the Dynatrace example programs against a fake tenant (`dynatrace_serve_fake`, the
# published-API fake of keptn_dynatrace::testing; no real tenant is reachable from CI):
# - dynatrace_fetch_slis: CLI contract (JSON array of {metric,value,success,message}; exit 0 when
#   every SLI succeeded, 1 otherwise, 2 on invalid input), µs→ms conversion, and that its output
#   feeds `slo_evaluate --sli` (the Dynatrace provider plugs into the quality gate);
# - dynatrace_configure_monitoring: first run creates, second run leaves everything alone,
#   --dry-run, invalid input; the API token never appears in any output.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --locked -p keptn-examples --example dynatrace_serve_fake \
  --example dynatrace_fetch_slis --example dynatrace_configure_monitoring --example slo_evaluate
BIN=target/debug/examples
OUT=$(mktemp -d /tmp/dynatrace-smoke.XXXXXX)
TOKEN="dt0c01.SMOKE-SECRET-$$"
"$BIN/dynatrace_serve_fake" --token "$TOKEN" >"$OUT/uri" 2>"$OUT/fake.err" &
FAKE=$!
trap 'kill "$FAKE" 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do [ -s "$OUT/uri" ] && break; sleep 0.1; done
DT_TENANT=$(head -n1 "$OUT/uri")
export DT_TENANT DT_API_TOKEN="$TOKEN"

expect() {
  local want=$1; shift
  local got=0
  "$@" >"$OUT/out" 2>"$OUT/err" || got=$?
  if [ "$got" != "$want" ]; then
    echo "$*: exit $got, expected $want" >&2
    cat "$OUT/out" "$OUT/err" >&2
    exit 1
  fi
  if grep -q "SMOKE-SECRET" "$OUT/out" "$OUT/err"; then
    echo "$*: the API token appeared in the output" >&2
    exit 1
  fi
}
FETCH=("$BIN/dynatrace_fetch_slis" --project sockshop --stage staging --service carts --deployment canary
       --start 2024-03-01T10:00:00Z --end 2024-03-01T10:10:00Z)

# Keptn's five default SLIs, response times converted from µs to ms
expect 0 "${FETCH[@]}"
grep -q '"metric": "response_time_p95"' "$OUT/out"
grep -q '"value": 455.0' "$OUT/out"
grep -q '"metric": "throughput"' "$OUT/out"
# the SLIs of an SLO, piped into the quality gate
expect 0 "${FETCH[@]}" --slo examples/fixtures/slo/slo.yaml
cp "$OUT/out" "$OUT/slis.json"
expect 0 "$BIN/slo_evaluate" --slo examples/fixtures/slo/slo.yaml --sli "$OUT/slis.json"
# an SLI without data fails (exit 1), it is never 0
printf 'spec_version: "1.0"\nindicators:\n  cpu: "metricSelector=builtin:service.cpu.time:merge(0):avg&entitySelector=type(SERVICE)"\n' >"$OUT/sli.yaml"
expect 1 "${FETCH[@]}" --sli "$OUT/sli.yaml"
grep -q '"success": false' "$OUT/out"
# invalid input: exit 2
expect 2 "${FETCH[@]}" --start yesterday
expect 2 "$BIN/dynatrace_fetch_slis" --project Sock_Shop --stage s --service c --start 2024-03-01T10:00:00Z --end 2024-03-01T10:10:00Z
expect 2 env -u DT_TENANT "${FETCH[@]}"
expect 2 "${FETCH[@]}" --sli /nonexistent/sli.yaml
# a wrong token: exit 1, Dynatrace's message, no token in the output
expect 1 env DT_API_TOKEN=dt0c01.WRONG "${FETCH[@]}"
grep -q 'Token Authentication failed' "$OUT/err"

CONFIGURE=("$BIN/dynatrace_configure_monitoring" --project sockshop --stages dev,staging,production
           --keptn-endpoint http://127.0.0.1:1/v1/event)
expect 0 "${CONFIGURE[@]}" --dry-run
grep -q 'would be created' "$OUT/out"
expect 0 "${CONFIGURE[@]}"
grep -q "management zone \`Keptn: sockshop production\`: created" "$OUT/out"
expect 0 "${CONFIGURE[@]}"
if grep -v 'left alone' "$OUT/out"; then
  echo "the second dynatrace_configure_monitoring run changed something" >&2
  exit 1
fi
expect 2 "$BIN/dynatrace_configure_monitoring" --project sockshop --stages dev,Bad
echo "dynatrace examples: CLI contracts hold against the fake tenant"
