#!/usr/bin/env bash
# make run / make stop: a local PostgreSQL cluster in .run/ (git-ignored) with pg_alphadome and
# the Kassangas seed, alphadome-relay serving on ALPHADOME_LISTEN (127.0.0.1:8080), and
# alphadome-console on ALPHADOME_CONSOLE_LISTEN (127.0.0.1:8081) with a demo login for Kassangas's
# owner (its random password is printed once and kept in .run/console-owner). A second
# `make run` reuses the cluster and restarts the relay and the console (a database made by an
# earlier build of the same version is made again: its schema is older). As root, the server runs as the postgres
# OS user. Settings (environment): ALPHADOME_PG_PORT (54329), ALPHADOME_LISTEN; for the seed
# WHATSAPP_PHONE_NUMBER_ID, CLIENT_EMAIL, and WHATSAPP_ACCESS_TOKEN, AI_API_KEY (given to the
# tenant with `alphadome-relay tenant set-credentials`, from the environment); for the relay
# META_APP_SECRET, META_VERIFY_TOKEN, META_GRAPH_URL, LLM_BASE_URL. The relay runs in dry-run
# mode (records replies, sends nothing) unless META_APP_SECRET, WHATSAPP_ACCESS_TOKEN and
# AI_API_KEY are all given.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=$("${PG_CONFIG:-pg_config}" --bindir)
run_dir=$(pwd)/.run
data=$run_dir/data
port=${ALPHADOME_PG_PORT:-54329}
db=alphadome

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_db() { "$PG_BIN/psql" -X -q -h "$run_dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }

running() { [ -f "$data/PG_VERSION" ] && as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

relay_pid_file=$run_dir/relay.pid
relay_running() { [ -f "$relay_pid_file" ] && kill -0 "$(cat "$relay_pid_file")" 2>/dev/null; }

stop_relay() {
  if relay_running; then
    kill -TERM "$(cat "$relay_pid_file")"
    for _ in $(seq 1 100); do relay_running || break; sleep 0.1; done
    echo "run: stopped the relay"
  fi
  rm -f "$relay_pid_file"
}

target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}

build_relay() {
  if ! cargo build -q -p alphadome-relay 2>"$run_dir/relay-build.log"; then
    cat "$run_dir/relay-build.log" >&2
    exit 1
  fi
}

start_relay() {
  build_relay
  psql_db -d "$db" -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relay_login') THEN CREATE ROLE relay_login LOGIN; END IF;
    END \$\$; GRANT alphadome_relay TO relay_login;"
  # A local app secret for simulate, unless a real one is given.
  if [ -z "${META_APP_SECRET:-}" ]; then
    [ -f "$run_dir/app_secret" ] || ( umask 077; openssl rand -hex 16 > "$run_dir/app_secret" )
    app_secret=$(cat "$run_dir/app_secret")
    dry_run=true
  else
    app_secret=$META_APP_SECRET
    if [ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] && [ -n "${AI_API_KEY:-}" ]; then dry_run=false; else dry_run=true; fi
  fi
  stop_relay
  DATABASE_URL="host=$run_dir port=$port user=relay_login dbname=$db" \
  META_APP_SECRET=$app_secret \
  ALPHADOME_CONSOLE_PUBLIC_URL=${ALPHADOME_CONSOLE_PUBLIC_URL:-http://127.0.0.1:8081} \
  ALPHADOME_DRY_RUN=$dry_run \
  ALPHADOME_LISTEN=${ALPHADOME_LISTEN:-127.0.0.1:8080} \
    nohup "$target_dir/debug/alphadome-relay" serve >>"$run_dir/relay.log" 2>&1 &
  echo $! > "$relay_pid_file"
  for _ in $(seq 1 100); do
    curl -fsS "http://${ALPHADOME_LISTEN:-127.0.0.1:8080}/healthz" >/dev/null 2>&1 && break
    relay_running || { echo "run: the relay did not start; see $run_dir/relay.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "run: relay serving on ${ALPHADOME_LISTEN:-127.0.0.1:8080} (dry run: $dry_run; log: $run_dir/relay.log)"
}

console_pid_file=$run_dir/console.pid
console_running() { [ -f "$console_pid_file" ] && kill -0 "$(cat "$console_pid_file")" 2>/dev/null; }
console_listen=${ALPHADOME_CONSOLE_LISTEN:-127.0.0.1:8081}

stop_console() {
  if console_running; then
    kill -TERM "$(cat "$console_pid_file")"
    for _ in $(seq 1 100); do console_running || break; sleep 0.1; done
    echo "run: stopped the console"
  fi
  rm -f "$console_pid_file"
}

start_console() {
  local target_dir
  target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
  if ! cargo build -q -p alphadome-console 2>"$run_dir/console-build.log"; then
    cat "$run_dir/console-build.log" >&2
    exit 1
  fi
  # The console's login acts as an owner or the operator only after SET ROLE (NOINHERIT).
  psql_db -d "$db" -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'console_login') THEN CREATE ROLE console_login LOGIN NOINHERIT; END IF;
    END \$\$; GRANT alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin TO console_login;"
  local owner=gideon@kassangas.example
  if [ ! -f "$run_dir/console-owner" ]; then
    local password
    password=$(openssl rand -base64 12 | tr -d '/+=')
    # The password through psql's standard input, not its command line (ps would show it).
    psql_db -d "$db" >/dev/null <<SQL
\\set owner '$owner'
\\set password '$password'
BEGIN;
SET LOCAL log_statement = 'none';
SET LOCAL log_min_error_statement = 'panic';
SELECT alphadome.create_owner(alphadome.tenant_for_slug('kassangas'), :'owner', :'password');
COMMIT;
SQL
    ( umask 077; printf '%s %s\n' "$owner" "$password" > "$run_dir/console-owner" )
    console_login_message="log in as $owner with password $password (shown once; kept in $run_dir/console-owner)"
  else
    console_login_message="log in as $owner (the password is in $run_dir/console-owner)"
  fi
  stop_console
  DATABASE_URL="host=$run_dir port=$port user=console_login dbname=$db" \
  ALPHADOME_CONSOLE_LISTEN=$console_listen \
  ALPHADOME_CONSOLE_INSECURE_COOKIES=true \
    nohup "$target_dir/debug/alphadome-console" >>"$run_dir/console.log" 2>&1 &
  echo $! > "$console_pid_file"
  for _ in $(seq 1 100); do
    curl -fsS "http://$console_listen/login" >/dev/null 2>&1 && break
    console_running || { echo "run: the console did not start; see $run_dir/console.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "run: console serving on http://$console_listen (log: $run_dir/console.log)"
}

stop() {
  stop_console
  stop_relay
  if running; then
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    echo "run: stopped the cluster in $data"
  else
    echo "run: no cluster is running in $data"
  fi
}

start() {
  if [ "$(id -u)" -eq 0 ]; then
    install -d -m 755 -o postgres -g postgres "$run_dir"
    if ! runuser -u postgres -- test -w "$run_dir"; then
      echo "run: the postgres OS user cannot reach $run_dir (a parent folder is not traversable); move the checkout or set permissions" >&2
      exit 1
    fi
  else
    mkdir -p "$run_dir"
  fi

  echo "run: building and installing pg_alphadome"
  if ! scripts/install-extension.sh >"$run_dir/install.log" 2>&1; then
    cat "$run_dir/install.log" >&2
    exit 1
  fi

  if [ ! -f "$data/PG_VERSION" ]; then
    echo "run: initdb $data"
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --locale=C.UTF-8 -A trust >/dev/null
    # The master key: one line '<key_id>:<64 hex>', readable by the server only.
    as_postgres sh -c "umask 077; printf 'local1:%s\n' \"\$(openssl rand -hex 32)\" > '$run_dir/master.key'"
    cat >> "$data/postgresql.conf" <<CONF

# make run (scripts/run.sh)
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$run_dir'
alphadome.master_key_file = '$run_dir/master.key'
CONF
  fi
  if ! running; then
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$run_dir/server.log" -w start >/dev/null
    echo "run: cluster started on port $port"
  else
    echo "run: cluster already running on port $port"
  fi

  # A database made by an earlier build of this same version has an older schema that ALTER
  # EXTENSION ... UPDATE cannot bring up (same version number): the digest of the install script
  # it was made with, kept beside it, tells. Such a demo database is made again.
  local this_version script_digest digest_file=$run_dir/extension.sha256
  this_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pg_alphadome/Cargo.toml | head -1)
  script_digest=$(sha256sum "$("${PG_CONFIG:-pg_config}" --sharedir)/extension/pg_alphadome--$this_version.sql" | cut -d' ' -f1)
  if [ -n "$(psql_db -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    local made_at
    made_at=$(psql_db -d "$db" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'")
    if [ "$made_at" = "$this_version" ] && [ "$(cat "$digest_file" 2>/dev/null)" != "$script_digest" ]; then
      echo "run: database $db was made by an earlier build of pg_alphadome $this_version (its schema is older than this build's): making it again with the seed; its data is not kept"
      stop_console
      stop_relay
      psql_db -d postgres -c "DROP DATABASE $db WITH (FORCE)"
      rm -f "$run_dir/console-owner"
    fi
  fi
  if [ -z "$(psql_db -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    psql_db -d postgres -c "CREATE DATABASE $db"
  fi
  psql_db -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_alphadome CASCADE" 2>&1 | grep -v "^NOTICE" || true
  # A database made by an earlier release is brought up to this one, its data kept.
  local version
  version=$(psql_db -d "$db" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'")
  psql_db -d "$db" -c "SET client_min_messages = warning; ALTER EXTENSION pg_alphadome UPDATE"
  local updated
  updated=$(psql_db -d "$db" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'")
  [ "$version" = "$updated" ] || echo "run: updated pg_alphadome $version -> $updated in database $db"
  # This build's schema, from here on (made now, or updated from an earlier release).
  echo "$script_digest" > "$digest_file"
  local seeded
  seeded=$(psql_db -d "$db" -tAc "SELECT count(*) FROM alphadome.bot_tenants WHERE slug = 'kassangas'")
  local vars=()
  [ -n "${WHATSAPP_PHONE_NUMBER_ID:-}" ] && vars+=(-v "whatsapp_phone_number_id=$WHATSAPP_PHONE_NUMBER_ID")
  [ -n "${CLIENT_EMAIL:-}" ] && vars+=(-v "client_email=$CLIENT_EMAIL")
  if [ "$seeded" = "0" ] || [ ${#vars[@]} -gt 0 ]; then
    psql_db -d "$db" "${vars[@]}" -f sql/seed/kassangas.sql
    echo "run: loaded sql/seed/kassangas.sql"
  fi
  # Real credentials go from the environment to the database as bind parameters, never on a
  # command line (ps) or in a statement's text (pg_stat_activity, the server log).
  if [ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] || [ -n "${AI_API_KEY:-}" ]; then
    build_relay
    # (META_APP_SECRET is the shared app's, for the relay: not this tenant's own.)
    DATABASE_URL="host=$run_dir port=$port user=postgres dbname=$db" \
      env -u META_APP_SECRET "$target_dir/debug/alphadome-relay" tenant set-credentials --slug kassangas
  fi
  start_relay
  start_console
  cat <<MSG

AlphaDome is running. Connect with:
  psql -h $run_dir -p $port -U postgres -d $db
The console: http://$console_listen
  $console_login_message
Try:
  psql -h $run_dir -p $port -U postgres -d $db -f sql/verify/kassangas.sql
  scripts/simulate.sh "What are your opening hours?"
  (that is: META_APP_SECRET=... DATABASE_URL=... alphadome-relay simulate "..." --tenant kassangas)
Stop it with: make stop
MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
