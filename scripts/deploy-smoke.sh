#!/usr/bin/env bash
# Smoke run of `cargo run -p keptn-examples --example deploy_blue_green` against the cluster of
# KUBECONFIG (test-all.sh starts a real kube-apiserver with a fake kubelet). Checks exit codes and
# the printed state: which Deployment serves through the Service and which image each runs.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBECONFIG:?KUBECONFIG must point at a cluster}"
cargo build -q -p keptn-examples --example deploy_blue_green --locked
BIN=target/debug/examples/deploy_blue_green
P="smoke$(date +%s)"
ARGS=(--project "$P" --stage staging --service carts --port 8080)
IMG=docker.io/keptnexamples/carts

fail() { echo "deploy-smoke: $*" >&2; exit 1; }
flat() { tr -d ' \n'; }
expect_serving() { # json image
  local needle="\"serving\":{\"deployment\":\"carts-primary\",\"image\":\"$2\""
  echo "$1" | flat | grep -qF "$needle" \
    || fail "expected carts-primary to serve $2, got: $1"
}

out=$("$BIN" "${ARGS[@]}" --image "$IMG:0.11.1") || fail "first deploy failed"
expect_serving "$out" "$IMG:0.11.1"
out=$("$BIN" "${ARGS[@]}" --image "$IMG:0.11.1" --promote) || fail "promote failed"
expect_serving "$out" "$IMG:0.11.1"
out=$("$BIN" "${ARGS[@]}" --image "$IMG:0.11.2") || fail "canary deploy failed"
expect_serving "$out" "$IMG:0.11.1"
needle="\"canary\":{\"deployment\":\"carts\",\"image\":\"$IMG:0.11.2\""
echo "$out" | flat | grep -qF "$needle" || fail "no canary: $out"
out=$("$BIN" "${ARGS[@]}" --image "$IMG:0.11.2" --rollback) || fail "rollback failed"
expect_serving "$out" "$IMG:0.11.1"
echo "$out" | flat | grep -q '"canary":null' || fail "canary not discarded: $out"

# a rollout that cannot complete: the namespace refuses new pods
kubectl -n "$P-staging" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: LimitRange
metadata: {name: refuse-new-pods}
spec:
  limits:
  - type: Pod
    max: {memory: "1"}
YAML
set +e
out=$("$BIN" "${ARGS[@]}" --image "$IMG:0.11.3" --timeout 3 2>/dev/null); code=$?
set -e
[ "$code" = 1 ] || fail "a timed-out rollout must exit 1, got $code"
expect_serving "$out" "$IMG:0.11.1"
echo "$out" | flat | grep -q '"result":"failed"' || fail "no failed result: $out"

set +e
"$BIN" --project Bad --stage staging --service carts --image "$IMG:1" >/dev/null 2>&1; code=$?
set -e
[ "$code" = 2 ] || fail "invalid input must exit 2, got $code"
kubectl delete namespace "$P-staging" --wait=false >/dev/null 2>&1 || true
echo "deploy-smoke: ok"
