#!/usr/bin/env bash
# The Debian packages installed as a DBA would (make test-packages; make test calls it): a clean
# bookworm root (mmdebstrap, minbase), `apt-get install ./*.deb` there (apt fetches PostgreSQL
# from Debian's archive), then, inside it: a PostgreSQL cluster, CREATE EXTENSION, the seed,
# `alphadome-relay check`, a customer's question answered through the packaged relay, the
# packaged console answering /login, and ALTER EXTENSION UPDATE from 0.2.0's scripts.
# Usage: scripts/test-packages.sh [packages dir]   (default target/packages: make packages first)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/roots.sh
: "${PG_MAJOR:?the Makefile names the PostgreSQL major}"
packages=$(realpath "${1:-target/packages}")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pg_alphadome/Cargo.toml | head -1)
ls "$packages"/postgresql-"$PG_MAJOR"-alphadome_"$version"-*.deb "$packages"/alphadome-{relay,console}_"$version"-*.deb >/dev/null

tar=$(root_tar bookworm-minbase bookworm ca-certificates)
root=$(mktemp -d /var/tmp/alphadome-packages.XXXXXX)
relay_pid= console_pid=
cleanup() {
  [ -n "$console_pid" ] && kill "$console_pid" 2>/dev/null || true
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
  chroot "$root" pg_ctlcluster "$PG_MAJOR" main stop -m immediate >/dev/null 2>&1 || true
  remove_root "$root"
}
trap cleanup EXIT
step() { echo "test-packages: $*"; }
in_root() { chroot "$root" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tar -xf "$tar" -C "$root"
mount_root "$root"
# As in any image or chroot: no service starts during installation, no default cluster.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common" "$root/var/cache/apt/archives" "$ROOTS_DIR/apt-archives"
echo "create_main_cluster = false" > "$root/etc/postgresql-common/createcluster.conf"
# Debian's .debs fetched once, kept between runs.
mount --bind "$ROOTS_DIR/apt-archives" "$root/var/cache/apt/archives"
mkdir -p "$root/tmp/packages"
cp "$packages"/postgresql-"$PG_MAJOR"-alphadome_"$version"-*.deb "$packages"/alphadome-{relay,console}_"$version"-*.deb "$root/tmp/packages/"

step "apt-get install ./postgresql-$PG_MAJOR-alphadome ./alphadome-relay ./alphadome-console (in a clean bookworm)"
in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update
debs=()
for deb in "$root"/tmp/packages/*.deb; do debs+=("/tmp/packages/$(basename "$deb")"); done
in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -qq install "${debs[@]}" >"$root/tmp/apt.log" 2>&1 \
  || { cat "$root/tmp/apt.log"; exit 1; }
in_root dpkg-query -W -f='${Package} ${Version} ${Status}\n' "postgresql-$PG_MAJOR-alphadome" alphadome-relay alphadome-console
[ "$(in_root stat -c '%U:%G %a' /etc/alphadome/relay.env)" = "root:alphadome 640" ] || { echo "relay.env: $(in_root stat -c '%U:%G %a' /etc/alphadome/relay.env)"; exit 1; }
in_root getent passwd alphadome >/dev/null
# The units' hardening as systemd scores it (0 best, 10 worst; "OK" is below 4.5), read offline
# (--threshold counts in tenths).
for unit in alphadome-relay alphadome-console; do
  score=$(systemd-analyze security --offline=yes --root="$root" "$unit.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  echo "$unit.service: exposure $score"
  systemd-analyze security --offline=yes --root="$root" --threshold=20 "$unit.service" >/dev/null 2>&1 \
    || { echo "$unit.service: exposure $score, above 2"; exit 1; }
done

step "PostgreSQL $PG_MAJOR from Debian (its own cluster: TLS with a self-signed certificate, passwords), as docs/operations.md says"
pg_port=$(free_port)
in_root pg_createcluster "$PG_MAJOR" main -p "$pg_port" >/dev/null
in_root sh -c "umask 077; printf 'k1:%s\n' \$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') > /etc/postgresql/alphadome.key"
in_root chown postgres: /etc/postgresql/alphadome.key
echo "alphadome.master_key_file = '/etc/postgresql/alphadome.key'" >> "$root/etc/postgresql/$PG_MAJOR/main/postgresql.conf"
grep -q "^ssl = on" "$root/etc/postgresql/$PG_MAJOR/main/postgresql.conf" || { echo "expected Debian's cluster to have ssl = on"; exit 1; }
in_root pg_ctlcluster "$PG_MAJOR" main start
psql_in_root() { in_root runuser -u postgres -- psql -X -q -p "$pg_port" -v ON_ERROR_STOP=1 "$@"; }
# The logins' passwords: random, from files only root reads, into psql through \set (not its
# command line), as \password would do at its prompt.
relay_password=$(openssl rand -hex 16) console_password=$(openssl rand -hex 16)
( umask 077; echo "$relay_password" > "$root/tmp/relay_password"; echo "$console_password" > "$root/tmp/console_password" )
in_root chown postgres /tmp/relay_password /tmp/console_password
psql_in_root -d postgres <<'SQL'
CREATE DATABASE alphadome;
CREATE DATABASE from_020;
\c alphadome
SET client_min_messages = warning;
CREATE EXTENSION pg_alphadome CASCADE;
CREATE ROLE relay_login LOGIN IN ROLE alphadome_relay;
CREATE ROLE console_login LOGIN NOINHERIT IN ROLE alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin;
\set relay_password `cat /tmp/relay_password`
\set console_password `cat /tmp/console_password`
SET log_statement = 'none';
ALTER ROLE relay_login PASSWORD :'relay_password';
ALTER ROLE console_login PASSWORD :'console_password';
SQL
rm -f "$root/tmp/relay_password" "$root/tmp/console_password"
psql_in_root -d alphadome -f "/usr/share/doc/postgresql-$PG_MAJOR-alphadome/examples/kassangas-seed.sql" >/dev/null
extversion=$(psql_in_root -d alphadome -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'")
[ "$extversion" = "$version" ] || { echo "extension version $extversion, expected $version"; exit 1; }

step "alphadome-relay check, as the alphadome user, with the package's env file filled in"
relay_port=$(free_port) admin_port=$(free_port) console_port=$(free_port)
app_secret=$(openssl rand -hex 16)
# The URL form of the docs, ?sslmode=disable on the same machine (Debian's certificate is self-signed).
cat >> "$root/etc/alphadome/relay.env" <<ENV
DATABASE_URL=postgres://relay_login:$relay_password@127.0.0.1:$pg_port/alphadome?sslmode=disable
META_APP_SECRET=$app_secret
ALPHADOME_LISTEN=127.0.0.1:$relay_port
ALPHADOME_ADMIN_LISTEN=127.0.0.1:$admin_port
ENV
cat >> "$root/etc/alphadome/console.env" <<ENV
DATABASE_URL=postgres://console_login:$console_password@127.0.0.1:$pg_port/alphadome?sslmode=disable
ALPHADOME_CONSOLE_LISTEN=127.0.0.1:$console_port
ALPHADOME_CONSOLE_INSECURE_COOKIES=true
ENV
# As systemd would run them: the unit's user and environment file (values quoted, which both
# systemd and sh read alike).
as_service() { local env=$1; shift; in_root runuser -u alphadome -- sh -c "set -a; . $env; set +a; exec \"\$@\"" sh "$@"; }
as_service /etc/alphadome/relay.env /usr/bin/alphadome-relay check

step "a customer's question answered through the packaged relay (dry run: nothing leaves)"
as_service /etc/alphadome/relay.env /usr/bin/alphadome-relay serve >"$root/tmp/relay.log" 2>&1 &
relay_pid=$!
as_service /etc/alphadome/console.env /usr/bin/alphadome-console >"$root/tmp/console.log" 2>&1 &
console_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$relay_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# (The secret in the environment of chroot, not on a command line.)
answer=$(META_APP_SECRET="$app_secret" ALPHADOME_RELAY_URL="http://127.0.0.1:$relay_port" \
  DATABASE_URL="host=/var/run/postgresql port=$pg_port user=postgres dbname=alphadome" \
  chroot "$root" runuser -u postgres -- /usr/bin/alphadome-relay simulate "What are your opening hours?" --tenant kassangas --timeout 20 2>&1) \
  || { echo "simulate failed; relay log:"; cat "$root/tmp/relay.log"; exit 1; }
echo "$answer"
grep -q "decision: faq" <<<"$answer" || { echo "the FAQ did not answer"; exit 1; }

step "the packaged console answers /login"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$console_port/login" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$console_port/login" | grep -q 'type="password"' \
  || { echo "no login form; console log:"; cat "$root/tmp/console.log"; exit 1; }

step "ALTER EXTENSION pg_alphadome UPDATE from 0.2.0 (its install script ships in the package)"
psql_in_root -d from_020 -c "SET client_min_messages = warning; CREATE EXTENSION pg_alphadome VERSION '0.2.0' CASCADE" \
  -c "SET client_min_messages = warning; ALTER EXTENSION pg_alphadome UPDATE"
updated=$(psql_in_root -d from_020 -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'")
[ "$updated" = "$version" ] || { echo "updated to $updated, expected $version"; exit 1; }

step "no secret in the logs of the packaged programs or the server"
for log in tmp/relay.log tmp/console.log "var/log/postgresql/postgresql-$PG_MAJOR-main.log"; do
  for secret in "$app_secret" "$relay_password" "$console_password"; do
    if grep -qF "$secret" "$root/$log"; then echo "a secret is in $log"; exit 1; fi
  done
done
step "ok: installed, created, seeded, checked, answered, served, updated"
