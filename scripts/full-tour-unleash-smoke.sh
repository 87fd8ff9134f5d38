#!/usr/bin/env bash
# The full tour (issue 7) with its flags in a real Unleash instead of the embedded store: the
# Unleash that test-all.sh started (scripts/unleash.sh; UNLEASH_URL, UNLEASH_TOKEN = admin token,
# UNLEASH_CLIENT_TOKEN = client token of environment production).
#
# Proves, against the real server: the flags are created in project `default` when missing and
# switched off; carts reads them from `/api/client/features` with the client token; turning
# EnablePromotion on makes production fail; the remediation turns it off in Unleash (read back)
# and the problem resolves. Asserted from `--summary` and from Unleash's Admin API afterwards.
# Tokens are never printed; the run's output is checked for them.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${UNLEASH_URL:?UNLEASH_URL must point at a running Unleash (scripts/unleash.sh up)}"
: "${UNLEASH_TOKEN:?UNLEASH_TOKEN (admin token) must be set}"
: "${UNLEASH_CLIENT_TOKEN:?UNLEASH_CLIENT_TOKEN (client token, environment production) must be set}"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "full-tour-unleash-smoke: $*" >&2; exit 1; }

cargo build -q -p keptn-examples --example full_tour --locked
set +e
env -u DT_TENANT -u DT_API_TOKEN target/debug/examples/full_tour --no-progress --test-duration 3 \
  --events "$OUT/events.jsonl" --summary "$OUT/summary.json" >"$OUT/out.log" 2>&1
code=$?
set -e
if [ "$code" != 0 ]; then
  tail -40 "$OUT/out.log" >&2
  fail "full_tour against the real Unleash exited $code"
fi
for secret in "$UNLEASH_TOKEN" "$UNLEASH_CLIENT_TOKEN"; do
  if grep -qF -- "$secret" "$OUT/out.log" "$OUT/events.jsonl" "$OUT/summary.json"; then
    fail "an Unleash token appears in the tour's output"
  fi
done
grep -qF "flags: Unleash at $UNLEASH_URL" "$OUT/out.log" || fail "the tour did not use the real Unleash"

node - "$OUT/summary.json" <<'JS' || fail "the summary does not tell the seed's story with the real Unleash"
const s = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const must = (cond, what) => { if (!cond) { console.error("summary: " + what); process.exitCode = 1; } };
must(s.ok === true, "ok is not true");
must(s.flags === "unleash", `flags is ${s.flags}, expected unleash`);
const p = (s.problems || []).find((p) => p.title === "Failure rate increase");
must(p, "no \"Failure rate increase\" problem");
if (p) {
  must(p.resolvedAt, "the problem did not resolve");
  must(p.outcome === "resolved", `remediation outcome ${p.outcome}`);
  const off = p.actions.some((a) => a.status === "succeeded"
    && (a.changes || []).some((c) => String(c.target).endsWith("EnablePromotion") && c.after === "off"));
  must(off, "no succeeded action turned EnablePromotion off");
}
must(s.productionTraffic.failed > 0, "no failed production request: the flag never reached carts");
JS

# What Unleash itself says afterwards: EnablePromotion exists in project default and is off in
# production.
state=$(curl -fsS -H "Authorization: $UNLEASH_TOKEN" \
  "$UNLEASH_URL/api/admin/projects/default/features/EnablePromotion/environments/production") \
  || fail "EnablePromotion is not in project default"
echo "$state" | tr -d ' \n' | grep -q '"enabled":false' || fail "EnablePromotion is still on: $state"
echo "full-tour-unleash-smoke: ok"
