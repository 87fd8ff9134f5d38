#!/usr/bin/env bash
# The whole test suite: formatting, lints, tests, docs. This is the command README.md shows
# and the one .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt"
cargo fmt --all --check
echo "== cargo clippy (all features)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
echo "== cargo test (all features)"
cargo test --workspace --all-features --locked
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
echo "== no ignored doctests"
if grep -rn --include='*.rs' --exclude-dir=target '```ignore' .; then
  echo "ignored doctests found" >&2
  exit 1
fi
echo "== all checks passed"
