#!/usr/bin/env bash
# make bench: release builds of the extension, the relay, the console and the bench drivers,
# then tests/src/bin/alphadome-bench.rs on a throwaway cluster (figures as ratios to pgbench
# baselines of the same run) and tests/src/bin/console-bench.rs (page render times beside a
# baseline page of the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench: release builds (the first one takes minutes)"
scripts/install-extension.sh --release >/tmp/alphadome-bench-install.log 2>&1 \
  || { cat /tmp/alphadome-bench-install.log; exit 1; }
cargo build -q --release -p alphadome-relay -p alphadome-console -p alphadome-e2e \
  --bin alphadome-relay --bin alphadome-console --bin alphadome-bench --bin console-bench --bin naive-receiver
"${CARGO_TARGET_DIR:-$(pwd)/target}/release/alphadome-bench"
"${CARGO_TARGET_DIR:-$(pwd)/target}/release/console-bench"
