#!/usr/bin/env bash
# Each crate as an outside user gets it: a fresh cargo project (not a workspace member) that
# depends on one crate by path, with its default features and with `default-features = false`,
# builds a small program from tests/user-crates/ written from the public docs only, and checks
# its dependency tree: no HTTP or TLS stack (reqwest, hyper, rustls, aws-lc, native-tls, openssl)
# where the features do not ask for one, no Kubernetes client unless feature `kube` is on, and no
# TLS crate under `kube` when the application turned our default (`rustls`) features off.
# Prints the number of crates in each tree (`cargo tree -e normal`). The three user programs of
# the issue (a CI gate, Dynatrace SLIs into the gate, a delivery tool with its own deployer) are
# also run. `scripts/user-crates.sh NAME…` checks only the named projects.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/keptn-user-crates.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# one target directory for all the projects, so shared dependencies build once
export CARGO_TARGET_DIR="${USER_CRATES_TARGET_DIR:-$ROOT/target/user-crates}"

HTTP='reqwest|hyper|hyper-util|rustls|aws-lc-rs|aws-lc-sys|native-tls|openssl|openssl-sys'
KUBE='kube|kube-client|k8s-openapi'
TLS='rustls|hyper-rustls|tokio-rustls|aws-lc-rs|aws-lc-sys|ring|native-tls|openssl|openssl-sys'
failed=0
ONLY=" $* "

# wanted NAME: true when no names were given or NAME is one of them
wanted() { [ "$ONLY" = "  " ] || [[ "$ONLY" == *" $1 "* ]]; }

# check NAME CRATE PROGRAM 'DEPENDENCY SPEC' 'FORBIDDEN REGEX or -' ['MORE DEPENDENCY LINES']
check() {
  local name=$1 crate=$2 program=$3 spec=$4 forbidden=$5 more=${6:-} dir="$WORK/$1"
  wanted "$name" || return 0
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "user-$name"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$crate = $spec
$more

[workspace]
TOML
  cp "tests/user-crates/$program.rs" "$dir/src/main.rs"
  # the workspace's lock file pins the same versions CI tested; cargo drops what is unused
  cp Cargo.lock "$dir/Cargo.lock"
  if ! (cd "$dir" && cargo build --quiet 2> "$dir/build.log"); then
    echo "FAIL $name: does not build:" >&2
    tail -20 "$dir/build.log" >&2
    failed=1
    return
  fi
  local tree count bad
  tree=$(cd "$dir" && cargo tree -e normal --prefix none | sed 's/ (\*)$//' | sort -u)
  count=$(printf '%s\n' "$tree" | wc -l)
  if [ "$forbidden" != "-" ]; then
    bad=$(printf '%s\n' "$tree" | awk '{print $1}' | grep -Ex "$forbidden" | sort -u | tr '\n' ' ' || true)
    if [ -n "$bad" ]; then
      echo "FAIL $name: pulls in $bad" >&2
      failed=1
      return
    fi
  fi
  printf 'ok   %-28s %4d crates\n' "$name" "$count"
}

# run NAME ARGS…: runs the program built by `check NAME …` (when it was checked and built)
run() {
  local name=$1
  shift
  wanted "$name" || return 0
  [ -f "$WORK/$name/Cargo.toml" ] || return 0
  if ! (cd "$WORK/$name" && timeout 120 cargo run --quiet -- "$@" > "$WORK/$name/run.log" 2>&1); then
    echo "FAIL $name: the program failed:" >&2
    tail -20 "$WORK/$name/run.log" >&2
    failed=1
    return
  fi
  echo "ran  $name"
}

p() { printf '{ path = "%s/%s"%s }' "$ROOT" "$1" "${2:-}"; }
nd=', default-features = false'

check spec            keptn-spec      spec      "$(p keptn-spec)"                "$HTTP|$KUBE|tokio"
check slo             keptn-slo       slo       "$(p keptn-slo)"                 "$HTTP|$KUBE"
check slo-minimal     keptn-slo       slo       "$(p keptn-slo "$nd")"           "$HTTP|$KUBE"
check deploy          keptn-deploy    deploy    "$(p keptn-deploy)"              "$KUBE"
check deploy-minimal  keptn-deploy    deploy    "$(p keptn-deploy "$nd")"        "$HTTP|$KUBE"
# `kube` without our defaults: the application chooses kube's TLS backend, so there is none yet
k8s='k8s-openapi = { version = "0.29", default-features = false, features = ["latest"] }'
check deploy-kube-notls keptn-deploy  deploy    "$(p keptn-deploy "$nd, features = [\"kube\"]")" "$TLS" "$k8s"
check remediate       keptn-remediate remediate "$(p keptn-remediate)"           "$KUBE"
check remediate-minimal keptn-remediate remediate "$(p keptn-remediate "$nd")"   "$HTTP|$KUBE"
check dynatrace       keptn-dynatrace dynatrace "$(p keptn-dynatrace)"           "$KUBE"
check notify          keptn-notify    notify    "$(p keptn-notify)"              "$KUBE"
check local           keptn-local     local     "$(p keptn-local)"               "$KUBE"

# the three user programs
tokio='tokio = { version = "1", features = ["macros", "rt"] }'
check gate            keptn-slo       gate      "$(p keptn-slo)"                 "$HTTP|$KUBE" "$tokio"
mkdir -p "$WORK/gate-data"
printf 'objectives:\n  - sli: response_time_p95\n    pass: [{ criteria: ["<600"] }]\ntotal_score: { pass: "90%%" }\n' \
  > "$WORK/gate-data/slo.yaml"
echo '{"result":"pass","indicatorValues":[{"metric":"response_time_p95","value":420,"success":true}]}' \
  > "$WORK/gate-data/sli.json"
run gate "$WORK/gate-data/slo.yaml" "$WORK/gate-data/sli.json" "$WORK/gate-data/history"
check dynatrace-gate  keptn-dynatrace dynatrace_gate "$(p keptn-dynatrace ', features = ["testing"]')" "$KUBE" \
  "keptn-slo = $(p keptn-slo)
$tokio"
run dynatrace-gate
check delivery        keptn-control   delivery  "$(p keptn-control)"             "$KUBE" \
  "keptn-deploy = $(p keptn-deploy)
$tokio"
run delivery

exit $failed
