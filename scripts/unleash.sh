#!/usr/bin/env bash
# Starts (or stops) a real Unleash server backed by PostgreSQL on 127.0.0.1, for the
# keptn-remediate integration tests.
#
#   scripts/unleash.sh up     install what is missing, start PostgreSQL and Unleash, wait for
#                             /health, write the env file and print `export UNLEASH_…` lines:
#                             UNLEASH_URL, UNLEASH_TOKEN (admin, seeded at start) and
#                             UNLEASH_CLIENT_TOKEN (a client token of environment `production`,
#                             all projects, created through the Admin API and reused)
#   scripts/unleash.sh down   stop both (data stays in the state dir; `up` reuses it)
#   scripts/unleash.sh env    print the export lines of a running instance
#
# Installs when missing: Debian's `postgresql` (apt-get, needs root) and the npm package
# `unleash-server` (into the state dir, never committed). Needs Node.js >= 20 (Unleash 7.x).
# Everything lives in $UNLEASH_STATE_DIR (default: <repo>/.unleash-local, git-ignored).
#
# Settings (environment, all optional):
#   UNLEASH_SERVER_VERSION  npm version of unleash-server        (default 7.5.1)
#   UNLEASH_PG_PORT         PostgreSQL port on 127.0.0.1          (default 55432)
#   UNLEASH_HTTP_PORT       Unleash port on 127.0.0.1             (default 44242)
#   UNLEASH_STATE_DIR       where data, logs and node_modules go  (default <repo>/.unleash-local)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="${UNLEASH_STATE_DIR:-$ROOT/.unleash-local}"
VERSION="${UNLEASH_SERVER_VERSION:-7.5.1}"
PG_PORT="${UNLEASH_PG_PORT:-55432}"
HTTP_PORT="${UNLEASH_HTTP_PORT:-44242}"
PG_DIR="$STATE"
# PostgreSQL runs as the `postgres` user when we are root; if that user cannot reach the state
# dir (a checkout under /root), its files go to /tmp instead.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$STATE"
  if ! runuser -u postgres -- test -x "$STATE"; then
    PG_DIR="/tmp/keptn-rs-unleash-pg-$(echo "$ROOT" | cksum | cut -d' ' -f1)"
  fi
fi
PGDATA="$PG_DIR/pgdata"
PGSOCK="$PG_DIR/pgsock"
NPM_DIR="$STATE/npm"
ENV_FILE="$STATE/env"
PID_FILE="$STATE/unleash.pid"
TOKEN_FILE="$STATE/admin-token"
CLIENT_TOKEN_FILE="$STATE/client-token"
DB_PASSWORD="unleash-local"

