#!/usr/bin/env bash
# Stops what deploy/patroni/up.sh started in HA_STATE (Patroni stops its PostgreSQL), and with
# --purge deletes HA_STATE.
set -euo pipefail
HA_STATE=${HA_STATE:-$PWD/.ha}
[ -d "$HA_STATE" ] || exit 0
stop() { # pid file, signal: waits up to 30 s for the process to end
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$1"
}
stop "$HA_STATE/haproxy.pid" TERM
for pid_file in "$HA_STATE"/node*/patroni.pid; do stop "$pid_file" TERM; done
# A PostgreSQL whose Patroni was killed outlives it: stop it too (immediate shutdown).
for data in "$HA_STATE"/node*/data; do
  if [ -f "$data/postmaster.pid" ]; then
    head -1 "$data/postmaster.pid" > "$data/../postgres.pid"
    stop "$data/../postgres.pid" QUIT
  fi
done
stop "$HA_STATE/etcd.pid" TERM
if [ "${1:-}" = "--purge" ]; then rm -rf "$HA_STATE"; fi
