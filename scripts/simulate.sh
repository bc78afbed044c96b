#!/usr/bin/env bash
# Sends one customer message to the relay of `make run` and prints the bot's reply.
# Usage: scripts/simulate.sh [--tenant <slug>] "What are your opening hours?" [customer phone]
# The tenant defaults to the only one (the seed has one: kassangas).
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=$(pwd)/.run
port=${ALPHADOME_PG_PORT:-54329}
tenant=()
if [ "${1:-}" = "--tenant" ]; then tenant=(--tenant "$2"); shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--tenant <slug>] \"message\" [customer phone]" >&2; exit 2; }
[ -f "$run_dir/relay.pid" ] || { echo "simulate: nothing is running; start it with make run" >&2; exit 1; }
META_APP_SECRET=${META_APP_SECRET:-$(cat "$run_dir/app_secret")} \
DATABASE_URL="host=$run_dir port=$port user=postgres dbname=alphadome" \
ALPHADOME_RELAY_URL="http://${ALPHADOME_LISTEN:-127.0.0.1:8080}" \
  "${CARGO_TARGET_DIR:-$(pwd)/target}/debug/alphadome-relay" simulate "$1" "${tenant[@]}" --from "${2:-254700000001}"
