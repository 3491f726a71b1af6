#!/usr/bin/env bash
# The demo's steps, run by lcfs-testbed (see demo.sh) with the LAN described
# in LCFS_TB_* variables. Cleans up what it starts, also when interrupted.
set -euo pipefail
build=$1
tools=$build/tools
exporter_ns=/run/netns/$LCFS_TB_NS_0
reader_ns=/run/netns/$LCFS_TB_NS_1
work=$(mktemp -d /tmp/lcfs-demo-XXXXXX)
exporter_pid=""
mnt=$work/mnt

cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount -l "$mnt" || true; fi
  if [[ -n $exporter_pid ]]; then kill "$exporter_pid" 2>/dev/null && wait "$exporter_pid" || true; fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
not_built() {
  printf '\n\033[1m== not built yet:\033[0m %s\n' "$*"
  echo "The demo stops here; it grows with the project."
  exit 0
}

step "virtual LAN: host 0 (exporter) $LCFS_TB_LL_0, host 1 (reader) $LCFS_TB_LL_1, bridge with MLD snooping"
nsenter --net="$exporter_ns" ip -6 -br addr show dev "$LCFS_TB_IFACE"
nsenter --net="$reader_ns" ip -6 -br addr show dev "$LCFS_TB_IFACE"

step "sample tree"
tree=$work/export
mkdir -p "$tree/docs" "$tree/data"
printf 'Hello from lcfs!\n' >"$tree/hello.txt"
printf 'lcfs mounts content published over IPv6 multicast.\n' >"$tree/docs/README"
seq 1 100000 >"$tree/data/numbers.txt"
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$tree/data/random.bin"
ln -s docs/README "$tree/readme-link"
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum >"$work/SHA256SUMS")
ls -lR "$tree"

if [[ -x $tools/lcfs-hash ]]; then
  step "lcfs-hash: the root HASH of the tree, computed locally"
  "$tools/lcfs-hash" "$tree"
fi

[[ -x $tools/lcfs-export ]] || not_built "lcfs-export (share engine, issue 6): exporting the tree from host 0"
step "host 0: lcfs-export $tree"
nsenter --net="$exporter_ns" "$tools/lcfs-export" --iface "$LCFS_TB_IFACE" "$tree" \
  >"$work/export.out" 2>"$work/export.err" &
exporter_pid=$!
for _ in $(seq 100); do  # bounded: until the first line (the HASH) is printed
  [[ -s $work/export.out ]] && break
  kill -0 "$exporter_pid" 2>/dev/null || { cat "$work/export.err"; exit 1; }
  sleep 0.1
done
hash=$(head -n1 "$work/export.out")
echo "root HASH: $hash"
cat "$work/export.err"

command -v mount.fuse3 >/dev/null && [[ -x $build/fs/lcfs ]] ||
  not_built "lcfs (FUSE frontend, issue 8): mounting the HASH on host 1"
# A private chunk cache, so every byte read below really crosses the LAN.
opts="iface=$LCFS_TB_IFACE,cache=$work/cache"
step "host 1: mount -t fuse.lcfs -o $opts $hash $mnt"
mkdir -p "$mnt"
nsenter --net="$reader_ns" mount -t fuse.lcfs -o "$opts" "$hash" "$mnt"

step "host 1: ls -l, cat, sha256sum"
ls -l "$mnt" "$mnt/data"
cat "$mnt/hello.txt" "$mnt/readme-link"
(cd "$mnt" && sha256sum -c "$work/SHA256SUMS")

step "unmount, stop the exporter, tear down"
umount "$mnt"
kill "$exporter_pid" && wait "$exporter_pid" || true
exporter_pid=""
echo "demo complete"
