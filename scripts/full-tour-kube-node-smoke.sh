#!/usr/bin/env bash
# The seed's story on real pods: `deploy_blue_green` and `full_tour --kube` against the
# one-machine node of scripts/kube-node.sh (kubelet + containerd + kube-proxy), with the images
# `scripts/kube-node.sh images` built from this project's carts example.
#
#   scripts/full-tour-kube-node-smoke.sh DIR     # DIR: the node's (scripts/kube-node.sh start DIR)
#
# 1. deploy_blue_green: carts 0.11.1 blue/green (readiness on /health), 0.11.2 as canary: the
#    Service's ClusterIP still answers 0.11.1, carts-canary's 0.11.2; --rollback; 0.11.3 and
#    --promote: the ClusterIP answers 0.11.3. Every address is checked to route to the node's
#    bridge (`ip route get`) before a request is sent to it.
# 2. full_tour --kube $(scripts/kube-node.sh images DIR): 0.11.2's slow pods fail the staging
#    gate on client-side response_time_p95 measured through the Service, production keeps
#    0.11.1, 0.11.3 is promoted, EnablePromotion is turned on (the pods read the flag from the
#    tour's store on the node's bridge) and the remediation turns it off again.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?usage: $0 DIR (of scripts/kube-node.sh start DIR)}"
export KUBECONFIG="$DIR/kubeconfig"
OUT=$(mktemp -d)
BRIDGE=kn0
NAMESPACES=(bgdemo-staging sockshop-dev sockshop-staging sockshop-production)
reset_namespaces() {
  local ns
  for ns in "${NAMESPACES[@]}"; do
    kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 120); do
    local left=0
    for ns in "${NAMESPACES[@]}"; do
      kubectl get namespace "$ns" >/dev/null 2>&1 && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 0.5
  done
  return 1
}
cleanup() {
  reset_namespaces || true
  rm -rf "$OUT"
}
trap cleanup EXIT
fail() { echo "full-tour-kube-node-smoke: $*" >&2; exit 1; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; }

# the URL of a Service at its ClusterIP, only if that address routes to the node's bridge
cluster_url() { # namespace service
  local ip route
  ip="$(kubectl -n "$1" get svc "$2" -o 'jsonpath={.spec.clusterIP}')"
  route="$(ip route get "$ip")"
  case "$route" in
    *" via "*) fail "$2 in $1: $ip would leave through a gateway ($route)" ;;
    *"dev $BRIDGE "*) echo "http://$ip:80" ;;
    *) fail "$2 in $1: $ip does not route to $BRIDGE ($route)" ;;
  esac
}
version_of() { curl -fsS -m 5 --noproxy '*' "$1/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }

reset_namespaces || fail "namespaces of an earlier run do not go away"
cargo build -q --locked -p keptn-examples --example deploy_blue_green --example full_tour
OPTS="$(scripts/kube-node.sh images "$DIR")"
REPO=keptn-rs.local/sample-carts
SECONDS=0

# --- 1. deploy_blue_green ---------------------------------------------------------------------
bg() {
  target/debug/examples/deploy_blue_green --project bgdemo --stage staging --service carts \
    --port 8080 --service-port 80 --readiness-path /health --timeout 120 "$@"
}
t0=$(date +%s%N)
bg --image "$REPO:0.11.1" >"$OUT/bg1.json" 2>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "deploy 0.11.1"; }
echo "full-tour-kube-node-smoke: first blue/green rollout $((($(date +%s%N) - t0) / 1000000)) ms"
bg --image "$REPO:0.11.1" --promote >/dev/null 2>>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "promote 0.11.1"; }
PUBLIC="$(cluster_url bgdemo-staging carts)"
expect_eq "public after 0.11.1" "$(version_of "$PUBLIC")" 0.11.1
t0=$(date +%s%N)
bg --image "$REPO:0.11.2" >/dev/null 2>>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "deploy 0.11.2"; }
echo "full-tour-kube-node-smoke: canary rollout $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "public with canary 0.11.2" "$(version_of "$PUBLIC")" 0.11.1
expect_eq "canary 0.11.2" "$(version_of "$(cluster_url bgdemo-staging carts-canary)")" 0.11.2
t0=$(date +%s%N)
bg --image "$REPO:0.11.2" --rollback >"$OUT/bg-rollback.json" 2>>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "rollback"; }
echo "full-tour-kube-node-smoke: rollback $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "public after rollback" "$(version_of "$PUBLIC")" 0.11.1
expect_eq "canary replicas after rollback" "$(kubectl -n bgdemo-staging get deploy carts -o 'jsonpath={.spec.replicas}')" 0
bg --image "$REPO:0.11.3" >/dev/null 2>>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "deploy 0.11.3"; }
t0=$(date +%s%N)
bg --image "$REPO:0.11.3" --promote >/dev/null 2>>"$OUT/bg.log" || { cat "$OUT/bg.log" >&2; fail "promote 0.11.3"; }
echo "full-tour-kube-node-smoke: promote $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "public after promote" "$(version_of "$PUBLIC")" 0.11.3
expect_eq "primary image" "$(kubectl -n bgdemo-staging get deploy carts-primary -o 'jsonpath={.spec.template.spec.containers[0].image}')" "$REPO:0.11.3"
echo "full-tour-kube-node-smoke: 1 ok (${SECONDS}s)"

