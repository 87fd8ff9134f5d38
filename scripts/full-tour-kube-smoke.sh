#!/usr/bin/env bash
# `full_tour --kube` against the real kube-apiserver that test-all.sh starts (KUBECONFIG; v1.20,
# controller-manager, a fake kubelet that marks pods Ready — no container ever runs, so no pod
# serves traffic and the whole story cannot pass here). What this proves, for real:
#
# 1. The tour delivers through the cluster: namespaces sockshop-dev/-staging/-production,
#    carts-db (docker.io/mongo:4.2.2, port 27017) direct in every stage, carts 0.11.1 direct in
#    dev (Service port 80 -> 8080); then it stops with exit 1 and a message naming the
#    unreachable URL and the way out (--kube-url, --kube-url-for, kubectl port-forward).
# 2. With dev reached through --kube-url-for (a local carts process stands in for the dev
#    Service), carts goes on to staging blue/green: carts-primary and the canary are created,
#    the canary cannot be reached, the sequence fails and the canary is discarded: the Service
#    carts still selects the primary (0.11.1), the canary is scaled to 0, production is untouched.
# 3. Ctrl-C while staging's canary is pending: exit 130 and no canary left pending.
# 4. The whole story (needs the real Unleash of test-all.sh), with kube_serve_dataplane standing
#    in for kubelet and kube-proxy: exit 0, 0.11.2 fails the gate on client-side
#    response_time_p95, 0.11.3 serves production, the promotion problem is remediated.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBECONFIG:?KUBECONFIG must point at a cluster (scripts/kube-apiserver.sh start)}"
OUT=$(mktemp -d)
CARTS_PID=""
DATAPLANE_PID=""
NAMESPACES=(sockshop-dev sockshop-staging sockshop-production)
# Empties the tour's namespaces (Deployments, Services, LimitRanges, pods). Namespaces are not
# deleted: no kubelet confirms pod deletion here, so a namespace would stay Terminating for
# minutes; pods are force-deleted instead. Waits until no pod is left.
reset_namespaces() {
  local ns
  for ns in "${NAMESPACES[@]}"; do
    kubectl get namespace "$ns" >/dev/null 2>&1 || continue
    kubectl -n "$ns" delete deploy,rs,svc,limitrange --all --wait=false >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 60); do
    local left=0
    for ns in "${NAMESPACES[@]}"; do
      if [ -n "$(kubectl -n "$ns" get pods -o name 2>/dev/null)" ]; then
        left=1
        kubectl -n "$ns" delete pods --all --grace-period=0 --force >/dev/null 2>&1 || true
      fi
    done
    [ "$left" = 0 ] && return 0
    sleep 1
  done
  return 1
}
cleanup() {
  [ -n "$CARTS_PID" ] && kill "$CARTS_PID" 2>/dev/null || true
  [ -n "$DATAPLANE_PID" ] && kill "$DATAPLANE_PID" 2>/dev/null || true
  reset_namespaces || true
  rm -rf "$OUT"
}
trap cleanup EXIT
fail() { echo "full-tour-kube-smoke: $*" >&2; exit 1; }

