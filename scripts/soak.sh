#!/usr/bin/env bash
# make soak: release builds of the extension and the relay, then tests/src/bin/alphadome-soak.rs:
# SOAK_SECONDS (600) of mixed traffic, a line of figures a minute, a failure when memory or
# connections grow without bound or the queue does not drain. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "soak: release builds (the first one takes minutes)"
scripts/install-extension.sh --release >/tmp/alphadome-soak-install.log 2>&1 \
  || { cat /tmp/alphadome-soak-install.log; exit 1; }
cargo build -q --release -p alphadome-relay -p alphadome-e2e --bin alphadome-relay --bin alphadome-soak
"${CARGO_TARGET_DIR:-$(pwd)/target}/release/alphadome-soak"
