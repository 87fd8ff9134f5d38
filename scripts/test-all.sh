#!/usr/bin/env bash
# The whole test suite: formatting, lints, tests against real services, docs, example smoke runs.
# This is the command README.md shows and the one .ci/run calls. It installs and starts what the
# tests need (each service block below) and stops it again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED="${KEPTN_SHARED_DIR:-$ROOT/../shared}"

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

# kube-apiserver (keptn-deploy): a real Kubernetes API server (v1.20, etcd, controller-manager)
# on loopback plus a fake kubelet, so keptn-deploy's kube_cluster tests and the deploy_blue_green
# smoke run prove server-side apply, rollout watching, selector switching and rollback against
# the real thing. Exports KUBECONFIG.
echo "== service: kube-apiserver"
KUBE_DIR="$(mktemp -d /tmp/keptn-kube.XXXXXX)"
STOP_HOOKS+=("SHARED='$SHARED' scripts/kube-apiserver.sh stop '$KUBE_DIR'")
KUBE_ENV="$(SHARED="$SHARED" scripts/kube-apiserver.sh start "$KUBE_DIR")"
eval "$KUBE_ENV"
export KUBECONFIG


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
echo "== cargo clippy (all features)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
echo "== cargo clippy (default features)"
cargo clippy --workspace --all-targets --locked -- -D warnings
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

# keptn-remediate without its Unleash backend: the workflow, registry and scaling compile and
# pass their tests with only the in-memory test doubles (R2/R18).
echo "== keptn-remediate without default features"
cargo test -p keptn-remediate --no-default-features --features testing --locked

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

echo "== all checks passed"
