#!/usr/bin/env bash
# Installs what building and testing need, idempotently: a warm run takes seconds.
# Runs as root on Debian bookworm (apt); as another user it only checks.
set -euo pipefail

PGRX_VERSION=0.18.1
: "${PG_MAJOR:?the Makefile names the PostgreSQL major: run make setup}"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}

need_apt=()
[ -d "$($PG_CONFIG --includedir-server 2>/dev/null)" ] && [ -f "$($PG_CONFIG --includedir-server)/postgres.h" ] || need_apt+=(postgresql-server-dev-$PG_MAJOR)
# chromium and its WebDriver: the console's browser tests.
# mmdebstrap, podman, buildah, runc, uidmap: the package and image tests (clean
# Debian roots, images built and started here); docker-compose (1.29, no daemon needed) checks
# compose.yaml against its schema; dpkg-dev: dpkg-shlibdeps for the packages.
# patroni, etcd-server, etcd-client, haproxy: the high-availability test (relay/tests/ha.rs)
# and deploy/patroni/up.sh.
for pkg in libclang-dev clang pkg-config libssl-dev sudo openssl chromium chromium-driver \
           mmdebstrap podman buildah runc uidmap docker-compose dpkg-dev python3 curl \
           patroni etcd-server etcd-client haproxy; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# pgcrypto ships in the server package on bookworm: check its control file.
for ext in pgcrypto; do
  [ -f "$($PG_CONFIG --sharedir)/extension/$ext.control" ] || need_apt+=(postgresql-$PG_MAJOR)
done
# pg_cron: the chores scheduled in the database (alphadome.schedule_chores; relay/tests/chores.rs).
[ -f "$($PG_CONFIG --sharedir)/extension/pg_cron.control" ] || need_apt+=(postgresql-$PG_MAJOR-cron)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root: ${need_apt[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (about 4 minutes on 2 cores)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
  echo "setup: cargo pgrx init --pg$PG_MAJOR=$PG_CONFIG"
  cargo pgrx init --pg$PG_MAJOR="$PG_CONFIG" >/dev/null
fi
