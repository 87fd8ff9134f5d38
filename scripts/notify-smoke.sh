#!/usr/bin/env bash
# Smoke runs of the notify_send example (keptn-notify):
# 1. --print summary over the recorded tour gives exactly one message per meaningful event, in
#    order (delivery started, evaluation, rollback, delivery finished, problem opened, remediation
#    action, problem resolved, remediation finished).
# 2. A webhook.yaml pointing at a closed loopback port (with NOTIFY_ALLOW_INTERNAL_ADDRESSES=true):
#    delivery fails, is retried, counted, and the program exits 1 without printing the webhook
#    URL's secret part; without the opt-in the loopback URL is refused before connecting.
# 3. A v1alpha1 webhook.yaml is rejected with exit code 2 and a located message.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { cargo run -q --locked -p keptn-examples --example notify_send -- "$@"; }

expected='DeliveryStarted: Delivery of carts:0.11.2 started in staging
EvaluationFinished: Evaluation of carts:0.11.2 in staging: fail (score 50)
Rollback: Rollback of carts:0.11.2 in staging
DeliveryFinished: Delivery of carts:0.11.2 in staging finished: fail
ProblemOpened: Problem opened: Failure rate increase
RemediationAction: Remediation action Toggle feature flag (EnablePromotion: off) in production: pass
ProblemResolved: Problem resolved: Failure rate increase
RemediationFinished: Remediation of Failure rate increase in production: resolved'
got=$(run --print summary)
if [[ "$got" != "$expected" ]]; then
  echo "notify_send --print summary: unexpected messages:" >&2
  diff <(echo "$expected") <(echo "$got") >&2 || true
  exit 1
fi
if [[ $(run --print slack | grep -c '^{"blocks":\[{"text":{"emoji":true') -ne 8 ]]; then
  echo "notify_send --print slack: expected 8 Slack payloads" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 9)
cat > "$tmp/webhook.yaml" <<YAML
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata: {name: smoke}
spec:
  webhooks:
    - type: sh.keptn.event.evaluation.finished
      subscriptionID: smoke
      envFrom:
        - name: token
          secretRef: {name: smoke, key: token}
      requests:
        - url: http://127.0.0.1:${port}/hooks/{{.env.token}}
          method: POST
          payload: '{"score": {{.data.evaluation.score}}}'
YAML
# a loopback receiver needs the explicit opt-in (NOTIFY_ALLOW_INTERNAL_ADDRESSES)
set +e
out=$(SMOKE_TOKEN=SUPERSECRET NOTIFY_ALLOW_INTERNAL_ADDRESSES=true run --webhook "$tmp/webhook.yaml" --wait 30 2>&1)
code=$?
set -e
if [[ $code -ne 1 ]] || ! grep -q "webhook smoke: 0 delivered, 1 failed, 0 dropped, 3 retries" <<<"$out" \
   || grep -q SUPERSECRET <<<"$out"; then
  echo "notify_send against a closed port: expected exit 1, one failure after 3 retries, no secret; got $code:" >&2
  echo "$out" >&2
  exit 1
fi
# without it, the loopback URL is refused before connecting: no retries, no secret
set +e
out=$(SMOKE_TOKEN=SUPERSECRET run --webhook "$tmp/webhook.yaml" --wait 30 2>&1)
code=$?
set -e
if [[ $code -ne 1 ]] || ! grep -q "webhook smoke: 0 delivered, 1 failed, 0 dropped, 0 retries" <<<"$out" \
   || ! grep -q "refused to send: 127.0.0.1 is a loopback address" <<<"$out" || grep -q SUPERSECRET <<<"$out"; then
  echo "notify_send to a loopback URL without the opt-in: expected exit 1, refused, no retries, no secret; got $code:" >&2
  echo "$out" >&2
  exit 1
fi

sed -i 's#v1beta1#v1alpha1#' "$tmp/webhook.yaml"
set +e
out=$(run --webhook "$tmp/webhook.yaml" 2>&1)
code=$?
set -e
if [[ $code -ne 2 ]] || ! grep -q "1:13" <<<"$out" || ! grep -q "v1alpha1" <<<"$out"; then
  echo "notify_send with a v1alpha1 file: expected exit 2 and a located error; got $code:" >&2
  echo "$out" >&2
  exit 1
fi
echo "notify smoke: ok"
