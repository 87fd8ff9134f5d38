#!/usr/bin/env bash
# The full tour in Prometheus mode (issue 15, item 3): `full_tour --monitoring prometheus` starts
# a real Prometheus and Alertmanager (PROMETHEUS_BIN / ALERTMANAGER_BIN, else on PATH; Debian's
# `prometheus` and `prometheus-alertmanager`), Prometheus scrapes the stage proxies, the staging
# gate reads its SLIs from it with Keptn's default queries, and the production problem comes
# from the alert rule generated from the SLO, through Alertmanager, into the control plane.
# Asserts the seed's outcome from the summary and events: 0.11.2 fails staging on
# response_time_p95 from Prometheus values, 0.11.3 is promoted, "Failure rate increase" is
# opened by an alert (keptn-prometheus' event source, the alert in the problem details),
# remediated (EnablePromotion off) and closed by the resolved alert; no process is left behind.
# Prints the timings: end of each staging test window → verdict, alert fired → problem.open,
# alert resolved → problem closed. Shortened (--test-duration 4).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# python3 reads the summary below (a fresh Debian may lack it)
if ! command -v python3 >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "python3 is missing: apt-get install python3" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi

cargo build -p keptn-examples --example full_tour --locked

# Without the binaries the tour must say what to install and exit 2 (invalid setup).
set +e
env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN PATH=/nonexistent \
  PROMETHEUS_BIN= ALERTMANAGER_BIN= \
  target/debug/examples/full_tour --monitoring prometheus --no-progress > "$OUT/missing.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$OUT/missing.log"; echo "full-tour-prometheus-smoke: missing binaries: exit $rc, not 2" >&2; exit 1; }
grep -q "apt-get install prometheus" "$OUT/missing.log" \
  || { cat "$OUT/missing.log"; echo "full-tour-prometheus-smoke: the tour does not say what to install" >&2; exit 1; }

set +e
env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN -u DT_TENANT -u DT_API_TOKEN \
  target/debug/examples/full_tour --monitoring prometheus --no-progress --test-duration 4 \
  --events "$OUT/events.jsonl" --summary "$OUT/summary.json" > "$OUT/tour.log" 2>&1 &
TOUR_PID=$!
wait "$TOUR_PID"
rc=$?
set -e
cat "$OUT/tour.log"
[ "$rc" = 0 ] || { echo "full_tour in Prometheus mode exited $rc" >&2; exit 1; }

fail() { echo "full-tour-prometheus-smoke: $*" >&2; exit 1; }
python3 - "$OUT/summary.json" "$OUT/events.jsonl" <<'PY' || fail "the summary and events do not tell the seed's story from Prometheus"
import json, sys
from datetime import datetime
s = json.load(open(sys.argv[1]))
events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def t(x):
    # RFC 3339 with up to nanoseconds: keep microseconds for fromisoformat
    x = x.replace("Z", "+00:00")
    head, _, tz = x.partition("+")
    if "." in head:
        a, b = head.split(".")
        head = a + "." + (b + "000000")[:6]
    return datetime.fromisoformat(head + "+" + tz)
assert s["ok"] is True, s["checks"]
prom = s["monitoring"]["prometheus"]
assert prom["prometheusUrl"].startswith("http://127.0.0.1:"), prom
assert "job='carts-sockshop-production-primary'" in prom["rules"], prom
a = {(x["service"], x["version"]): x for x in s["artifacts"]}
v2 = a[("carts", "0.11.2")]["stages"]["staging"]
assert v2["evaluation"]["result"] == "fail" and v2["evaluation"]["response_time_p95"] >= 600, v2
assert v2["rolledBack"] and v2["servingAfter"] == "0.11.1", v2
v3 = a[("carts", "0.11.3")]["stages"]
assert v3["staging"]["evaluation"]["result"] == "pass", v3
assert v3["production"]["servingAfter"] == "0.11.3", v3
p = [x for x in s["problems"] if x["title"] == "Failure rate increase"]
assert p and p[0]["outcome"] == "resolved" and p[0]["resolvedAt"], p
# the gate asked the Prometheus provider
gets = [e for e in events if e["type"] == "sh.keptn.event.get-sli.triggered"]
assert gets and all(e["data"]["get-sli"]["sliProvider"] == "prometheus" for e in gets), gets[:1]
# timings: end of each staging window -> its verdict
for e in events:
    if e["type"] == "sh.keptn.event.evaluation.finished" and e["data"].get("stage") == "staging":
        ev = e["data"]["evaluation"]
        if ev.get("timeEnd") and ev.get("indicatorResults"):  # carts-db has no SLO
            lag = (t(e["time"]) - t(ev["timeEnd"])).total_seconds()
            print(f"timing: staging window end -> verdict ({e['data']['result']}): {lag:.2f} s")
# the problem came from the alert, with the alert in its details
opened = [e for e in events if e["type"] == "sh.keptn.event.problem.open"]
closed = [e for e in events if e["type"] == "sh.keptn.events.problem" and e["data"].get("State") == "CLOSED"]
assert opened and closed, (len(opened), len(closed))
o, c = opened[0], closed[0]
assert o["source"] == "keptn-prometheus", o["source"]
assert o["shkeptncontext"] == c["shkeptncontext"], (o["shkeptncontext"], c["shkeptncontext"])
alert_o = o["data"]["ProblemDetails"]["alerts"][0]
alert_c = c["data"]["ProblemDetails"]["alerts"][0]
assert alert_o["labels"]["alertname"] == "error_rate" and alert_o["labels"]["stage"] == "production", alert_o
print(f"timing: alert active (startsAt) -> problem.open: {(t(o['time']) - t(alert_o['startsAt'])).total_seconds():.2f} s")
print(f"timing: alert resolved (endsAt) -> problem closed: {(t(c['time']) - t(alert_c['endsAt'])).total_seconds():.2f} s")
# the remediation sequence ran in the problem's context and toggled the flag
actions = [e for e in events if e["type"] == "sh.keptn.event.action.finished" and e["shkeptncontext"] == o["shkeptncontext"]]
assert actions, "no action ran for the alert's problem"
PY
grep -q "tour completed as the seed says in" "$OUT/tour.log" || fail "no completion line"
sed -n 's/.*tour completed as the seed says in \([0-9.]*s\).*/timing: whole tour \1/p' "$OUT/tour.log"

# No process of this tour is left: services carry KEPTN_SUPERVISOR_PID=<the tour's pid>, and
# Prometheus/Alertmanager were its children (their temporary directory is gone with them).
leaked=0
for env_file in /proc/[0-9]*/environ; do
  if { tr "\0" "\n" < "$env_file"; } 2>/dev/null | grep -qx "KEPTN_SUPERVISOR_PID=$TOUR_PID"; then
    echo "leaked process: ${env_file%/environ}" >&2
    leaked=1
  fi
done
for stat in /proc/[0-9]*/stat; do
  ppid=$(awk '{print $4}' "$stat" 2>/dev/null || true)
  if [ "$ppid" = "$TOUR_PID" ]; then
    echo "leaked child: ${stat%/stat}" >&2
    leaked=1
  fi
done
[ "$leaked" = 0 ]
echo "full-tour-prometheus-smoke: ok"
