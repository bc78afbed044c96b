#!/usr/bin/env bash
# Builds and installs pg_alphadome into the server's extension folder: the shared library, the
# generated install script of this version, the hand-written upgrade scripts (cargo pgrx install
# copies pg_alphadome/sql/pg_alphadome--*--*.sql) and the 0.1.0 install script kept as the
# baseline every upgrade starts from. Usage: scripts/install-extension.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
cargo pgrx install -p pg_alphadome --pg-config "$PG_CONFIG" "$@"
install -m 644 pg_alphadome/sql/pg_alphadome--0.1.0.sql "$("$PG_CONFIG" --sharedir)/extension/"
