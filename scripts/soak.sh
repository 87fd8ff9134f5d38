#!/usr/bin/env bash
# Soak test of the control plane (issue 16): runs the `control_plane` example on a SQLite state
# file under a steady stream of deliveries for MINUTES minutes and prints its resident memory
# and open file descriptors over time, then the growth between the first sample after warm-up
# and the last. Not run by CI (it takes as long as asked).
#
#   scripts/soak.sh MINUTES [RATE]     RATE deliveries per second (default 2)
#
# Each delivery is `sh.keptn.event.dev.delivery.triggered` for project `soak` (stage dev,
# direct), for 20 services in turn (sequences of one service queue, as in Keptn, so the rate per
# service stays below one per timeout); no executor runs the deployment task, so each sequence
# ends when the task-start timeout (2 s) passes: sequences start, wait, time out and finish all the time, which is the
# state the control plane must not accumulate. Every 10th request also reads events back.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:?usage: scripts/soak.sh MINUTES [RATE]}
RATE=${2:-2}
[[ "$MINUTES" =~ ^[0-9]+$ && "$RATE" =~ ^[0-9]+$ && "$RATE" -gt 0 ]] || { echo "usage: scripts/soak.sh MINUTES [RATE]" >&2; exit 2; }

cargo build -q --locked -p keptn-examples --example control_plane
bin=target/debug/examples/control_plane
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
token="soak-$RANDOM-$RANDOM"
printf '%s\n' "$token" > "$tmp/token"
port=$(( 30000 + RANDOM % 20000 ))
nice -n 10 "$bin" --listen "127.0.0.1:$port" --state "$tmp/state.db" --token-file "$tmp/token" \
  --task-timeout 2 > "$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url="http://127.0.0.1:$port"
api() { curl -sS -o /dev/null -w '%{http_code}' -H "x-token: $token" -H 'content-type: application/json' "$@"; }
shipyard=$(printf 'stages:\n- {name: dev, deployment_strategy: direct}\n' | base64 -w0)
code=$(api -X POST "$url/api/controlPlane/v1/project" -d "{\"name\":\"soak\",\"shipyard\":\"$shipyard\"}")
[[ "$code" == 201 ]] || { echo "soak: creating the project answered $code" >&2; cat "$tmp/out" >&2; exit 1; }

sample() {
  local rss fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" | wc -l)
  echo "$1 $rss $fds $sent $errors $(stat -c %s "$tmp/state.db")"
}
sent=0
errors=0
end=$(( $(date +%s) + MINUTES * 60 ))
next_sample=$(date +%s)
printf '%-8s %-10s %-5s %-8s %-6s %s\n' elapsed rss_kib fds sent errors state_bytes
start=$(date +%s)
samples=()
while (( $(date +%s) < end )); do
  for _ in $(seq "$RATE"); do
    c=$(api -X POST "$url/api/v1/event" -d "{\"source\":\"soak\",\"type\":\"sh.keptn.event.dev.delivery.triggered\",\"data\":{\"project\":\"soak\",\"stage\":\"dev\",\"service\":\"svc$((sent % 20))\",\"configurationChange\":{\"values\":{\"image\":\"carts:$sent\"}}}}") || c=000
    [[ "$c" == 200 ]] || errors=$((errors + 1))
    sent=$((sent + 1))
    if (( sent % 10 == 0 )); then api "$url/api/mongodb-datastore/event?pageSize=20" >/dev/null || errors=$((errors + 1)); fi
  done
  kill -0 "$pid" 2>/dev/null || { echo "soak: control_plane died" >&2; cat "$tmp/out" >&2; exit 1; }
  if (( $(date +%s) >= next_sample )); then
    line=$(sample "$(( $(date +%s) - start ))s")
    samples+=("$line")
    read -r e r f s er sb <<<"$line"
    printf '%-8s %-10s %-5s %-8s %-6s %s\n' "$e" "$r" "$f" "$s" "$er" "$sb"
    next_sample=$(( $(date +%s) + 30 ))
  fi
  sleep 1
done
line=$(sample "$(( $(date +%s) - start ))s")
samples+=("$line")
read -r e r f s er sb <<<"$line"
printf '%-8s %-10s %-5s %-8s %-6s %s\n' "$e" "$r" "$f" "$s" "$er" "$sb"
# growth from the first sample after one minute of warm-up (or the first) to the last
first=${samples[0]}
for l in "${samples[@]}"; do read -r at _ <<<"$l"; (( ${at%s} >= 60 )) && { first=$l; break; }; done
read -r e1 r1 f1 _ <<<"$first"
echo "soak: $sent deliveries, $errors errors; RSS ${r1} KiB at $e1 -> ${r} KiB at $e ($(( r - r1 )) KiB), fds $f1 -> $f"
