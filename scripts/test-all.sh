#!/usr/bin/env bash
# The whole test suite: formatting, lints, tests against real services, docs, example smoke runs.
# This is the command README.md shows and the one .ci/run calls. It installs and starts what the
# tests need (each service block below) and stops it again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED="${KEPTN_SHARED_DIR:-$ROOT/../shared}"
# tests that read the shared Keptn example files find them here (skipped without it)
export KEPTN_SHARED_DIR="$SHARED"

STOP_HOOKS=()
cleanup() {
  local hook
  for hook in "${STOP_HOOKS[@]}"; do eval "$hook" || true; done
}
trap cleanup EXIT

echo "== cargo fmt"
cargo fmt --all --check

# ---------------------------------------------------------------------------------------------
# Services: each block installs (if missing) and starts one real service, exports the variables
# its tests read, and registers how to stop it in STOP_HOOKS. A block that cannot start its
# service fails the run.
# ---------------------------------------------------------------------------------------------

# (service blocks go here)

# Unleash (keptn-remediate's `unleash_real` tests): unleash-server 7.5 (npm, Node >= 20) on
# Debian's PostgreSQL, both on 127.0.0.1 (ports 44242/55432); installs what is missing.
# Exports UNLEASH_URL, UNLEASH_TOKEN (an admin token seeded at start) and UNLEASH_CLIENT_TOKEN
# (a client token of environment production, for the tour's carts); tokens are never printed.
echo "== service: Unleash"
STOP_HOOKS+=("scripts/unleash.sh down")
UNLEASH_ENV=$(scripts/unleash.sh up)
eval "$UNLEASH_ENV"
unset UNLEASH_ENV

# Prometheus + Alertmanager (keptn-prometheus' `real` tests, the prometheus_fetch_slis smoke run):
# Debian's prometheus 2.x and prometheus-alertmanager (installed when missing), run directly on
# 127.0.0.1 (ports 39090/39093) with temporary data; Prometheus scrapes file_sd targets that
# tests drop into PROMETHEUS_TARGETS_DIR every second and loads rule files from
# PROMETHEUS_RULES_DIR. Exports PROMETHEUS_URL, PROMETHEUS_TARGETS_DIR, PROMETHEUS_RULES_DIR,
# PROMETHEUS_BIN, PROMTOOL_BIN, ALERTMANAGER_URL, ALERTMANAGER_BIN.
echo "== service: Prometheus, Alertmanager"
STOP_HOOKS+=("scripts/prometheus.sh down")
PROMETHEUS_ENV=$(scripts/prometheus.sh up)
eval "$PROMETHEUS_ENV"
unset PROMETHEUS_ENV

# kube-apiserver (keptn-deploy): a real Kubernetes API server (v1.20, etcd, controller-manager)
# on loopback plus a fake kubelet, so keptn-deploy's kube_cluster tests and the deploy_blue_green
# smoke run prove server-side apply, rollout watching, selector switching and rollback against
# the real thing, and keptn-testkit's kube_proxy_faults tests put a faulting proxy (409, 500,
# dropped watches) in front of it. Exports KUBECONFIG (must come before `cargo test` below).
echo "== service: kube-apiserver"
KUBE_DIR="$(mktemp -d /tmp/keptn-kube.XXXXXX)"
STOP_HOOKS+=("SHARED='$SHARED' scripts/kube-apiserver.sh stop '$KUBE_DIR'")
KUBE_ENV="$(SHARED="$SHARED" scripts/kube-apiserver.sh start "$KUBE_DIR")"
eval "$KUBE_ENV"
export KUBECONFIG

