#!/usr/bin/env bash
# Builds and installs pg_alphadome into the server's extension folder: the shared library, the
# install script pgrx generates for this version, the upgrade scripts of released versions
# (pg_alphadome/sql/pg_alphadome--*--*.sql, which cargo pgrx install copies), the upgrade script
# of this version generated from its hand part (scripts/upgrade-script.sh), and the install
# scripts of 0.1.0 and 0.2.0 as released, which the upgrade tests start from.
# Usage: [PG_CONFIG=...] scripts/install-extension.sh [--release]
# PG_CONFIG names the server (make sets it from PG_MAJOR); else the pg_config on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-pg_config}
cargo pgrx install -p pg_alphadome --pg-config "$PG_CONFIG" "$@"

extension_dir="$("$PG_CONFIG" --sharedir)/extension"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pg_alphadome/Cargo.toml | head -1)
for hand_part in pg_alphadome/sql/upgrade/*--"$version".sql; do
  [ -e "$hand_part" ] || continue
  out="$extension_dir/pg_alphadome--$(basename "$hand_part")"
  scripts/upgrade-script.sh "$extension_dir/pg_alphadome--$version.sql" "$hand_part" > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "install-extension: generated $(basename "$out")"
done
install -m 644 pg_alphadome/sql/pg_alphadome--0.1.0.sql pg_alphadome/sql/pg_alphadome--0.2.0.sql "$extension_dir/"
