#!/usr/bin/env bash
# A Patroni cluster on one machine, for tests and to copy from: one etcd member, HA_NODES
# PostgreSQL nodes under Patroni (synchronous_mode), HAProxy in front sending connections to
# whichever node Patroni's REST API calls the primary, and pg_alphadome created in HA_DATABASE.
# Everything lives in HA_STATE and runs as the postgres OS user; deploy/patroni/down.sh stops it.
#
# Usage (as root): [settings below as environment] deploy/patroni/up.sh
# Prints the connection strings to use at the end (and writes them to $HA_STATE/env).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

HA_STATE=${HA_STATE:-$PWD/.ha}            # all state: data folders, logs, configs, pid files
HA_NODES=${HA_NODES:-3}                   # PostgreSQL nodes (2 or more)
HA_PORT_BASE=${HA_PORT_BASE:-25400}       # etcd +0/+1, HAProxy +2, node i: PostgreSQL +10+i, REST +20+i
HA_DATABASE=${HA_DATABASE:-alphadome}     # created with the extension once a leader is up
HA_MASTER_KEY_FILE=${HA_MASTER_KEY_FILE:-} # copied to every node; a new key when not given
PG_CONFIG=${PG_CONFIG:-pg_config}         # the server whose bin_dir Patroni runs (the extension installed in it)
# Patroni's timing. Defaults: 30/10/10 (Patroni's own; production). The test sets them lower.
HA_TTL=${HA_TTL:-30} HA_LOOP_WAIT=${HA_LOOP_WAIT:-10} HA_RETRY_TIMEOUT=${HA_RETRY_TIMEOUT:-10}

[ "$(id -u)" -eq 0 ] || { echo "up.sh: run as root (the servers run as postgres)" >&2; exit 1; }
for tool in patroni patronictl etcd etcdctl haproxy; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is missing: scripts/setup.sh installs it" >&2; exit 1; }
done
bin_dir=$("$PG_CONFIG" --bindir)
[ -x "$bin_dir/postgres" ] || { echo "up.sh: $PG_CONFIG names no server ($bin_dir/postgres is missing): set PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config" >&2; exit 1; }
[ -f "$("$PG_CONFIG" --sharedir)/extension/pg_alphadome.control" ] \
  || { echo "up.sh: pg_alphadome is not installed in $bin_dir's server: PG_CONFIG=$PG_CONFIG scripts/install-extension.sh --release" >&2; exit 1; }
[ "$HA_NODES" -ge 2 ] || { echo "up.sh: HA_NODES must be 2 or more" >&2; exit 1; }

as_pg() { runuser -u postgres -- "$@"; }
install -d -m 700 -o postgres -g postgres "$HA_STATE"
etcd_port=$HA_PORT_BASE etcd_peer=$((HA_PORT_BASE + 1)) proxy_port=$((HA_PORT_BASE + 2))
scope=alphadome

# The master key: one file, the same on every node (a promoted node must decrypt what the old
# leader encrypted). Here each node gets its own copy, as each machine would in production.
key=$HA_STATE/master.key
if [ -n "$HA_MASTER_KEY_FILE" ]; then
  install -m 600 -o postgres -g postgres "$HA_MASTER_KEY_FILE" "$key"
elif [ ! -f "$key" ]; then
  ( umask 077; printf 'k1:%s\n' "$(openssl rand -hex 32)" > "$key" )
  chown postgres: "$key"
fi

# etcd: one member (production runs three, on three machines).
if ! as_pg etcdctl --endpoints="http://127.0.0.1:$etcd_port" endpoint health >/dev/null 2>&1; then
  install -d -m 700 -o postgres -g postgres "$HA_STATE/etcd"
  as_pg sh -c 'exec etcd "$@" >"$0/etcd.log" 2>&1 & echo $! > "$0/etcd.pid"' "$HA_STATE" \
    --name etcd1 --data-dir "$HA_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "etcd1=http://127.0.0.1:$etcd_peer"
  for _ in $(seq 100); do
    as_pg etcdctl --endpoints="http://127.0.0.1:$etcd_port" endpoint health >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

# Whether some node's Patroni answers GET /primary with 200 (it leads, its PostgreSQL writes).
leader_up() {
  local n
  for n in $(seq "$HA_NODES"); do
    curl -sf "http://127.0.0.1:$((HA_PORT_BASE + 20 + n))/primary" >/dev/null && return 0
  done
  return 1
}

