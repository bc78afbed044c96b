#!/usr/bin/env bash
# The extension's tests on PostgreSQL 17 (make test-pg17; make test calls it), from a bookworm
# machine: PostgreSQL 17 is in Debian trixie, so a trixie root (mmdebstrap: postgresql-17, its
# server headers, clang) is kept in the roots folder and the build runs inside it with this
# machine's Rust toolchain and this checkout bind-mounted. Inside: the in-database tests
# (pgrx, PG_MAJOR=17), the real build installed, the extension-level end-to-end tests (upgrade,
# backup and restore, the SQL API's golden tests, ...), and postgresql-17-alphadome packaged.
# On a trixie machine none of this is needed: PG_MAJOR=17 make test.
# Usage: scripts/test-pg17.sh [a command run inside instead of the tests, e.g.
#        scripts/packages.sh --only extension: postgresql-17-alphadome in target/packages/]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/roots.sh
major=17
# (sudo: cargo pgrx installs the test build with it; dpkg-dev: dpkg-shlibdeps for the package.)
tar=$(root_tar "trixie-pg$major" trixie "postgresql-$major,postgresql-server-dev-$major,ca-certificates,clang,libclang-dev,pkg-config,libssl-dev,gcc,libc6-dev,openssl,sudo,dpkg-dev")
root=$ROOTS_DIR/trixie-pg$major
# The root is unpacked once per tar and kept: pgrx's set-up inside it (cargo pgrx init) stays.
if [ "$(cat "$root/.from-tar" 2>/dev/null)" != "$(stat -c %Y "$tar")" ]; then
  remove_root "$root"
  mkdir -p "$root"
  tar -xf "$tar" -C "$root"
  stat -c %Y "$tar" > "$root/.from-tar"
fi

checkout=$(pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
# Its own target folder: a build for PostgreSQL 17 beside 15's would rebuild both each time.
target=${ALPHADOME_PG17_TARGET_DIR:-/var/cache/alphadome/target-pg$major}
mkdir -p "$target"
unmount_all() {
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$root/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
}
trap 'kill_root_processes "$root"; unmount_all' EXIT
mount_root "$root"
for dir in "$checkout" "$cargo_home" "$rustup_home" "$target"; do
  mkdir -p "$root$dir"
  mount --bind "$dir" "$root$dir"
done

inside=(env -i PATH="$cargo_home/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME=/root
        CARGO_HOME="$cargo_home" RUSTUP_HOME="$rustup_home" CARGO_TARGET_DIR="$target"
        PGRX_HOME=/root/.pgrx PG_MAJOR=$major PG_CONFIG=/usr/lib/postgresql/$major/bin/pg_config
        TERM=dumb)
if ! grep -qs "pg$major = " "$root/root/.pgrx/config.toml"; then
  chroot "$root" "${inside[@]}" cargo pgrx init --pg$major /usr/lib/postgresql/$major/bin/pg_config >/dev/null
fi

if [ $# -gt 0 ]; then
  chroot "$root" "${inside[@]}" bash -c 'cd "$1" && shift && exec "$@"' sh "$checkout" "$@"
  exit
fi

chroot "$root" "${inside[@]}" bash -s "$checkout" <<'INSIDE'
set -euo pipefail
cd "$1"
state=/tmp/alphadome-test
install -d -m 755 -o postgres -g postgres "$state"
rm -rf "$state/pgdata"
install -d -m 700 -o postgres -g postgres "$state/pgdata"
( umask 077; echo "test:$(openssl rand -hex 32)" > "$state/master.key" )
chown postgres:postgres "$state/master.key"
echo "test-pg17: the in-database tests on PostgreSQL $PG_MAJOR ($(pg_config --version 2>/dev/null || $PG_CONFIG --version))"
CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA="$state/pgdata" ALPHADOME_TEST_MASTER_KEY_FILE="$state/master.key" \
  cargo test -q -p pg_alphadome --features "pg$PG_MAJOR"
echo "test-pg17: installing the real build; the extension's end-to-end tests"
scripts/install-extension.sh >"$state/install.log" 2>&1 || { cat "$state/install.log"; exit 1; }
cargo test -q -p alphadome-e2e
echo "test-pg17: postgresql-$PG_MAJOR-alphadome"
scripts/packages.sh --debug --only extension
INSIDE
