#!/usr/bin/env bash
# Smoke test of prometheus_fetch_slis against the real Prometheus of scripts/prometheus.sh
# (PROMETHEUS_URL, PROMETHEUS_TARGETS_DIR must be set, as scripts/test-all.sh does):
# - a small metrics target (python3) exports Keptn's default metric names with known values
#   (100 requests/s, 5 % status 500, a latency histogram whose p95 is 325 ms), scraped as job
#   carts-smoke-staging-canary;
# - Keptn's five default SLIs: exit 0, the JSON array dynatrace_fetch_slis prints;
# - the tour's SLO (examples/fixtures/slo/slo.yaml): its SLIs feed slo_evaluate, which passes;
# - an SLI without data fails (exit 1), never 0; invalid input: exit 2;
# - a token in PROMETHEUS_TOKEN never appears in any output.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PROMETHEUS_URL:?set PROMETHEUS_URL (scripts/prometheus.sh up)}"
: "${PROMETHEUS_TARGETS_DIR:?set PROMETHEUS_TARGETS_DIR (scripts/prometheus.sh up)}"
command -v python3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
cargo build -q --locked -p keptn-examples --example prometheus_fetch_slis --example slo_evaluate
BIN=target/debug/examples
OUT=$(mktemp -d /tmp/prometheus-smoke.XXXXXX)
PORT="${PROMETHEUS_SMOKE_PORT:-39191}"
JOB=carts-smoke-staging-canary
python3 - "$PORT" >"$OUT/target.log" 2>&1 <<'PY' &
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
T0 = time.time()
BUCKETS = [(50, .5), (100, .3), (200, .1), (400, .08), (800, .02)]
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        t = 100.0 * (time.time() - T0)
        lines = [f'http_requests_total{{status="200"}} {t * .95}', f'http_requests_total{{status="500"}} {t * .05}']
        c = 0.0
        for le, share in BUCKETS:
            c += share * t
            lines.append(f'http_response_time_milliseconds_bucket{{le="{le}"}} {c}')
        lines.append(f'http_response_time_milliseconds_bucket{{le="+Inf"}} {t}')
        lines.append(f'http_response_time_milliseconds_count {t}')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
TARGET=$!
trap 'kill "$TARGET" 2>/dev/null || true; rm -f "$PROMETHEUS_TARGETS_DIR/$JOB.json"; rm -rf "$OUT"' EXIT
printf '[{"targets":["127.0.0.1:%s"],"labels":{"job":"%s"}}]' "$PORT" "$JOB" >"$PROMETHEUS_TARGETS_DIR/.$JOB.tmp"
mv "$PROMETHEUS_TARGETS_DIR/.$JOB.tmp" "$PROMETHEUS_TARGETS_DIR/$JOB.json"
for _ in $(seq 120); do
  n=$(curl -fsS --get "$PROMETHEUS_URL/api/v1/query" \
        --data-urlencode "query=count_over_time(up{job=\"$JOB\"}[1m])" |
      sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
  [ "${n:-0}" -ge 15 ] && break
  sleep 0.5
done
[ "${n:-0}" -ge 15 ] || { echo "Prometheus did not scrape the smoke target" >&2; cat "$OUT/target.log" >&2; exit 1; }

export PROMETHEUS_TOKEN="smoke-SECRET-$$"
expect() {
  local want=$1; shift
  local got=0
  "$@" >"$OUT/out" 2>"$OUT/err" || got=$?
  if [ "$got" != "$want" ]; then
    echo "$*: exit $got, expected $want" >&2
    cat "$OUT/out" "$OUT/err" >&2
    exit 1
  fi
  if grep -q "smoke-SECRET" "$OUT/out" "$OUT/err"; then
    echo "$*: the token appeared in the output" >&2
    exit 1
  fi
}
# a window that ended 2 s ago: a scrape started before `now` may still be being written
END=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
START=$(date -u -d '-12 seconds' +%Y-%m-%dT%H:%M:%SZ)
FETCH=("$BIN/prometheus_fetch_slis" --url "$PROMETHEUS_URL" --project smoke --stage staging
       --service carts --deployment canary --start "$START" --end "$END")

# Keptn's five default SLIs from the scraped target
expect 0 "${FETCH[@]}"
for sli in throughput error_rate response_time_p50 response_time_p90 response_time_p95; do
  grep -q "\"metric\": \"$sli\"" "$OUT/out" || { echo "no $sli in output" >&2; cat "$OUT/out" >&2; exit 1; }
done
python3 - "$OUT/out" <<'PY'
import json, sys
v = {s["metric"]: s["value"] for s in json.load(open(sys.argv[1]))}
assert abs(v["error_rate"] - 0.05) < 1e-9, v
assert abs(v["throughput"] - 100) < 5, v
assert abs(v["response_time_p95"] - 325) < 1, v
PY
# the tour's SLO: its SLIs feed the quality gate (p95 = 325 ms < 600 ms: pass)
expect 0 "${FETCH[@]}" --slo examples/fixtures/slo/slo.yaml
cp "$OUT/out" "$OUT/slis.json"
expect 0 "$BIN/slo_evaluate" --slo examples/fixtures/slo/slo.yaml --sli "$OUT/slis.json"
# an SLI without data fails (exit 1), it is never 0; a PromQL error names Prometheus' errorType
printf 'spec_version: "1.0"\nindicators:\n  cpu: sum(rate(container_cpu_usage_seconds_total{job="$SERVICE"}[$DURATION_SECONDS]))\n  bad: sum(\n' >"$OUT/sli.yaml"
expect 1 "${FETCH[@]}" --sli "$OUT/sli.yaml"
grep -q '"success": false' "$OUT/out"
grep -q 'empty vector' "$OUT/out"
grep -q 'bad_data' "$OUT/out"
# invalid input: exit 2
expect 2 "${FETCH[@]}" --start yesterday
expect 2 "$BIN/prometheus_fetch_slis" --url "$PROMETHEUS_URL" --project Sock_Shop --stage s --service c --start "$START" --end "$END"
expect 2 "$BIN/prometheus_fetch_slis" --url 127.0.0.1:1 --project p --stage s --service c --start "$START" --end "$END"
expect 2 "${FETCH[@]}" --sli /nonexistent/sli.yaml
expect 2 env -u PROMETHEUS_TOKEN PROMETHEUS_USER=keptn "${FETCH[@]}"
# nothing listens: exit 1, every SLI failed with the reason
expect 1 "$BIN/prometheus_fetch_slis" --url http://127.0.0.1:9 --project p --stage s --service c --start "$START" --end "$END"
grep -q 'could not connect' "$OUT/err"
echo "prometheus-smoke: ok"
