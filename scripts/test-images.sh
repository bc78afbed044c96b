#!/usr/bin/env bash
# The container images built and started here (make test-images; make test calls it).
# There is no registry on these machines, so the base is made locally: a bookworm root with
# PostgreSQL (mmdebstrap) imported into podman. Each Dockerfile is built with the packages of
# `make packages` (PACKAGE=made: the path these machines can verify), then started with runc:
# the PostgreSQL image creates the extension, the relay image passes `check` and answers a
# simulated customer, the console image answers /login. compose.yaml is checked against the
# compose file schema (docker-compose 1.29 validates without a daemon).
# Usage: scripts/test-images.sh [packages dir]   (default target/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/roots.sh
: "${PG_MAJOR:?the Makefile names the PostgreSQL major}"
packages=$(realpath "${1:-target/packages}")
[ "$packages" = "$(pwd)/target/packages" ] || { rm -rf target/packages; mkdir -p target; cp -r "$packages" target/packages; }
step() { echo "test-images: $*"; }

step "compose.yaml against the compose file schema"
checks=$(mktemp -d)
mkdir -p "$checks/secrets"
for s in master.key postgres_password relay_db_password console_db_password meta_app_secret; do : > "$checks/secrets/$s"; done
cp compose.yaml "$checks/"
(cd "$checks" && docker-compose -f compose.yaml config >/dev/null)
rm -rf "$checks"

base=localhost/alphadome-base:bookworm-pg$PG_MAJOR
tar=$(root_tar "bookworm-pg$PG_MAJOR" bookworm "postgresql-$PG_MAJOR,ca-certificates,adduser,libssl3")
if [ "$(podman image inspect -f '{{index .Labels "alphadome.root"}}' "$base" 2>/dev/null)" != "$(stat -c %Y "$tar")" ]; then
  step "importing $tar as $base"
  podman import --change "LABEL alphadome.root=$(stat -c %Y "$tar")" "$tar" "$base" >/dev/null
fi

containers=()
secret_env=
cleanup() {
  [ ${#containers[@]} -eq 0 ] || podman rm -f "${containers[@]}" >/dev/null 2>&1 || true
  [ -z "$secret_env" ] || rm -f "$secret_env"
}
trap cleanup EXIT
# crun refuses here (rlimits, hybrid cgroups): runc with lowered limits, the host's network.
run_flags=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for image in postgres relay console; do
  step "podman build -f Dockerfile.$image (on $base, from target/packages)"
  podman build --isolation chroot -q -f "Dockerfile.$image" --build-arg "PG_MAJOR=$PG_MAJOR" \
    --build-arg "BASE=$base" --build-arg PACKAGE=made -t "localhost/alphadome-$image:test" . >/dev/null
done

step "the PostgreSQL image: a server started from it, CREATE EXTENSION"
pg_port=$(free_port)
containers+=(alphadome-test-postgres)
# The master key is made inside the container: no secret on a command line (ps).
podman run -d --name alphadome-test-postgres "${run_flags[@]}" --user postgres \
  localhost/alphadome-postgres:test bash -c "
    set -e; umask 077; printf 'k1:%s\n' \$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') > /tmp/master.key
    /usr/lib/postgresql/$PG_MAJOR/bin/initdb -D /tmp/data -U postgres -A trust >/dev/null
    exec /usr/lib/postgresql/$PG_MAJOR/bin/postgres -D /tmp/data -p $pg_port -c listen_addresses=127.0.0.1 \
      -c unix_socket_directories=/tmp -c alphadome.master_key_file=/tmp/master.key" >/dev/null
psql_c() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 100); do psql_c -d postgres -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
psql_c -d postgres -c "CREATE DATABASE alphadome"
psql_c -d alphadome -c "SET client_min_messages = warning; CREATE EXTENSION pg_alphadome CASCADE"
psql_c -d alphadome -f sql/seed/kassangas.sql >/dev/null
psql_c -d alphadome -c "CREATE ROLE relay_login LOGIN IN ROLE alphadome_relay" \
  -c "CREATE ROLE console_login LOGIN NOINHERIT IN ROLE alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin"
psql_c -d alphadome -tAc "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'"

step "the relay image: check, serve, a simulated customer answered"
relay_port=$(free_port) admin_port=$(free_port) console_port=$(free_port)
app_secret=$(openssl rand -hex 16)
# Secrets through a file (--env-file), not podman's command line.
secret_env=$(mktemp)
printf 'META_APP_SECRET=%s\n' "$app_secret" > "$secret_env"
relay_env=(-e "DATABASE_URL=host=127.0.0.1 port=$pg_port user=relay_login dbname=alphadome"
           --env-file "$secret_env" -e ALPHADOME_DRY_RUN=true
           -e "ALPHADOME_LISTEN=127.0.0.1:$relay_port" -e "ALPHADOME_ADMIN_LISTEN=127.0.0.1:$admin_port")
podman run --rm "${run_flags[@]}" "${relay_env[@]}" localhost/alphadome-relay:test check
[ "$(podman run --rm "${run_flags[@]}" --entrypoint id localhost/alphadome-relay:test -un)" = alphadome ]
containers+=(alphadome-test-relay)
podman run -d --name alphadome-test-relay "${run_flags[@]}" "${relay_env[@]}" localhost/alphadome-relay:test >/dev/null
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$relay_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
answer=$(podman run --rm "${run_flags[@]}" --env-file "$secret_env" \
  -e "DATABASE_URL=host=127.0.0.1 port=$pg_port user=postgres dbname=alphadome" \
  -e "ALPHADOME_RELAY_URL=http://127.0.0.1:$relay_port" \
  localhost/alphadome-relay:test simulate "What are your opening hours?" --tenant kassangas --timeout 20 2>&1) \
  || { podman logs alphadome-test-relay; exit 1; }
echo "$answer"
grep -q "decision: faq" <<<"$answer"

step "the console image: /login"
containers+=(alphadome-test-console)
podman run -d --name alphadome-test-console "${run_flags[@]}" \
  -e "DATABASE_URL=host=127.0.0.1 port=$pg_port user=console_login dbname=alphadome" \
  -e "ALPHADOME_CONSOLE_LISTEN=127.0.0.1:$console_port" -e ALPHADOME_CONSOLE_INSECURE_COOKIES=true \
  localhost/alphadome-console:test >/dev/null
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$console_port/login" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$console_port/login" | grep -q 'type="password"' || { podman logs alphadome-test-console; exit 1; }

step "no secret in the containers' logs"
for c in alphadome-test-postgres alphadome-test-relay alphadome-test-console; do
  if podman logs "$c" 2>&1 | grep -qF "$app_secret"; then echo "the app secret is in the log of $c"; exit 1; fi
done
podman image prune -f >/dev/null
step "ok: three images built on a local base and started; compose.yaml valid"