cargo build -q -p keptn-examples --example full_tour --locked
BIN=target/debug/examples/full_tour
# Flags from the embedded store (the tour warns that pods cannot reach it), no Dynatrace.
tour() {
  env -u UNLEASH_URL -u UNLEASH_TOKEN -u UNLEASH_CLIENT_TOKEN -u DT_TENANT -u DT_API_TOKEN \
    "$BIN" --kube --no-progress --test-duration 2 --kube-rollout-timeout 120 "$@"
}
jp() { # namespace kind/name jsonpath
  kubectl -n "$1" get "$2" -o "jsonpath=$3" 2>/dev/null
}
expect_eq() { # what actual expected
  [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# A previous run's namespaces would change the story (blue/green keeps its primary).
reset_namespaces || fail "the pods of an earlier run do not go away"

SECONDS=0
# --- 1. default --kube-url: the in-cluster names do not resolve outside the cluster -------
set +e
tour --summary "$OUT/s1.json" >"$OUT/run1.log" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { tail -30 "$OUT/run1.log" >&2; fail "run 1 must exit 1, got $code"; }
for needle in "not reachable at http://carts.sockshop-dev.svc.cluster.local:80" \
  "kubectl port-forward -n sockshop-dev svc/carts 8080:80" "--kube-url-for carts.sockshop-dev=" \
  "carts in the cluster cannot read its flags"; do
  grep -qF -- "$needle" "$OUT/run1.log" || { cat "$OUT/run1.log" >&2; fail "run 1 does not say: $needle"; }
done
for stage in dev staging production; do
  ns="sockshop-$stage"
  kubectl get namespace "$ns" >/dev/null || fail "namespace $ns missing"
  expect_eq "carts-db image in $ns" "$(jp "$ns" deploy/carts-db '{.spec.template.spec.containers[0].image}')" docker.io/mongo:4.2.2
  expect_eq "carts-db role in $ns" "$(jp "$ns" deploy/carts-db '{.metadata.labels.keptn\.sh/deployment}')" direct
  expect_eq "carts-db Service port in $ns" "$(jp "$ns" svc/carts-db '{.spec.ports[0].port}/{.spec.ports[0].targetPort}')" 27017/27017
  expect_eq "carts-db Service selector in $ns" "$(jp "$ns" svc/carts-db '{.spec.selector.keptn\.sh/deployment}')" direct
done
expect_eq "carts image in dev" "$(jp sockshop-dev deploy/carts '{.spec.template.spec.containers[0].image}')" docker.io/keptnexamples/carts:0.11.1
expect_eq "carts Service port in dev" "$(jp sockshop-dev svc/carts '{.spec.ports[0].port}/{.spec.ports[0].targetPort}')" 80/8080
expect_eq "carts labels in dev" \
  "$(jp sockshop-dev deploy/carts '{.metadata.labels.keptn\.sh/project}/{.metadata.labels.keptn\.sh/stage}/{.metadata.labels.keptn\.sh/service}/{.metadata.labels.keptn\.sh/deployment}')" \
  sockshop/dev/carts/direct
expect_eq "carts pod labels in dev" \
  "$(jp sockshop-dev deploy/carts '{.spec.selector.matchLabels.app\.kubernetes\.io/name}/{.spec.template.metadata.labels.keptn\.sh/deployment}')" \
  carts/direct
expect_eq "carts readiness probe in dev" \
  "$(jp sockshop-dev deploy/carts '{.spec.template.spec.containers[0].readinessProbe.httpGet.path}:{.spec.template.spec.containers[0].ports[0].containerPort}')" \
  /health:8080
jp sockshop-dev deploy/carts '{.spec.template.spec.containers[0].env}' \
  | grep -qF 'keptn_project=sockshop keptn_stage=dev keptn_service=carts keptn_deployment=direct' \
  || fail "carts in dev has no DT_CUSTOM_PROP for Dynatrace"
expect_eq "namespace labels" \
  "$(kubectl get namespace sockshop-staging -o 'jsonpath={.metadata.labels.keptn\.sh/project}/{.metadata.labels.keptn\.sh/stage}')" \
  sockshop/staging
for stage in staging production; do
  if kubectl -n "sockshop-$stage" get deploy carts carts-primary >/dev/null 2>&1; then
    fail "carts reached $stage although dev could not be tested"
  fi
done

echo "full-tour-kube-smoke: 1 ok (${SECONDS}s)"
# --- 2. dev reachable through --kube-url-for, staging's canary is not ---------------------
PORT=$(( 20000 + RANDOM % 20000 ))
"$BIN" carts-service --port "$PORT" --version 0.11.1 >"$OUT/carts.log" 2>&1 &
CARTS_PID=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
set +e
tour --kube-url-for "carts.sockshop-dev=http://127.0.0.1:$PORT" --events "$OUT/e2.jsonl" >"$OUT/run2.log" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { tail -30 "$OUT/run2.log" >&2; fail "run 2 must exit 1, got $code"; }
grep -qF "not reachable at http://carts-canary.sockshop-staging.svc.cluster.local:80" "$OUT/run2.log" \
  || { cat "$OUT/run2.log" >&2; fail "run 2 does not name the canary's URL"; }
grep -q '"type":"sh.keptn.event.rollback.finished"' "$OUT/e2.jsonl" || fail "no rollback in staging"
expect_eq "carts-primary image in staging" "$(jp sockshop-staging deploy/carts-primary '{.spec.template.spec.containers[0].image}')" docker.io/keptnexamples/carts:0.11.1
expect_eq "canary replicas in staging" "$(jp sockshop-staging deploy/carts '{.spec.replicas}')" 0
expect_eq "Service carts selects in staging" "$(jp sockshop-staging svc/carts '{.spec.selector.keptn\.sh/deployment}')" primary
expect_eq "Service carts-canary selects in staging" "$(jp sockshop-staging svc/carts-canary '{.spec.selector.keptn\.sh/deployment}')" canary
expect_eq "carts-primary pod role in staging" "$(jp sockshop-staging deploy/carts-primary '{.spec.template.metadata.labels.keptn\.sh/deployment}')" primary
expect_eq "canary pod role in staging" "$(jp sockshop-staging deploy/carts '{.spec.template.metadata.labels.keptn\.sh/deployment}')" canary
if kubectl -n sockshop-production get deploy carts carts-primary >/dev/null 2>&1; then
  fail "carts reached production although staging failed"
fi

echo "full-tour-kube-smoke: 2 ok (${SECONDS}s)"
# --- 3. Ctrl-C while the staging canary is pending ---------------------------------------
# Stretch the window: the canary's rollout cannot finish while the namespace refuses new pods.
kubectl -n sockshop-staging apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: LimitRange
metadata: {name: refuse-new-pods}
spec:
  limits:
  - type: Pod
    max: {memory: "1"}
YAML
# job control on: the background job gets its own process group, which receives the SIGINT as
# a terminal's Ctrl-C would send it (a script's background jobs otherwise ignore SIGINT)
set -m
tour --kube-url-for "carts.sockshop-dev=http://127.0.0.1:$PORT" >"$OUT/run3.log" 2>&1 &
TOUR=$!
set +m
for _ in $(seq 1 300); do
  [ "$(jp sockshop-staging deploy/carts '{.spec.replicas}')" = 1 ] && break
  kill -0 "$TOUR" 2>/dev/null || break
  sleep 0.2
done
expect_eq "canary replicas while pending" "$(jp sockshop-staging deploy/carts '{.spec.replicas}')" 1
kill -INT -- "-$TOUR"
set +e
wait "$TOUR"
code=$?
set -e
[ "$code" = 130 ] || { tail -30 "$OUT/run3.log" >&2; fail "Ctrl-C must exit 130, got $code"; }
grep -qF "no canary is left pending" "$OUT/run3.log" || { cat "$OUT/run3.log" >&2; fail "run 3 does not report the clean-up"; }
expect_eq "canary replicas after Ctrl-C" "$(jp sockshop-staging deploy/carts '{.spec.replicas}')" 0
expect_eq "Service carts selects after Ctrl-C" "$(jp sockshop-staging svc/carts '{.spec.selector.keptn\.sh/deployment}')" primary
expect_eq "carts-primary image after Ctrl-C" "$(jp sockshop-staging deploy/carts-primary '{.spec.template.spec.containers[0].image}')" docker.io/keptnexamples/carts:0.11.1
echo "full-tour-kube-smoke: 3 ok (${SECONDS}s)"

# --- 4. the whole story through the cluster, with a data-plane stand-in ---------------------
# kube_serve_dataplane plays kubelet + kube-proxy (a test fake): for each Service the tour uses
# it reads the Service's selector and the selected Deployment's image from the API server and
# answers with a local carts process of that version. The tour's code path is the one for a real
# cluster (--kube, KubeDeployer, --kube-url-for, client-side SLIs); flags in the real Unleash
# test-all.sh started, which the stand-in's carts processes read.
if [ -z "${UNLEASH_URL:-}" ] || [ -z "${UNLEASH_TOKEN:-}" ] || [ -z "${UNLEASH_CLIENT_TOKEN:-}" ]; then
  echo "full-tour-kube-smoke: skipping 4 (the whole story): UNLEASH_URL/UNLEASH_TOKEN/UNLEASH_CLIENT_TOKEN not set (scripts/unleash.sh up)" >&2
else
  reset_namespaces || fail "the pods of run 3 do not go away"
  cargo build -q -p keptn-examples --example kube_serve_dataplane --locked
  target/debug/examples/kube_serve_dataplane --carts-program "$BIN" --route carts.sockshop-dev \
    --route carts-canary.sockshop-staging --route carts.sockshop-production >"$OUT/routes" 2>"$OUT/dataplane.log" &
  DATAPLANE_PID=$!
  for _ in $(seq 1 100); do [ "$(wc -l <"$OUT/routes")" = 3 ] && break; sleep 0.1; done
  [ "$(wc -l <"$OUT/routes")" = 3 ] || { cat "$OUT/dataplane.log" >&2; fail "the data-plane stand-in did not start"; }
  ROUTES=()
  while read -r route; do ROUTES+=(--kube-url-for "$route"); done <"$OUT/routes"
  set +e
  env -u DT_TENANT -u DT_API_TOKEN "$BIN" --kube --no-progress --test-duration 3 --users 4 --kube-rollout-timeout 120 \
    "${ROUTES[@]}" --summary "$OUT/s4.json" >"$OUT/run4.log" 2>&1
  code=$?
  set -e
  kill "$DATAPLANE_PID" 2>/dev/null || true
  wait "$DATAPLANE_PID" 2>/dev/null || true
  DATAPLANE_PID=""
  grep -A7 "== quality gate reports" "$OUT/run4.log" | grep -E "in staging|response_time_p95" >&2 || true
  [ "$code" = 0 ] || { tail -40 "$OUT/run4.log" >&2; fail "the whole story through the cluster exited $code"; }
  grep -qF "SLIs: client-side measurements" "$OUT/run4.log" || fail "run 4 did not use client-side SLIs"
  python3 - "$OUT/s4.json" <<'PY' || fail "the summary of run 4 does not tell the seed's story"
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
  expect_eq "carts-primary image in production" "$(jp sockshop-production deploy/carts-primary '{.spec.template.spec.containers[0].image}')" docker.io/keptnexamples/carts:0.11.3
  expect_eq "Service carts selects in production" "$(jp sockshop-production svc/carts '{.spec.selector.keptn\.sh/deployment}')" primary
  expect_eq "canary replicas in production" "$(jp sockshop-production deploy/carts '{.spec.replicas}')" 0
fi
echo "full-tour-kube-smoke: ok (${SECONDS}s)"
