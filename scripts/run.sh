#!/usr/bin/env bash
# make run / make stop: a local PostgreSQL cluster in .run/ (git-ignored) with pg_alphadome and
# the Kassangas seed. A second `make run` reuses the cluster. As root, the server runs as the
# postgres OS user. Settings (environment): ALPHADOME_PG_PORT (54329), and for the seed
# WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_ACCESS_TOKEN, CLIENT_EMAIL, AI_API_KEY.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=/usr/lib/postgresql/15/bin
run_dir=$(pwd)/.run
data=$run_dir/data
port=${ALPHADOME_PG_PORT:-54329}
db=alphadome

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_db() { "$PG_BIN/psql" -X -q -h "$run_dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }

running() { [ -f "$data/PG_VERSION" ] && as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

stop() {
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
  if ! cargo pgrx install -p pg_alphadome --pg-config "$PG_BIN/pg_config" >"$run_dir/install.log" 2>&1; then
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

  if [ -z "$(psql_db -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    psql_db -d postgres -c "CREATE DATABASE $db"
  fi
  psql_db -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_alphadome CASCADE" 2>&1 | grep -v "^NOTICE" || true
  local seeded
  seeded=$(psql_db -d "$db" -tAc "SELECT count(*) FROM alphadome.bot_tenants WHERE slug = 'kassangas'")
  local vars=()
  [ -n "${WHATSAPP_PHONE_NUMBER_ID:-}" ] && vars+=(-v "whatsapp_phone_number_id=$WHATSAPP_PHONE_NUMBER_ID")
  [ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] && vars+=(-v "whatsapp_access_token=$WHATSAPP_ACCESS_TOKEN")
  [ -n "${CLIENT_EMAIL:-}" ] && vars+=(-v "client_email=$CLIENT_EMAIL")
  [ -n "${AI_API_KEY:-}" ] && vars+=(-v "ai_api_key=$AI_API_KEY")
  if [ "$seeded" = "0" ] || [ ${#vars[@]} -gt 0 ]; then
    psql_db -d "$db" "${vars[@]}" -f sql/seed/kassangas.sql
    echo "run: loaded sql/seed/kassangas.sql"
  fi
  cat <<MSG

AlphaDome is running. Connect with:
  psql -h $run_dir -p $port -U postgres -d $db
Try:
  psql -h $run_dir -p $port -U postgres -d $db -f sql/verify/kassangas.sql
Stop it with: make stop
MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
