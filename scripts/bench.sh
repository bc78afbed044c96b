#!/usr/bin/env bash
# make bench: release builds of the extension, the relay and the bench driver, then
# tests/src/bin/alphadome-bench.rs on a throwaway cluster (figures as ratios to pgbench
# baselines of the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
echo "bench: release builds (the first one takes minutes)"
scripts/install-extension.sh --release >/tmp/alphadome-bench-install.log 2>&1 \
  || { cat /tmp/alphadome-bench-install.log; exit 1; }
cargo build -q --release -p alphadome-relay -p alphadome-e2e --bin alphadome-relay --bin alphadome-bench
"${CARGO_TARGET_DIR:-$(pwd)/target}/release/alphadome-bench"
