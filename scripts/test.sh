#!/usr/bin/env bash
# Every test of the project, in the order their dependencies need:
#   1. unit tests and in-database #[pg_test]s of pg_alphadome (a pgrx test cluster),
#   2. scripts/install-extension.sh: the real (non-test) build, its scripts and the 0.1.0 baseline,
#   3. the relay's, the console's (a headless Chromium too) and the end-to-end tests (throwaway
#      clusters of their own),
#   4. the Debian packages of that same (debug) build installed in a clean Debian root, the
#      container images built from them and started, the extension's tests on PostgreSQL 17,
# then a search of everything the run printed for the master key and the test tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PG_MAJOR:?the Makefile names the PostgreSQL major: run make test}"

state=${ALPHADOME_TEST_STATE:-/tmp/alphadome-test}
install -d -m 755 -o postgres -g postgres "$state"
rm -rf "$state/pgdata"
install -d -m 700 -o postgres -g postgres "$state/pgdata"

# A fresh master key for the pgrx test cluster, readable by the server only.
key_file="$state/master.key"
( umask 077; echo "test:$(openssl rand -hex 32)" > "$key_file" )
chown postgres:postgres "$key_file"

output="$state/test-output.log"
run() {
  export CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA="$state/pgdata"
  export ALPHADOME_TEST_MASTER_KEY_FILE="$key_file"
  cargo test -p pg_alphadome --features "pg$PG_MAJOR"
  echo "test: installing the extension (the real build, for the end-to-end tests)"
  scripts/install-extension.sh >"$state/install.log" 2>&1 || { cat "$state/install.log"; exit 1; }
  cargo test -p alphadome-service -p alphadome-relay -p alphadome-e2e -p alphadome-console
  echo "test: Debian packages of this build, installed and run in a clean root"
  scripts/packages.sh --debug
  scripts/test-packages.sh
  echo "test: container images built from those packages and started"
  scripts/test-images.sh
  if [ "$PG_MAJOR" = 15 ]; then
    echo "test: PostgreSQL 17"
    scripts/test-pg17.sh
  fi
}
run 2>&1 | tee "$output"

scripts/check-secrets.sh "$key_file" "$output"
