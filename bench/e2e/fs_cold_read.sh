#!/bin/bash
# Cold reads over the network, side by side in one run on the virtual LAN
# (lcfs-testbed: host 0 exports, host 1 receives):
#   - time to first byte of a cold file through an lcfs mount;
#   - cold sequential read of one file through lcfs (empty chunk cache);
#   - the same file with lcfs-sync (whole-tree copy), same exporter;
#   - the same file with uftp/uftpd at the same rate.
# Not a test: prints figures. Needs root.
#
#   bench/e2e/fs_cold_read.sh [BUILD_DIR]     (SIZE_MB=256, RATE=1G by default)
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  b=$LCFS_BENCH_BUILD
  h0() { nsenter --net="/run/netns/$LCFS_TB_NS_0" "$@"; }
  h1() { nsenter --net="/run/netns/$LCFS_TB_NS_1" "$@"; }
  now() { date +%s.%N; }
  work=$(mktemp -d /tmp/lcfs-coldbench-XXXXXX)
  exp_pid=""
  cleanup() {
    mountpoint -q "$work/mnt" && umount -l "$work/mnt"
    [ -n "$exp_pid" ] && kill "$exp_pid" 2>/dev/null
    rm -rf "$work"
  }
  trap cleanup EXIT
  mkdir -p "$work/src" "$work/mnt" "$work/sync"
  head -c "${SIZE_MB}M" /dev/urandom > "$work/src/big.bin"
  # nsenter execs the exporter, so $! is the exporter itself (killed on exit).
  nsenter --net="/run/netns/$LCFS_TB_NS_0" "$b/tools/lcfs-export" -q -i lan0 -r "$RATE" \
    "$work/src" > "$work/hash" 2> /dev/null &
  exp_pid=$!
  for _ in $(seq 600); do [ -s "$work/hash" ] && break; sleep 0.1; done
  root=$(head -1 "$work/hash")
  echo "== $SIZE_MB MiB file, exporter rate $RATE"
  h1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache"
  t0=$(now); head -c 1 "$work/mnt/big.bin" > /dev/null; t1=$(now)
  echo "lcfs time to first byte:   $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
  umount "$work/mnt"; rm -rf "$work/cache"
  h1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache"
  t0=$(now); dd if="$work/mnt/big.bin" of=/dev/null bs=1M status=none; t1=$(now)
  echo "lcfs cold read:            $(echo "$SIZE_MB / ($t1 - $t0)" | bc) MB/s"
  umount "$work/mnt"
  t0=$(now); h1 "$b/tools/lcfs-sync" -q -i lan0 "$root" "$work/sync"; t1=$(now)
  echo "lcfs-sync:                 $(echo "$SIZE_MB / ($t1 - $t0)" | bc) MB/s"
  # uftp at the same rate, same hosts: uftpd on host 1, uftp on host 0,
  # link-local interfaces and transient link-scope groups (-M/-P).
  if command -v uftp >/dev/null && command -v uftpd >/dev/null; then
    mkdir -p "$work/uftp"
    h1 uftpd -d -I "$LCFS_TB_LL_1" -M ff12::1:2 -D "$work/uftp" -L "$work/uftpd.log" &
    uftpd_pid=$!
    sleep 1  # uftpd has no readiness signal; it must listen before the announce
    t0=$(now)
    h0 uftp -I "$LCFS_TB_LL_0" -M ff12::1:2 -P ff12::1:3 -R "$RATE_KBIT" -C none -Y none -x 0 \
      "$work/src/big.bin" > "$work/uftp.out" 2>&1 || echo "uftp failed" >&2
    t1=$(now)
    kill "$uftpd_pid" 2>/dev/null || true
    wait "$uftpd_pid" 2>/dev/null || true
    if cmp -s "$work/uftp/big.bin" "$work/src/big.bin"; then
      echo "uftp (whole session):      $(echo "$SIZE_MB / ($t1 - $t0)" | bc) MB/s"
    else
      echo "uftp: the copy does not match (see $work/uftp.out)" >&2
    fi
  fi
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
export LCFS_BENCH_BUILD=$build SIZE_MB=${SIZE_MB:-256} RATE=${RATE:-1G}
# uftp's -R takes Kbit/s.
case $RATE in
  *G) RATE_KBIT=$((${RATE%G} * 1000000)) ;;
  *M) RATE_KBIT=$((${RATE%M} * 1000)) ;;
  *k) RATE_KBIT=${RATE%k} ;;
  *) RATE_KBIT=$((RATE / 1000)) ;;
esac
export RATE_KBIT
for f in fs/lcfs tools/lcfs-export tools/lcfs-sync tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "missing $build/$f" >&2; exit 1; }
done
exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$here/bench/e2e/fs_cold_read.sh" --inside
