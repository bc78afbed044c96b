#!/usr/bin/env bash
# make packages: Debian packages into target/packages/ —
#   postgresql-<major>-alphadome  the extension (library, control file, install and upgrade scripts)
#   alphadome-relay               the relay, its systemd unit and /etc/alphadome/relay.env
#   alphadome-console             the console, its systemd unit and /etc/alphadome/console.env
# Usage: scripts/packages.sh [--debug] [--only extension|relay|console]
#   --only: one package (the Dockerfiles' builders make the one their image needs);
#   --debug packages the debug build that make test has just built (the package test checks the
#   packaging, not the optimiser; a release build with fat LTO would add minutes to every run).
# PG_MAJOR and PG_CONFIG name the server of the extension's package (the Makefile sets them;
# the relay's and the console's packages need neither); CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

# (cargo pgrx package builds release by default and knows only --debug.)
profile=release pgrx_profile= cargo_profile=--release only=
while [ $# -gt 0 ]; do
  case $1 in
    --debug) profile=debug pgrx_profile=--debug cargo_profile= ;;
    --only) only=${2:-}; shift ;;
    *) echo "usage: $0 [--debug] [--only extension|relay|console]" >&2; exit 2 ;;
  esac
  shift
done
case $only in ''|extension|relay|console) ;; *) echo "packages: --only extension, relay or console" >&2; exit 2 ;; esac
wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }
target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
out=$(pwd)/target/packages
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pg_alphadome/Cargo.toml | head -1)
revision=1
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The Depends of a binary: dpkg-shlibdeps reads its ELF dependencies and the installed packages'
# symbol files (it wants a debian/control to stand in).
shlib_depends() {
  local dir="$work/shlibdeps"
  mkdir -p "$dir/debian"
  printf 'Source: alphadome\n\nPackage: any\nArchitecture: any\n' > "$dir/debian/control"
  local depends
  depends=$(cd "$dir" && dpkg-shlibdeps -O "$1" 2>"$dir/errors" | sed -n 's/^shlibs:Depends=//p') || true
  [ -n "$depends" ] || { echo "packages: dpkg-shlibdeps found no dependencies of $1 (dpkg-dev installed?)" >&2; cat "$dir/errors" >&2; exit 1; }
  echo "$depends"
}

# build_deb NAME ROOT DEPENDS DESCRIPTION: control file, md5sums, conffiles, then dpkg-deb.
build_deb() {
  local name=$1 root=$2 depends=$3 description=$4
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  install -m 644 packaging/debian/copyright "$root/usr/share/doc/$name/copyright"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version-$revision
Architecture: $arch
Maintainer: AlphaDome developers <ops@alphadome.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: misc
Priority: optional
Homepage: https://alphadome.invalid
Description: $description
CONTROL
  if [ -d "$root/etc" ]; then
    (cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
  fi
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) > "$root/DEBIAN/md5sums"
  local deb="$out/${name}_${version}-${revision}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "packages: $deb ($(du -h "$deb" | cut -f1))"
}

# ---- the extension ------------------------------------------------------------------------------
if wanted extension; then
: "${PG_MAJOR:?the Makefile names the PostgreSQL major: run make packages}"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
echo "packages: building pg_alphadome for PostgreSQL $PG_MAJOR ($profile)"
cargo pgrx package -p pg_alphadome --pg-config "$PG_CONFIG" $pgrx_profile --out-dir "$work/pgrx" \
  >"$work/pgrx.log" 2>&1 || { cat "$work/pgrx.log" >&2; exit 1; }
ext_root=$work/postgresql-$PG_MAJOR-alphadome
lib_dir=$ext_root/usr/lib/postgresql/$PG_MAJOR/lib
ext_dir=$ext_root/usr/share/postgresql/$PG_MAJOR/extension
mkdir -p "$lib_dir" "$ext_dir"
# pgrx lays the files out where PG_CONFIG says; the package puts them where Debian's server looks.
install -m 644 "$(find "$work/pgrx" -name pg_alphadome.so | head -1)" "$lib_dir/"
strip --strip-debug "$lib_dir/pg_alphadome.so"
for f in $(find "$work/pgrx" -name 'pg_alphadome*.control' -o -name 'pg_alphadome--*.sql'); do
  install -m 644 "$f" "$ext_dir/"
done
# This version's upgrade script, generated from its hand part (as install-extension.sh does), and
# the released install scripts that upgrades start from.
for hand_part in pg_alphadome/sql/upgrade/*--"$version".sql; do
  [ -e "$hand_part" ] || continue
  scripts/upgrade-script.sh "$ext_dir/pg_alphadome--$version.sql" "$hand_part" > "$ext_dir/pg_alphadome--$(basename "$hand_part")"
done
install -m 644 pg_alphadome/sql/pg_alphadome--0.1.0.sql pg_alphadome/sql/pg_alphadome--0.2.0.sql "$ext_dir/"
# The demo tenant's seed and its check, for trying it out (docs/operations.md).
mkdir -p "$ext_root/usr/share/doc/postgresql-$PG_MAJOR-alphadome/examples"
install -m 644 sql/seed/kassangas.sql "$ext_root/usr/share/doc/postgresql-$PG_MAJOR-alphadome/examples/kassangas-seed.sql"
install -m 644 sql/verify/kassangas.sql "$ext_root/usr/share/doc/postgresql-$PG_MAJOR-alphadome/examples/kassangas-verify.sql"
depends="postgresql-$PG_MAJOR, $(shlib_depends "$lib_dir/pg_alphadome.so")"
build_deb "postgresql-$PG_MAJOR-alphadome" "$ext_root" "$depends" \
  "AlphaDome: multi-tenant WhatsApp AI customer service, inside PostgreSQL $PG_MAJOR
 The pg_alphadome extension: tenants, encrypted credentials, row-level security, webhook
 ingestion, reply decisions and the job queue. CREATE EXTENSION pg_alphadome CASCADE."

fi

# ---- the relay and the console ------------------------------------------------------------------
for program in relay console; do
  wanted "$program" || continue
  echo "packages: building alphadome-$program ($profile)"
  cargo build -q $cargo_profile -p "alphadome-$program"
  name=alphadome-$program
  root=$work/$name
  install -D -m 755 "$target_dir/$profile/$name" "$root/usr/bin/$name"
  strip --strip-debug "$root/usr/bin/$name"
  install -D -m 644 "packaging/debian/$name.service" "$root/lib/systemd/system/$name.service"
  install -D -m 640 "packaging/debian/$program.env" "$root/etc/alphadome/$program.env"
  install -D -m 644 "docs/$program.md" "$root/usr/share/doc/$name/README"
  mkdir -p "$root/DEBIAN"
  sed "s|@ENV_FILE@|/etc/alphadome/$program.env|" packaging/debian/postinst > "$root/DEBIAN/postinst"
  chmod 755 "$root/DEBIAN/postinst"
  case $program in
    relay) description="AlphaDome relay: WhatsApp webhooks in, Graph API and LLM calls out
 The only HTTP of AlphaDome: it checks Meta's signatures, hands webhooks to pg_alphadome and
 runs the jobs the database queues (replies, alerts, transcriptions)." ;;
    console) description="AlphaDome console: the shop owners' and the operator's web pages
 Each shop owner runs his bot from a browser (FAQ, settings, conversations, alerts), under
 the database's row-level security; the operator onboards shops." ;;
  esac
  # ca-certificates: both call out over TLS (Meta, the LLM, SMTP) with the system's trust store.
  build_deb "$name" "$root" "adduser, ca-certificates, $(shlib_depends "$root/usr/bin/$name")" "$description"
done
