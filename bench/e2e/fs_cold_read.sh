#!/bin/bash
# Cold reads over the network, side by side in one run on the virtual LAN
# (lcfs-testbed: host 0 exports, host 1 receives):
#   - time to first byte of a cold file through an lcfs mount;
#   - cold sequential read of one file through lcfs (empty chunk cache);
#   - the same file with lcfs-sync (whole-tree copy), same exporter.
# Not a test: prints figures. Needs root.
#
#   bench/e2e/fs_cold_read.sh [BUILD_DIR]     (SIZE_MB=256, RATE=1G by default)
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  b=$LCFS_BENCH_BUILD
  . "$(dirname "$0")/lib.sh"
  LCFS_BENCH_TOOLS=$b/tools
  bench_setup lcfs-coldbench
  bench_mounts+=("$work/mnt")
  mkdir -p "$work/src" "$work/mnt" "$work/sync"
  head -c "${SIZE_MB}M" /dev/urandom > "$work/src/big.bin"
  bench_start_exporter 0 "$work/src" -q -r "$RATE"
  echo "== $SIZE_MB MiB file, exporter rate $RATE"
  in_host 1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache"
  t0=$(now); head -c 1 "$work/mnt/big.bin" > /dev/null; t1=$(now)
  echo "lcfs time to first byte:   $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
  umount "$work/mnt"; rm -rf "$work/cache"
  in_host 1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache"
  t0=$(now); dd if="$work/mnt/big.bin" of=/dev/null bs=1M status=none; t1=$(now)
  echo "lcfs cold read:            $(echo "$SIZE_MB / ($t1 - $t0)" | bc) MB/s"
  umount "$work/mnt"
  t0=$(now); in_host 1 "$b/tools/lcfs-sync" -q -i lan0 "$root" "$work/sync"; t1=$(now)
  echo "lcfs-sync:                 $(echo "$SIZE_MB / ($t1 - $t0)" | bc) MB/s"
  echo "(uftp: not measured yet; it needs IPv6 multicast options on this link-local-only LAN)"
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
export LCFS_BENCH_BUILD=$build SIZE_MB=${SIZE_MB:-256} RATE=${RATE:-1G}
for f in fs/lcfs tools/lcfs-export tools/lcfs-sync tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "missing $build/$f" >&2; exit 1; }
done
exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$here/bench/e2e/fs_cold_read.sh" --inside
