#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with AFL++ (through `cargo afl`, stable toolchain).
#
#   scripts/fuzz.sh TARGET SECONDS        fuzz TARGET for SECONDS, print its figures
#   scripts/fuzz.sh all SECONDS           every target in turn, SECONDS each
#   FUZZ_SAVE=1 scripts/fuzz.sh ...       afterwards, minimise the queue (afl-cmin, files up to
#                                         16 KiB) into fuzz/corpus/TARGET (what CI replays)
#
# TARGET is one of the names in fuzz/targets/src/lib.rs (TARGETS). Seeds come from
# fuzz/corpus/TARGET; output goes to target/afl-out/TARGET (crashes in .../default/crashes).
# Installs cargo-afl and builds AFL++ when missing. Runs at nice 19: the machine is shared.
# Prints one line per target: executions, exec/s, map density, edges, corpus, crashes, hangs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS" >&2
  exit 2
fi
TARGET=$1
SECONDS_EACH=$2

if ! cargo afl --version >/dev/null 2>&1; then
  echo "== installing cargo-afl" >&2
  cargo install --locked cargo-afl >&2
fi
# builds AFL++ (afl-fuzz, afl-cmin) once into cargo-afl's data directory
if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
  echo "building AFL++ failed:" >&2
  echo "$out" >&2
  exit 1
fi

export CARGO_TARGET_DIR="$ROOT/target/afl"
BIN="$CARGO_TARGET_DIR/release/keptn-fuzz-afl"
echo "== building the harness (cargo afl build --release)" >&2
# opt-level 1 (AFL_OPT_LEVEL): the instrumented release build of the whole tree at cargo-afl's
# default 3 with one codegen unit takes too long on a shared 2-core machine
(cd fuzz/afl && AFL_OPT_LEVEL="${AFL_OPT_LEVEL:-1}" nice -n 19 cargo afl build --release --locked -q >&2)

if [ "$TARGET" = all ]; then
  mapfile -t TARGETS < <(ls fuzz/corpus)
else
  if [ ! -d "fuzz/corpus/$TARGET" ]; then
    echo "unknown target \`$TARGET\`: expected one of: $(ls fuzz/corpus | tr '\n' ' ')" >&2
    exit 2
  fi
  TARGETS=("$TARGET")
fi

# no core_pattern or CPU governor changes on a shared machine; no UI
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1

stat() { grep -E "^$1 " "$2" | sed 's/.*: //'; }

for t in "${TARGETS[@]}"; do
  out="$ROOT/target/afl-out/$t"
  rm -rf "$out"
  mkdir -p "$out"
  # -t: a call may take a while (the answers targets talk HTTP over loopback); -V: stop after
  nice -n 19 cargo afl fuzz -i "fuzz/corpus/$t" -o "$out" -t 5000 -V "$SECONDS_EACH" \
    -- "$BIN" "$t" >"$out/afl.log" 2>&1 || {
    echo "afl-fuzz failed for $t (see $out/afl.log):" >&2
    tail -20 "$out/afl.log" >&2
    exit 1
  }
  s="$out/default/fuzzer_stats"
  crashes=$(stat saved_crashes "$s")
  printf '%-18s execs %-10s exec/s %-8s map %-7s edges %s/%s corpus %-5s crashes %s hangs %s\n' \
    "$t" "$(stat execs_done "$s")" "$(stat execs_per_sec "$s")" "$(stat bitmap_cvg "$s")" \
    "$(stat edges_found "$s")" "$(stat total_edges "$s")" "$(stat corpus_count "$s")" \
    "$crashes" "$(stat saved_hangs "$s")"
  if [ "$crashes" != 0 ]; then
    echo "  crashes: $out/default/crashes/" >&2
  fi
  if [ "${FUZZ_SAVE:-0}" = 1 ]; then
    small="$out/small"
    mkdir -p "$small"
    find "$out/default/queue" -maxdepth 1 -type f -size -16k -exec cp {} "$small/" \;
    rm -rf "$out/cmin"
    nice -n 19 cargo afl cmin -i "$small" -o "$out/cmin" -t 5000 -- "$BIN" "$t" >"$out/cmin.log" 2>&1
    rm -rf "fuzz/corpus/$t"
    mkdir -p "fuzz/corpus/$t"
    n=0
    for f in "$out"/cmin/*; do
      n=$((n + 1))
      cp "$f" "fuzz/corpus/$t/$(printf '%04d' "$n")-$(sha1sum "$f" | cut -c1-12)"
    done
    echo "  saved $n minimised inputs to fuzz/corpus/$t" >&2
  fi
done
