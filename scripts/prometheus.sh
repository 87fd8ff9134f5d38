#!/usr/bin/env bash
# Starts (or stops) a real Prometheus and Alertmanager on 127.0.0.1 for keptn-prometheus' tests.
#
#   scripts/prometheus.sh up     install what is missing (Debian's `prometheus` and
#                                `prometheus-alertmanager`, needs root), start both binaries
#                                directly (not through systemd) with temporary data, wait until
#                                they are ready and print `export …` lines:
#                                PROMETHEUS_URL, PROMETHEUS_TARGETS_DIR (file_sd: drop a
#                                `<name>.json` target group there and Prometheus scrapes it every
#                                second), PROMETHEUS_RULES_DIR (`*.yml` rule files, loaded on
#                                `POST $PROMETHEUS_URL/-/reload`), PROMETHEUS_BIN, PROMTOOL_BIN,
#                                ALERTMANAGER_URL, ALERTMANAGER_BIN
#   scripts/prometheus.sh down   stop both and remove the temporary data
#   scripts/prometheus.sh env    print the export lines of a running pair
#
# Settings (environment, all optional):
#   PROMETHEUS_PORT     Prometheus port on 127.0.0.1     (default 39090)
#   ALERTMANAGER_PORT   Alertmanager port on 127.0.0.1   (default 39093)
#   PROMETHEUS_STATE    where config, data and logs go   (default /tmp/keptn-rs-prometheus)
set -euo pipefail

STATE="${PROMETHEUS_STATE:-/tmp/keptn-rs-prometheus}"
PROM_PORT="${PROMETHEUS_PORT:-39090}"
AM_PORT="${ALERTMANAGER_PORT:-39093}"

log() { echo "prometheus.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

find_bin() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

ensure_installed() {
  if ! find_bin prometheus >/dev/null || ! find_bin prometheus-alertmanager alertmanager >/dev/null; then
    [ "$(id -u)" = 0 ] || die "Prometheus is not installed and we are not root: apt-get install prometheus prometheus-alertmanager"
    log "installing prometheus and prometheus-alertmanager from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      prometheus prometheus-alertmanager >/dev/null
  fi
}

print_env() {
  cat <<ENV
export PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT
export PROMETHEUS_TARGETS_DIR=$STATE/targets
export PROMETHEUS_RULES_DIR=$STATE/rules
export PROMETHEUS_BIN=$(find_bin prometheus)
export PROMTOOL_BIN=$(find_bin promtool || true)
export ALERTMANAGER_URL=http://127.0.0.1:$AM_PORT
export ALERTMANAGER_BIN=$(find_bin prometheus-alertmanager alertmanager)
ENV
}

wait_ready() {
  local url=$1 what=$2 log_file=$3
  for _ in $(seq 150); do
    if curl -fsS "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  tail -n 20 "$log_file" >&2 || true
  die "$what did not become ready at $url"
}

stop_pid() {
  local file=$1
  if [ -f "$file" ]; then
    local pid
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
  fi
}

up() {
  ensure_installed
  command -v curl >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
  stop_pid "$STATE/prometheus.pid"
  stop_pid "$STATE/alertmanager.pid"
  rm -rf "$STATE"
  mkdir -p "$STATE/targets" "$STATE/rules" "$STATE/prom-data" "$STATE/am-data"
  cat >"$STATE/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $STATE/rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$AM_PORT']
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROM_PORT']
  - job_name: file
    file_sd_configs:
      - files: ['$STATE/targets/*.json']
        refresh_interval: 1s
YML
  cat >"$STATE/alertmanager.yml" <<YML
route:
  receiver: 'null'
receivers:
  - name: 'null'
YML
  local prom am
  prom=$(find_bin prometheus)
  am=$(find_bin prometheus-alertmanager alertmanager)
  setsid "$am" --config.file="$STATE/alertmanager.yml" --storage.path="$STATE/am-data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address="" \
    >"$STATE/alertmanager.log" 2>&1 </dev/null &
  echo $! >"$STATE/alertmanager.pid"
  setsid "$prom" --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle \
    >"$STATE/prometheus.log" 2>&1 </dev/null &
  echo $! >"$STATE/prometheus.pid"
  wait_ready "http://127.0.0.1:$AM_PORT/-/ready" Alertmanager "$STATE/alertmanager.log"
  wait_ready "http://127.0.0.1:$PROM_PORT/-/ready" Prometheus "$STATE/prometheus.log"
  log "Prometheus on 127.0.0.1:$PROM_PORT, Alertmanager on 127.0.0.1:$AM_PORT (state $STATE)"
  print_env
}

down() {
  stop_pid "$STATE/prometheus.pid"
  stop_pid "$STATE/alertmanager.pid"
  rm -rf "$STATE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) [ -f "$STATE/prometheus.pid" ] || die "not running"; print_env ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
