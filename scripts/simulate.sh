#!/usr/bin/env bash
# Sends one customer message to the relay of `make run` and prints the bot's reply.
# Usage: scripts/simulate.sh "What are your opening hours?" [customer phone]
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=$(pwd)/.run
port=${ALPHADOME_PG_PORT:-54329}
[ $# -ge 1 ] || { echo "usage: $0 \"message\" [customer phone]" >&2; exit 2; }
[ -f "$run_dir/relay.pid" ] || { echo "simulate: nothing is running; start it with make run" >&2; exit 1; }
number=$(/usr/lib/postgresql/15/bin/psql -X -h "$run_dir" -p "$port" -U postgres -d alphadome -tAc \
  "SELECT whatsapp_phone_number_id FROM alphadome.bot_tenants WHERE slug = 'kassangas'")
secret=${META_APP_SECRET:-$(cat "$run_dir/app_secret")}
META_APP_SECRET=$secret \
DATABASE_URL="host=$run_dir port=$port user=postgres dbname=alphadome" \
ALPHADOME_WEBHOOK_URL="http://${ALPHADOME_LISTEN:-127.0.0.1:8080}/webhook" \
  "${CARGO_TARGET_DIR:-$(pwd)/target}/debug/alphadome-relay" simulate "$1" --phone-number-id "$number" --from "${2:-254700000001}"
