#!/bin/sh
# Installs the built lcfs programs where mount(8) and mount.fuse3 find them.
#
#   tools/install-lcfs.sh [BUILD_DIR] [PREFIX]     (defaults: build, /usr/local)
#
# `mount -t fuse.lcfs HASH /mnt` runs /sbin/mount.fuse.lcfs if present, else
# /sbin/mount.fuse (fuse3's mount.fuse3), which runs `lcfs HASH /mnt -o ...`
# through /bin/sh with the caller's PATH. That PATH may be minimal (systemd
# mount units, `env -i`, boot scripts: /usr/sbin:/usr/bin:/sbin:/bin), so the
# program goes to PREFIX/bin and gets a symlink in /usr/sbin, which every
# system PATH contains. The man page goes to PREFIX/share/man/man8.
# Idempotent; prints what it does. Needs root.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
prefix=${2:-/usr/local}

if [ "$(id -u)" != 0 ]; then
  echo "install-lcfs: must run as root" >&2
  exit 1
fi
if [ ! -x "$build/fs/lcfs" ]; then
  echo "install-lcfs: $build/fs/lcfs not found: build the 'lcfs' target first" >&2
  exit 1
fi
if [ ! -x /sbin/mount.fuse3 ] && [ ! -x /usr/sbin/mount.fuse3 ]; then
  echo "install-lcfs: mount.fuse3 missing: apt-get install fuse3" >&2
  exit 1
fi

install_file() {  # SRC DEST MODE
  if [ -e "$2" ] && cmp -s "$1" "$2"; then
    echo "unchanged  $2"
  else
    install -D -m "$3" "$1" "$2"
    echo "installed  $2"
  fi
}

link() {  # TARGET LINK
  if [ "$(readlink "$2" 2>/dev/null || true)" = "$1" ]; then
    echo "unchanged  $2 -> $1"
  else
    ln -sfn "$1" "$2"
    echo "linked     $2 -> $1"
  fi
}

install_file "$build/fs/lcfs" "$prefix/bin/lcfs" 0755
[ "$prefix/bin" = /usr/sbin ] || link "$prefix/bin/lcfs" /usr/sbin/lcfs

# The other tools (lcfs-hash, lcfs-export, ...), whichever are built.
for tool in "$build"/tools/lcfs-*; do
  [ -f "$tool" ] && [ -x "$tool" ] || continue
  install_file "$tool" "$prefix/bin/$(basename "$tool")" 0755
done

# mount -t fuse.lcfs falls back to /sbin/mount.fuse; make sure it exists.
if [ ! -e /sbin/mount.fuse ] && [ ! -e /usr/sbin/mount.fuse ]; then
  link mount.fuse3 /usr/sbin/mount.fuse
fi

if [ -f "$here/docs/lcfs.8" ]; then
  install_file "$here/docs/lcfs.8" "$prefix/share/man/man8/lcfs.8" 0644
fi
mkdir -p /var/cache/lcfs && echo "ready      /var/cache/lcfs"
