#!/usr/bin/env bash
# Fails when a file holds the master key of the given key file, any test credential, or a
# customer's media: every fake credential in the tests starts with EAAtest, sk-test-,
# whsec-test- or vtok-test-, and every test media file with "MEDIA-test-byte" (its base64
# starts TUVESUEtdGVzdC1ieXRl), so any of those in output or a log is a leak.
# Usage: check-secrets.sh <master key file> <file>...
set -euo pipefail
key_file=$1; shift
patterns=$(mktemp); trap 'rm -f "$patterns"' EXIT
cut -d: -f2 "$key_file" > "$patterns"
printf '%s\n' EAAtest sk-test- whsec-test- vtok-test- MEDIA-test-byte TUVESUEtdGVzdC1ieXRl >> "$patterns"
found=0
for f in "$@"; do
  if grep -qFf "$patterns" "$f"; then
    echo "check-secrets: $f contains the master key, a test credential or test media bytes" >&2
    found=1
  fi
done
[ "$found" -eq 0 ] && echo "check-secrets: no master key, test credential or media bytes in $*"
exit "$found"
