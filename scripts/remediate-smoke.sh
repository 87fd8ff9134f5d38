#!/usr/bin/env bash
# Smoke run of `remediate_unleash_toggle` against the real Unleash started by
# `scripts/unleash.sh up` (needs UNLEASH_URL and UNLEASH_TOKEN): the tour's finale.
#
# 1. EnablePromotion exists and is on in production (created if missing);
# 2. dry run: exit 0, JSON status "dry-run", the flag is still on;
# 3. real run for "Failure rate increase": exit 0, JSON status "resolved", the flag is off,
#    read back from Unleash with a plain HTTP call;
# 4. an unmatched problem exits 1, a broken remediation file exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${UNLEASH_URL:?UNLEASH_URL is not set (scripts/unleash.sh up)}"
: "${UNLEASH_TOKEN:?UNLEASH_TOKEN is not set (scripts/unleash.sh up)}"
FLAG=EnablePromotion
ENV_URL="$UNLEASH_URL/api/admin/projects/default/features/$FLAG/environments/production"
auth=(-H "Authorization: $UNLEASH_TOKEN")

fail() { echo "remediate-smoke: FAIL: $*" >&2; exit 1; }

cargo build -q -p keptn-examples --example remediate_unleash_toggle --locked
run() { cargo run -q -p keptn-examples --example remediate_unleash_toggle --locked -- "$@"; }
enabled() { curl -fsS "${auth[@]}" "$ENV_URL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enabled"])'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

curl -sS -o /dev/null "${auth[@]}" -H 'content-type: application/json' \
  -d "{\"name\":\"$FLAG\",\"type\":\"release\"}" "$UNLEASH_URL/api/admin/projects/default/features"
curl -fsS -o /dev/null -X POST "${auth[@]}" "$ENV_URL/on"
[ "$(enabled)" = True ] || fail "could not turn $FLAG on"

common=(--remediation examples/fixtures/remediation_feature_toggle.yaml
  --project sockshop --stage production --service carts)

out=$(run "${common[@]}" --problem "Failure rate increase" --dry-run) || fail "dry run exited $?"
[ "$(json_field '["status"]' <<<"$out")" = dry-run ] || fail "dry run status: $out"
[ "$(enabled)" = True ] || fail "dry run changed the flag"

start=$(date +%s%N)
out=$(run "${common[@]}" --problem "Failure rate increase") || fail "remediation exited $?: $out"
end=$(date +%s%N)
[ "$(json_field '["status"]' <<<"$out")" = resolved ] || fail "status: $out"
[ "$(json_field '["finalState"]["flags"]["EnablePromotion"]' <<<"$out")" = off ] || fail "final state: $out"
[ "$(enabled)" = False ] || fail "$FLAG is still on in Unleash"
echo "remediate-smoke: remediation round $(json_field '["elapsedMs"]' <<<"$out") ms in the workflow, $(( (end - start) / 1000000 )) ms for the whole program"

set +e
run "${common[@]}" --problem "CPU saturation" >/dev/null; code=$?
[ $code = 1 ] || fail "unmatched problem exited $code, expected 1"
bad=$(mktemp); printf 'remediations:\n- name: x\n  actions:\n  - action: restart\n' >"$bad"
run --remediation "$bad" --problem x --project sockshop --stage production --service carts 2>/dev/null; code=$?
rm -f "$bad"
[ $code = 2 ] || fail "invalid remediation file exited $code, expected 2"
run --remediation /nonexistent --problem x --project Sock --stage production --service carts 2>/dev/null; code=$?
[ $code = 2 ] || fail "invalid project name exited $code, expected 2"
set -e
echo "remediate-smoke: ok"
