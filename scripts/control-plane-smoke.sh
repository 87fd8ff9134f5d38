#!/usr/bin/env bash
# Smoke run of the control_plane example (keptn-control, feature http):
# 1. It starts on a new SQLite state file, prints its URL once listening and never prints the
#    token; requests without the token get 401 with Keptn's error body.
# 2. A project created over the API and a delivery event are still there after SIGTERM (clean
#    exit 0) and a restart on the same file.
# 3. A missing token is refused with a clear message and a non-zero exit.
# 4. With --dynatrace-webhook / --alertmanager-webhook, a Dynatrace problem notification opens a
#    remediation (x-token), an Alertmanager body is taken with `Authorization: Bearer`, and a
#    body that is not a notification is 400.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
cargo build -q --locked -p keptn-examples --example control_plane
bin=target/debug/examples/control_plane
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
token="smoke-$RANDOM-$RANDOM-token"
printf '%s\n' "$token" > "$tmp/token"
port=$(( 20000 + RANDOM % 20000 ))

start() {
  "$bin" --listen "127.0.0.1:$port" --state "$tmp/state.db" --token-file "$tmp/token" --task-timeout 30 \
    --dynatrace-webhook /problems/dynatrace --alertmanager-webhook /problems/alertmanager \
    > "$tmp/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "listening on http://127.0.0.1:$port" "$tmp/out" && return 0
    sleep 0.1
  done
  echo "control_plane did not print its URL:" >&2; cat "$tmp/out" >&2; exit 1
}
stop() {
  kill -TERM "$pid"
  local rc=0; wait "$pid" || rc=$?
  pid=
  [[ $rc -eq 0 ]] || { echo "control_plane exited $rc on SIGTERM" >&2; cat "$tmp/out" >&2; exit 1; }
}
api() { curl -sS -H "x-token: $token" -H 'content-type: application/json' "$@"; }
url="http://127.0.0.1:$port"

start
[[ -f "$tmp/state.db" ]] || { echo "state file not created" >&2; exit 1; }
body=$(curl -sS -o - -w ' %{http_code}' "$url/api/v1/metadata")
[[ "$body" == '{"code":401,"message":'*' 401' ]] || { echo "expected 401, got: $body" >&2; exit 1; }
shipyard=$(printf 'stages:\n- {name: dev, deployment_strategy: direct}\n' | base64 -w0)
code=$(api -o /dev/null -w '%{http_code}' -X POST "$url/api/controlPlane/v1/project" \
  -d "{\"name\":\"smoke\",\"shipyard\":\"$shipyard\"}")
[[ "$code" == 201 ]] || { echo "project create: $code" >&2; exit 1; }
ctx=$(api -X POST "$url/api/v1/event" -d '{"source":"smoke","type":"sh.keptn.event.dev.delivery.triggered","data":{"project":"smoke","stage":"dev","service":"carts","configurationChange":{"values":{"image":"carts:1"}}}}' \
  | sed -n 's/.*"keptnContext":"\([^"]*\)".*/\1/p')
[[ -n "$ctx" ]] || { echo "no keptnContext from POST /api/v1/event" >&2; exit 1; }
stop

start
api "$url/api/controlPlane/v1/project/smoke" | grep -q '"projectName":"smoke"' \
  || { echo "project lost across the restart" >&2; exit 1; }
api "$url/api/mongodb-datastore/event?keptnContext=$ctx" | grep -q 'sh.keptn.event.dev.delivery.triggered' \
  || { echo "event lost across the restart" >&2; exit 1; }
# No executor runs deployment here: the task waits, open, for a remote executor.
api "$url/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered?project=smoke" \
  | grep -q '"type":"sh.keptn.event.deployment.triggered"' \
  || { echo "the deployment task is not offered to remote executors" >&2; exit 1; }
# Problem webhooks: Dynatrace's notification (x-token), Alertmanager's (bearer token).
rem=$(printf 'apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nspec:\n  stages:\n    - name: production\n      sequences:\n        - name: remediation\n          tasks:\n            - name: get-action\n' | base64 -w0)
code=$(api -o /dev/null -w '%{http_code}' -X POST "$url/api/controlPlane/v1/project" \
  -d "{\"name\":\"hooks\",\"shipyard\":\"$rem\"}")
[[ "$code" == 201 ]] || { echo "project hooks: $code" >&2; exit 1; }
dt='{"specversion":"1.0","shkeptncontext":"-77_1V2","type":"sh.keptn.events.problem","source":"dynatrace","id":"-77_1V2","time":"","contenttype":"application/json","data":{"State":"OPEN","ProblemID":"77","PID":"-77_1V2","ProblemTitle":"Failure rate increase","ProblemURL":"https://dt/#problems","ProblemDetails":{},"Tags":"keptn_project:hooks, keptn_stage:production, keptn_service:carts","ImpactedEntities":[],"ImpactedEntity":"carts"}}'
dctx=$(api -X POST "$url/problems/dynatrace" -d "$dt" | sed -n 's/.*"keptnContext":"\([^"]*\)".*/\1/p')
[[ -n "$dctx" ]] || { echo "no keptnContext from the Dynatrace webhook" >&2; exit 1; }
for _ in $(seq 50); do
  api "$url/api/controlPlane/v1/sequence/hooks?keptnContext=$dctx" | grep -q '"name":"remediation"' && break
  sleep 0.1
done
api "$url/api/controlPlane/v1/sequence/hooks?keptnContext=$dctx" | grep -q '"name":"remediation"' \
  || { echo "the Dynatrace problem started no remediation" >&2; exit 1; }
am='{"version":"4","groupKey":"{}:{alertname=\"error_rate\"}","status":"firing","receiver":"keptn","groupLabels":{"alertname":"error_rate"},"commonLabels":{"alertname":"error_rate","project":"hooks","stage":"production","service":"carts"},"commonAnnotations":{"summary":"Failure rate increase"},"externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"error_rate","project":"hooks","stage":"production","service":"carts"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"1"}]}'
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -X POST "$url/problems/alertmanager" -d "$am")
[[ "$code" == 200 ]] || { echo "Alertmanager webhook: $code" >&2; exit 1; }
code=$(api -o /dev/null -w '%{http_code}' -X POST "$url/problems/dynatrace" -d '{"nope":1}')
[[ "$code" == 400 ]] || { echo "a body that is not a notification: $code, expected 400" >&2; exit 1; }
stop
if grep -q "$token" "$tmp/out"; then echo "the token was printed" >&2; exit 1; fi

if env -u KEPTN_API_TOKEN "$bin" --listen "127.0.0.1:$port" --state "$tmp/state.db" > "$tmp/out" 2>&1; then
  echo "control_plane started without a token" >&2; exit 1
fi
grep -q "KEPTN_API_TOKEN" "$tmp/out" || { echo "no clear message for a missing token" >&2; cat "$tmp/out" >&2; exit 1; }
echo "control_plane smoke: ok"
