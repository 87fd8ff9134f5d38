#!/usr/bin/env bash
# Smoke test of the real `slo_evaluate` binary: the CLI contract's exit codes on the sample files
# (0 pass, 0/1 warning with --fail-on-warning, 1 fail, 2 invalid input with a located error,
# 3 inconclusive under the `no_data: inconclusive` policy), `--replay` of the recorded tour
# history under a stricter and a looser SLO, and
# that `--format json` prints an evaluation.finished data object, also with a history as Keptn
# writes it (`"value": null`).
set -euo pipefail
cd "$(dirname "$0")/.."
F=examples/fixtures/slo
cargo build -q --locked -p keptn-examples --example slo_evaluate
BIN=target/debug/examples/slo_evaluate

expect() {
  local want=$1; shift
  local got=0
  "$BIN" "$@" >/tmp/slo-cli-out.$$ 2>/tmp/slo-cli-err.$$ || got=$?
  if [ "$got" != "$want" ]; then
    echo "slo_evaluate $*: exit $got, expected $want" >&2
    cat /tmp/slo-cli-out.$$ /tmp/slo-cli-err.$$ >&2
    rm -f /tmp/slo-cli-out.$$ /tmp/slo-cli-err.$$
    exit 1
  fi
}

expect 0 --slo $F/slo.yaml --sli $F/sli-0.11.1.json --previous $F/previous.json --format json
grep -q '"result": "pass"' /tmp/slo-cli-out.$$
grep -q '"indicatorResults"' /tmp/slo-cli-out.$$
expect 1 --slo $F/slo.yaml --sli $F/sli-0.11.2.json --previous $F/previous.json --format table
grep -q 'would pass with a value <= 440' /tmp/slo-cli-out.$$
# A history as Keptn writes it: `"value": null` and `null` lists are read, the null result skipped.
expect 0 --slo $F/slo.yaml --sli $F/sli-0.11.1.json --previous $F/previous-keptn-null.json --format json
grep -q '"comparedValue": 400' /tmp/slo-cli-out.$$
expect 1 --slo $F/slo.yaml --sli $F/sli-0.11.2.json --previous $F/previous-keptn-null.json --format json
expect 0 --slo $F/slo-two-objectives.yaml --sli $F/sli-warning.json --format junit
expect 1 --slo $F/slo-two-objectives.yaml --sli $F/sli-warning.json --fail-on-warning
expect 0 --sli $F/sli-0.11.1.json
expect 2 --slo $F/invalid-slo.yaml --sli $F/sli-0.11.1.json
grep -q 'invalid-slo.yaml:3:13' /tmp/slo-cli-err.$$
expect 2 --slo $F/slo.yaml
# Beyond Keptn: no data under `no_data: inconclusive` exits 3; the event says fail + keptn-rs.
expect 3 --slo $F/slo-inconclusive.yaml --sli $F/sli-no-data.json --format json
grep -q '"result": "fail"' /tmp/slo-cli-out.$$
grep -q '"inconclusive": true' /tmp/slo-cli-out.$$
expect 0 --slo $F/slo-inconclusive.yaml --sli $F/sli-0.11.1.json --format json
expect 1 --slo $F/slo.yaml --sli $F/sli-no-data.json --format json
# Replay of the recorded tour history: 0.11.2 fails under a stricter SLO, passes under a looser one.
expect 0 --replay $F/tour-history.json --slo $F/slo-stricter.yaml --format json
grep -q '"changed": 1' /tmp/slo-cli-out.$$
expect 0 --replay $F/tour-history.json --slo $F/slo-looser.yaml --format table
grep -q 'tour-0.11.2  2026-11-26T12:01:00+00:00  fail -> pass' /tmp/slo-cli-out.$$
expect 2 --replay $F/sli-0.11.1.json --slo $F/slo.yaml
rm -f /tmp/slo-cli-out.$$ /tmp/slo-cli-err.$$
echo "slo_evaluate: exit codes 0/1/2/3 and --replay as specified"
