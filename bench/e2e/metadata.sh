#!/bin/bash
# Metadata and small files over the network, side by side with the local
# filesystem, on the virtual LAN (lcfs-testbed: host 0 exports TREE, host 1
# mounts it):
#   - `ls -lR` and `find`: on TREE itself (ext4, page cache warm), through a
#     cold mount (empty chunk cache), a warm mount (same mount again), and a
#     new mount over the warm cache;
#   - a cold `tar cf - doc | sha256sum` through the mount (into a pipe: GNU
#     tar skips reading files when it writes to /dev/null);
#   - time to the first byte of a cold file.
# Warm figures are the median of 3 runs; cold ones need a fresh cache each,
# so they run once. Not a test: prints figures and ratios. Needs root.
#
#   bench/e2e/metadata.sh [BUILD_DIR]     (TREE=/usr/share, RATE=1G; LCFS_MOUNT_EXTRA=more,-o,options)
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  b=$LCFS_BENCH_BUILD
  . "$(dirname "$0")/lib.sh"
  bench_init "$b" lcfs-metabench
  mnt=$work/mnt
  bench_mounts+=("$mnt")
  mkdir -p "$mnt"
  # Seconds (3 decimals) that "$@" takes, output discarded.
  secs() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null 2>&1 || true
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc | awk '{printf "%.3f", $1}'
  }
  median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
  ratio() { echo "$1 / $2" | bc -l | awk '{printf "%.2fx", $1}'; }
  opts="iface=lan0,cache=$work/cache,timeout=30${LCFS_MOUNT_EXTRA:+,$LCFS_MOUNT_EXTRA}"
  mount_lcfs() { in_host 1 "$b/fs/lcfs" "$root" "$mnt" -o "$opts"; }
  umount_lcfs() { umount "$mnt"; }
  fresh_mount() { umount_lcfs 2> /dev/null || true; rm -rf "$work/cache"; mount_lcfs; }

  bench_start_exporter 0 "$TREE" -q -r "$RATE"
  echo "== $TREE: $(find "$TREE" | wc -l) entries, exporter rate $RATE, mount -o $opts"
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)

  e=(); for _ in 1 2 3 4; do e+=("$(secs ls -lR "$TREE")"); done
  ext4_ls=$(median3 "${e[@]:1}")
  e=(); for _ in 1 2 3 4; do e+=("$(secs find "$TREE")"); done
  ext4_find=$(median3 "${e[@]:1}")

  fresh_mount
  cold_ls=$(secs ls -lR "$mnt")
  w=(); for _ in 1 2 3; do w+=("$(secs ls -lR "$mnt")"); done
  warm_ls=$(median3 "${w[@]}")
  w=(); for _ in 1 2 3; do w+=("$(secs find "$mnt")"); done
  warm_find=$(median3 "${w[@]}")
  n=(); for _ in 1 2 3; do umount_lcfs; mount_lcfs; n+=("$(secs ls -lR "$mnt")"); done
  new_ls=$(median3 "${n[@]}")
  n=(); for _ in 1 2 3; do umount_lcfs; mount_lcfs; n+=("$(secs find "$mnt")"); done
  new_find=$(median3 "${n[@]}")

  fresh_mount
  cold_find=$(secs find "$mnt")

  tar_line="(no doc/ in $TREE)"
  if [ -d "$TREE/doc" ]; then
    fresh_mount
    t0=$(date +%s.%N)
    sum=$(tar cf - -C "$mnt" doc 2> /dev/null | sha256sum | cut -c1-16)
    t1=$(date +%s.%N)
    tar_line="$(echo "$t1 - $t0" | bc | awk '{printf "%.3f", $1}') s ($(du -sh "$TREE/doc" | cut -f1), tar sha256 $sum...)"
  fi

  # The largest regular file two levels down: a cold file, nothing of it cached.
  file=$(find "$TREE" -maxdepth 3 -type f -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2-)
  fresh_mount
  ls "$(dirname "$mnt/$file")" > /dev/null  # its directory is known, its content is not
  t0=$(date +%s.%N); head -c 1 "$mnt/$file" > /dev/null; t1=$(date +%s.%N)
  ttfb=$(echo "($t1 - $t0) * 1000" | bc | awk '{printf "%.1f", $1}')
  umount_lcfs

  printf '%-34s %9s %9s %9s\n' "workload" "ext4 s" "lcfs s" "ratio"
  printf '%-34s %9s %9s %9s\n' "ls -lR cold" "$ext4_ls" "$cold_ls" "$(ratio "$cold_ls" "$ext4_ls")"
  printf '%-34s %9s %9s %9s\n' "ls -lR warm (same mount)" "$ext4_ls" "$warm_ls" "$(ratio "$warm_ls" "$ext4_ls")"
  printf '%-34s %9s %9s %9s\n' "ls -lR new mount, warm cache" "$ext4_ls" "$new_ls" "$(ratio "$new_ls" "$ext4_ls")"
  printf '%-34s %9s %9s %9s\n' "find cold" "$ext4_find" "$cold_find" "$(ratio "$cold_find" "$ext4_find")"
  printf '%-34s %9s %9s %9s\n' "find warm (same mount)" "$ext4_find" "$warm_find" "$(ratio "$warm_find" "$ext4_find")"
  printf '%-34s %9s %9s %9s\n' "find new mount, warm cache" "$ext4_find" "$new_find" "$(ratio "$new_find" "$ext4_find")"
  echo "cold tar cf - doc | sha256sum:     $tar_line"
  echo "time to first byte, cold file:     $ttfb ms ($file)"
  # The machine may be shared: the load says how much the figures are worth.
  echo "load average at start / end:       $load_start / $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
export LCFS_BENCH_BUILD=$build TREE=${TREE:-/usr/share} RATE=${RATE:-1G}
export LCFS_MOUNT_EXTRA=${LCFS_MOUNT_EXTRA:-}
for f in fs/lcfs tools/lcfs-export tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "missing $build/$f" >&2; exit 1; }
done
exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$here/bench/e2e/metadata.sh" --inside