log() { echo "unleash.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command as the PostgreSQL user when we are root (postgres refuses to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

ensure_postgres() {
  if ! pg_bin >/dev/null; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and we are not root: apt-get install postgresql"
    log "installing PostgreSQL from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_bin >/dev/null || die "PostgreSQL binaries not found after install"
}

ensure_node() {
  command -v node >/dev/null || die "Node.js >= 20 is required (unleash-server $VERSION); install nodejs 20"
  command -v npm >/dev/null || die "npm is required to install unleash-server"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"
}

ensure_unleash() {
  local installed=""
  if [ -f "$NPM_DIR/node_modules/unleash-server/package.json" ]; then
    installed=$(node -p "require('$NPM_DIR/node_modules/unleash-server/package.json').version")
  fi
  if [ "$installed" != "$VERSION" ]; then
    log "installing unleash-server@$VERSION into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    npm install --prefix "$NPM_DIR" "unleash-server@$VERSION" --no-audit --no-fund --loglevel=error >&2
  fi
}

pg_running() {
  [ -f "$PGDATA/postmaster.pid" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

start_postgres() {
  local bin
  bin=$(pg_bin)
  mkdir -p "$STATE" "$PG_DIR" "$PGSOCK"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGSOCK"
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDATA"; fi
    chmod 700 "$PGDATA"
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres -A trust --no-locale -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  if pg_running; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    touch "$PG_DIR/postgres.log"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DIR/postgres.log"; fi
    as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PG_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $PGSOCK -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -20 "$PG_DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAq)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='unleash'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE unleash LOGIN PASSWORD '$DB_PASSWORD'"
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='unleash'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE unleash OWNER unleash"
  fi
}

unleash_running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

admin_token() {
  if [ ! -s "$TOKEN_FILE" ]; then
    mkdir -p "$STATE"
    echo "*:*.$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$TOKEN_FILE"
    chmod 600 "$TOKEN_FILE"
  fi
  cat "$TOKEN_FILE"
}

start_unleash() {
  local token
  token=$(admin_token)
  if unleash_running; then
    log "Unleash already running (pid $(cat "$PID_FILE"))"
  else
    log "starting unleash-server $VERSION on 127.0.0.1:$HTTP_PORT"
    (
      cd "$NPM_DIR"
      export TZ=UTC
      export HTTP_HOST=127.0.0.1 HTTP_PORT="$HTTP_PORT"
      export DATABASE_HOST=127.0.0.1 DATABASE_PORT="$PG_PORT" DATABASE_NAME=unleash
      export DATABASE_USERNAME=unleash DATABASE_PASSWORD="$DB_PASSWORD" DATABASE_SSL=false
      export INIT_ADMIN_API_TOKENS="$token"
      export LOG_LEVEL=warn
      export CHECK_VERSION=false SEND_TELEMETRY=false
      exec setsid node node_modules/unleash-server/dist/server.js
    ) >"$STATE/unleash.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local url="http://127.0.0.1:$HTTP_PORT" i
  for i in $(seq 1 180); do
    if curl -fsS "$url/health" >/dev/null 2>&1; then
      # /health answers before the seeded token is usable on a first start; wait for both.
      if curl -fsS -H "Authorization: $token" "$url/api/admin/projects" >/dev/null 2>&1; then
        log "Unleash is healthy at $url (after ${i}s)"
        return 0
      fi
    fi
    unleash_running || { tail -30 "$STATE/unleash.log" >&2; die "unleash-server exited"; }
    sleep 1
  done
  tail -30 "$STATE/unleash.log" >&2
  die "Unleash did not become healthy within 180 s"
}

# A client token for environment `production` (what carts reads flags with, like Keptn's tour):
# the stored one when Unleash still accepts it on the client API, else a new one from
# `POST /api/admin/api-tokens` (Unleash 7's createApiTokenSchema). Never printed to the log.
client_token() {
  local url="http://127.0.0.1:$HTTP_PORT" admin token
  admin=$(admin_token)
  if [ -s "$CLIENT_TOKEN_FILE" ]; then
    token=$(cat "$CLIENT_TOKEN_FILE")
    if curl -fsS -o /dev/null -H "Authorization: $token" "$url/api/client/features" 2>/dev/null; then
      echo "$token"
      return 0
    fi
  fi
  token=$(curl -fsS -X POST -H "Authorization: $admin" -H 'Content-Type: application/json' \
    -d '{"tokenName":"keptn-rs-carts","type":"client","environment":"production","projects":["*"]}' \
    "$url/api/admin/api-tokens" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).secret;if(!t)process.exit(1);console.log(t)})') \
    || die "cannot create a client API token (POST $url/api/admin/api-tokens)"
  echo "$token" >"$CLIENT_TOKEN_FILE"
  chmod 600 "$CLIENT_TOKEN_FILE"
  echo "$token"
}

write_env() {
  local token client
  token=$(admin_token)
  client=$(client_token)
  {
    echo "export UNLEASH_URL=http://127.0.0.1:$HTTP_PORT"
    echo "export UNLEASH_TOKEN='$token'"
    echo "export UNLEASH_CLIENT_TOKEN='$client'"
  } >"$ENV_FILE"
  chmod 600 "$ENV_FILE"
  cat "$ENV_FILE"
}

stop_all() {
  if unleash_running; then
    local pid
    pid=$(cat "$PID_FILE")
    log "stopping Unleash (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  if pg_bin >/dev/null && pg_running; then
    log "stopping PostgreSQL"
    as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
  fi
}

case "${1:-}" in
  up)
    command -v curl >/dev/null || die "curl is required"
    ensure_postgres
    ensure_node
    ensure_unleash
    start_postgres
    start_unleash
    write_env
    ;;
  down)
    stop_all
    ;;
  env)
    unleash_running || die "Unleash is not running (scripts/unleash.sh up)"
    cat "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