# One Patroni (and its PostgreSQL) per node.
servers=""
hosts="" ports=""
for i in $(seq "$HA_NODES"); do
  node=$HA_STATE/node$i pg_port=$((HA_PORT_BASE + 10 + i)) rest_port=$((HA_PORT_BASE + 20 + i))
  install -d -m 700 -o postgres -g postgres "$node"
  install -m 600 -o postgres -g postgres "$key" "$node/master.key"
  sed -e "s|@NAME@|node$i|g" -e "s|@SCOPE@|$scope|g" -e "s|@NODE@|$node|g" \
      -e "s|@PG_PORT@|$pg_port|g" -e "s|@REST_PORT@|$rest_port|g" -e "s|@ETCD_PORT@|$etcd_port|g" \
      -e "s|@BIN_DIR@|$bin_dir|g" -e "s|@TTL@|$HA_TTL|g" -e "s|@LOOP_WAIT@|$HA_LOOP_WAIT|g" \
      -e "s|@RETRY_TIMEOUT@|$HA_RETRY_TIMEOUT|g" \
      "$here/patroni.yml.in" > "$node/patroni.yml"
  chown postgres: "$node/patroni.yml"; chmod 600 "$node/patroni.yml"
  if ! { [ -f "$node/patroni.pid" ] && kill -0 "$(cat "$node/patroni.pid")" 2>/dev/null; }; then
    as_pg sh -c 'exec patroni "$0/patroni.yml" >>"$0/patroni.log" 2>&1 & echo $! > "$0/patroni.pid"' "$node"
  fi
  servers+="    server node$i 127.0.0.1:$pg_port check port $rest_port"$'\n'
  hosts+="${hosts:+,}127.0.0.1" ports+="${ports:+,}$pg_port"
  # The first node bootstraps the cluster; the others are cloned from the leader once there is
  # one (on a second run, whichever node leads by then).
  if [ "$i" -eq 1 ]; then
    for _ in $(seq 600); do
      leader_up && break
      sleep 0.2
    done
    leader_up || { echo "up.sh: no leader; see $node/patroni.log" >&2; exit 1; }
  fi
done

# HAProxy: one address for the primary, chosen by Patroni's REST API (GET /primary answers 200
# on the leader only); connections to a node that stops being the primary are cut.
sed -e "s|@PROXY_PORT@|$proxy_port|g" -e "s|@STATE@|$HA_STATE|g" "$here/haproxy.cfg.in" > "$HA_STATE/haproxy.cfg"
printf '%s' "$servers" >> "$HA_STATE/haproxy.cfg"
chown postgres: "$HA_STATE/haproxy.cfg"
if [ -f "$HA_STATE/haproxy.pid" ] && kill -0 "$(cat "$HA_STATE/haproxy.pid")" 2>/dev/null; then
  kill -USR2 "$(cat "$HA_STATE/haproxy.pid")"   # master-worker: reload the configuration
else
  as_pg haproxy -W -D -f "$HA_STATE/haproxy.cfg" -p "$HA_STATE/haproxy.pid"
fi

# Every replica streaming and one synchronous before the extension is created (the leader's
# CREATE EXTENSION replicates; the key file is already on each node).
patronictl=(patronictl -c "$HA_STATE/node1/patroni.yml")
for _ in $(seq 900); do
  running=$(as_pg "${patronictl[@]}" list -f json 2>/dev/null \
    | python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(1 for x in m if x["State"] in ("running","streaming")), sum(1 for x in m if x["Role"]=="Sync Standby"))' || true)
  [ "$running" = "$HA_NODES 1" ] && break
  sleep 0.2
done
[ "$running" = "$HA_NODES 1" ] || { as_pg "${patronictl[@]}" list >&2; echo "up.sh: the replicas did not all start" >&2; exit 1; }

psql=("$bin_dir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$proxy_port" -U postgres)
# The names go in as psql variables (:"db", :'db'), never spliced into the SQL text.
as_pg "${psql[@]}" -d postgres -v db="$HA_DATABASE" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
as_pg "${psql[@]}" -d "$HA_DATABASE" -c "CREATE EXTENSION IF NOT EXISTS pg_alphadome CASCADE"

cat > "$HA_STATE/env" <<ENV
# Written by deploy/patroni/up.sh. Either connection string reaches the primary (as the
# superuser postgres; give relays and consoles their own logins, docs/operations.md):
HA_PROXY_URL='host=127.0.0.1 port=$proxy_port dbname=$HA_DATABASE user=postgres'
HA_MULTI_HOST_URL='host=$hosts port=$ports dbname=$HA_DATABASE user=postgres target_session_attrs=read-write'
HA_PATRONICTL='patronictl -c $HA_STATE/node1/patroni.yml'
ENV
chown postgres: "$HA_STATE/env"
cat "$HA_STATE/env"
as_pg "${patronictl[@]}" list
