# Clean Debian root file systems for the package, image and PostgreSQL 17 tests (sourced).
# mmdebstrap makes each once from Debian's archive into $ROOTS_DIR (outside the clone, so CI's
# clean clones reuse them) and again when a week old (its package lists go stale).
ROOTS_DIR=${ALPHADOME_ROOTS_DIR:-/var/cache/alphadome/roots}

# root_tar NAME SUITE PACKAGES: prints the path of the tar of that root, made if missing or old.
root_tar() {
  local name=$1 suite=$2 packages=$3 tar="$ROOTS_DIR/$1.tar"
  mkdir -p "$ROOTS_DIR"
  if [ ! -f "$tar" ] || [ -n "$(find "$tar" -mtime +7)" ] || [ "$(cat "$tar.packages" 2>/dev/null)" != "$suite $packages" ]; then
    echo "roots: making $name ($suite: $packages) with mmdebstrap" >&2
    rm -rf "$tar.tmp"
    mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" "$suite" "$tar.tmp" >&2
    mv "$tar.tmp" "$tar"
    echo "$suite $packages" > "$tar.packages"
  fi
  echo "$tar"
}

# The mounts a chroot needs (processes, devices, shared memory) and their removal: a root is
# removed only once nothing is mounted under it any more.
mount_root() {
  local root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --make-rslave "$root/dev"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  cp /etc/hosts "$root/etc/hosts"
}

# Every process whose root directory is ROOT (servers started in it), stopped.
kill_root_processes() {
  local root=$1 p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
}

remove_root() {
  local root=$1
  [ -d "$root" ] || return 0
  kill_root_processes "$root"
  sleep 0.2
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$root/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    echo "roots: $root still has mounts; not removed" >&2
    return 1
  fi
  rm -rf --one-file-system "$root"
}