# A real one-machine node (scripts/kube-node.sh): its own kube-apiserver (ports 26443/26479),
# containerd, kubelet, kube-scheduler, kube-proxy (iptables) and controller-manager, pods on the
# bridge kn0; kubelet/scheduler/proxy are built once from Debian's source (~4 min, cached). The
# carts images are built from this project's carts example and imported (nothing pulled).
# keptn-deploy's kube_node tests read KUBE_NODE_KUBECONFIG. Fails the run if the node cannot
# become Ready.
echo "== service: kube node"
NODE_DIR="$(mktemp -d /tmp/keptn-node.XXXXXX)"
STOP_HOOKS+=("SHARED='$SHARED' scripts/kube-node.sh stop '$NODE_DIR'")
SHARED="$SHARED" scripts/kube-node.sh start "$NODE_DIR" >/dev/null
SHARED="$SHARED" scripts/kube-node.sh images "$NODE_DIR" >/dev/null
export KUBE_NODE_KUBECONFIG="$NODE_DIR/kubeconfig"


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
echo "== cargo clippy (all features)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
echo "== cargo clippy (default features)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== keptn-slo engine alone (no default features: no tokio, async-trait or clap)"
cargo clippy -p keptn-slo --no-default-features --all-targets --locked -- -D warnings
if cargo tree -p keptn-slo --no-default-features -e normal --prefix none --locked | grep -E '^(tokio|async-trait|clap) '; then
  echo "keptn-slo without default features must not depend on tokio, async-trait or clap" >&2
  exit 1
fi
# The dependency policy in deny.toml: licences, banned crates, duplicate versions (warnings),
# crates.io as the only source. Advisories are not checked: their database cannot be fetched
# here (see deny.toml). cargo-deny 0.20.2 is installed when missing (`cargo install --locked`, about
# 4 minutes of compiling on 2 cores).
echo "== cargo deny (licenses, bans, sources)"
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install --locked cargo-deny --version 0.20.2
fi
cargo deny --locked check licenses bans sources

echo "== cargo test (all features)"
cargo test --workspace --all-features --locked
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
echo "== no ignored doctests"
if grep -rn --include='*.rs' --exclude-dir=target '```ignore' .; then
  echo "ignored doctests found" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# Example smoke runs and conformance checks (each block says what it proves)
# ---------------------------------------------------------------------------------------------

# (example blocks go here)

# slo_evaluate: the gate CLI's contract (exit codes 0/1/2, json/table/junit) on the real binary.
echo "== slo_evaluate CLI smoke run"
scripts/slo-cli-smoke.sh

# Each crate as an outside user adds it: default features and `default-features = false` build
# alone, and no HTTP/TLS stack or Kubernetes client appears where the features do not ask for it.
echo "== user crates (default features build alone, lean dependency trees)"
scripts/user-crates.sh

# keptn-remediate without its Unleash backend: the workflow, registry and scaling compile and
# pass their tests with only the in-memory test doubles (R2/R18).
echo "== keptn-remediate without default features"
cargo test -p keptn-remediate --no-default-features --features testing --locked

# keptn-deploy without Kubernetes and without the HTTP test runner: the traits, the delivery
# sequence and the sinks with the in-memory doubles only.
echo "== keptn-deploy without default features"
cargo test -p keptn-deploy --no-default-features --features testing --locked

# deploy_blue_green (keptn-deploy) against the real API server started above: the CLI contract of
# issue 6 — deploy, promote, deploy + rollback (primary keeps serving), a rollout that cannot
# complete (exit 1, rolled back, primary untouched) and invalid input (exit 2).
echo "== example: deploy_blue_green"
scripts/deploy-smoke.sh

# notify_send (keptn-notify): one message per meaningful event of a recorded tour, in order;
# a dead webhook receiver is retried, counted and reported with exit 1 and no secret in the
# output; a v1alpha1 webhook.yaml is rejected with exit 2 and a located message.
echo "== example: notify_send"
scripts/notify-smoke.sh

# control_plane (keptn-control, feature http): listens and prints its URL, 401 without the token,
# the token never printed, a project and an event survive SIGTERM and a restart on the same state
# file, the open deployment task is offered to remote executors, no token is a clear error.
echo "== example: control_plane"
scripts/control-plane-smoke.sh

# spec_validate over the 64 real Keptn files in $SHARED/fixtures/keptn-examples (when present):
# every published shipyard, SLO, SLI and remediation file is detected and accepted (exit 0), and
# the CLI contract holds: 1 for a file that parses but is invalid, 2 for one that cannot be parsed.
echo "== spec_validate conformance"
scripts/spec-conformance.sh "$SHARED"