# --- 2. full_tour --kube on real pods -------------------------------------------------------------
# shellcheck disable=SC2086 # OPTS is a list of options
set +e
env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN -u DT_TENANT -u DT_API_TOKEN \
  target/debug/examples/full_tour --kube $OPTS --no-progress --test-duration 4 --users 2 \
  --kube-rollout-timeout 120 --summary "$OUT/summary.json" >"$OUT/tour.log" 2>&1
code=$?
set -e
grep -A7 "== quality gate reports" "$OUT/tour.log" | grep -E "in staging|response_time_p95" >&2 || true
[ "$code" = 0 ] || { tail -60 "$OUT/tour.log" >&2; fail "full_tour --kube on the node exited $code"; }
grep -qF "Services reached at their ClusterIPs" "$OUT/tour.log" || fail "the tour did not use the ClusterIPs"
grep -qF "SLIs: client-side measurements" "$OUT/tour.log" || fail "the tour did not use client-side SLIs"
python3 - "$OUT/summary.json" <<'PY' || fail "the summary does not tell the seed's story"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ok"] is True and s["deployer"] == "kubernetes" and s["monitoring"] == "client-side", s
a = {(x["service"], x["version"]): x for x in s["artifacts"]}
v2 = a[("carts", "0.11.2")]["stages"]["staging"]
assert v2["evaluation"]["result"] == "fail" and v2["evaluation"]["response_time_p95"] >= 600, v2
assert v2["rolledBack"] and v2["servingAfter"] == "0.11.1", v2
assert a[("carts", "0.11.3")]["stages"]["production"]["servingAfter"] == "0.11.3"
p = [x for x in s["problems"] if x["title"] == "Failure rate increase"]
assert p and p[0]["outcome"] == "resolved", p
PY
expect_eq "carts-primary image in production" "$(kubectl -n sockshop-production get deploy carts-primary -o 'jsonpath={.spec.template.spec.containers[0].image}')" "$REPO:0.11.3"
expect_eq "carts-db image in production" "$(kubectl -n sockshop-production get deploy carts-db -o 'jsonpath={.spec.template.spec.containers[0].image}')" keptn-rs.local/sample-carts-db:0.1.0
expect_eq "production answers" "$(version_of "$(cluster_url sockshop-production carts)")" 0.11.3
ready="$(kubectl -n sockshop-production get pods -l keptn.sh/deployment=primary -o 'jsonpath={.items[*].status.containerStatuses[0].ready}')"
expect_eq "production pod ready" "$ready" true
echo "full-tour-kube-node-smoke: ok (${SECONDS}s)"
