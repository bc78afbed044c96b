#!/usr/bin/env bash
# Fails when a file holds the master key of the key file given first, or any test token
# (the fake credentials the tests use: literals starting EAAtest, sk-test, whsec-test, vtok-test).
# Usage: check-secrets.sh <master key file> <file>...
set -euo pipefail
cd "$(dirname "$0")/.."
key_file=$1; shift
patterns=$(mktemp); trap 'rm -f "$patterns"' EXIT
cut -d: -f2 "$key_file" >> "$patterns"
grep -rhoE '"(EAAtest|sk-test|whsec-test|vtok-test)[A-Za-z0-9-]*"' pg_alphadome/src tests relay 2>/dev/null \
  | tr -d '"' | sort -u >> "$patterns"
found=0
for f in "$@"; do
  if grep -qFf "$patterns" "$f"; then
    echo "check-secrets: $f contains the master key or a test token" >&2
    found=1
  fi
done
[ "$found" -eq 0 ] && echo "check-secrets: no master key or test token in $(printf '%s ' "$@")"
exit "$found"