# The tour's finale against the real Unleash: remediate_unleash_toggle turns EnablePromotion off
# for "Failure rate increase" (read back from Unleash), dry run changes nothing, exit codes 1/2.
echo "== example: remediate_unleash_toggle (real Unleash)"
scripts/remediate-smoke.sh

# Secrets never leak: the examples that take tokens and webhook URLs, and the tour in embedded
# mode, at RUST_LOG=trace on success and failure paths; every byte of their output and of the
# files they wrote is searched for each secret (plain and base64).
echo "== secrets never leak (examples and tour at RUST_LOG=trace)"
scripts/secrets-smoke.sh

# full_tour: the seed's whole story on one machine (issue 7). Exits 0 only when 0.11.2 fails the
# staging gate on response_time_p95 and is rolled back, 0.11.3 reaches production and the
# EnablePromotion problem is remediated; under 2 minutes; no service process may outlive it.
echo "== example: full_tour"
scripts/full-tour-smoke.sh

# full_tour with a real Unleash (the one started above): flags created in project default,
# carts reading them from /api/client/features with the client token, EnablePromotion turned
# off by the remediation and read back from Unleash; asserted from --summary and the Admin API.
echo "== example: full_tour (real Unleash)"
scripts/full-tour-unleash-smoke.sh

# full_tour --kube against the real kube-apiserver started above (its pods never serve traffic,
# so the story cannot pass here): the Deployments/Services it creates (images, ports, roles,
# selectors, namespaces), a clean exit 1 naming the unreachable URL and --kube-url /
# port-forward, the staging canary discarded with the primary still serving, Ctrl-C (exit 130)
# leaving no canary pending, and the whole story through the cluster with kube_serve_dataplane
# (a fake kubelet/kube-proxy) answering for the pods, flags in the real Unleash.
echo "== example: full_tour --kube (real kube-apiserver)"
scripts/full-tour-kube-smoke.sh

# deploy_blue_green and full_tour --kube on the real node started above (real pods, readiness
# probes, kube-proxy): blue/green through the ClusterIP (rollback keeps 0.11.1, promote serves
# 0.11.3), then the whole story: 0.11.2 fails the staging gate on client-side p95 through the
# Service, production keeps 0.11.1, 0.11.3 is promoted, the EnablePromotion problem is
# remediated with the pods reading the flag.
echo "== example: full_tour --kube (real node, real pods)"
scripts/full-tour-kube-node-smoke.sh "$NODE_DIR"

# full_tour with DT_TENANT + DT_API_TOKEN pointing at the fake tenant (dynatrace_serve_fake): the
# staging gate's SLIs and the production problem come from Dynatrace's APIs, same code path as a
# real tenant; the seed's outcome, no token in the output, no leaked process.
echo "== example: full_tour in Dynatrace mode (fake tenant)"
scripts/full-tour-dynatrace-smoke.sh

# dynatrace_fetch_slis / dynatrace_configure_monitoring (keptn-dynatrace) against a fake tenant that
# follows Dynatrace's published API: CLI contracts (exit 0/1/2, JSON shape), the fetched SLIs
# feeding slo_evaluate, idempotent monitoring set-up, and no API token in any output.
echo "== example: dynatrace_fetch_slis, dynatrace_configure_monitoring"
scripts/dynatrace-smoke.sh

# prometheus_fetch_slis (keptn-prometheus) against the real Prometheus started above: the CLI
# contract (JSON array like dynatrace_fetch_slis, exit 0/1/2), Keptn's default queries over a
# scraped target, its output feeding slo_evaluate, bearer auth through a proxy, no secret in
# any output.
echo "== example: prometheus_fetch_slis (real Prometheus)"
scripts/prometheus-smoke.sh

# full_tour --monitoring prometheus: the tour starts its own Prometheus and Alertmanager (the
# binaries exported above as PROMETHEUS_BIN / ALERTMANAGER_BIN, on free loopback ports, not the
# pair above); the gate's SLIs from Prometheus' default queries, the production problem from the
# generated alert rule through Alertmanager, remediation, resolved alert → problem closed.
echo "== example: full_tour --monitoring prometheus"
scripts/full-tour-prometheus-smoke.sh

echo "== all checks passed"
