#!/bin/bash
# lcfs FUSE read benchmark, side by side in one run:
#   - warm sequential read of a 1 GiB file through lcfs (local=DIR source,
#     chunk cache warm, kernel page cache of the mount cold: fresh mount)
#     vs a minimal in-memory FUSE filesystem (bench/e2e/memfs.cc) serving the
#     same bytes vs `casync mount` of the same file;
#   - cold read (empty chunk cache) through lcfs, local source;
#   - time to first byte of a cold file;
#   - `ls -lR` of 10,000 files, cold (empty cache) and warm.
# Not a test: prints figures, never passes or fails. Needs root (mounts).
#
#   bench/e2e/fs_warm_read.sh [BUILD_DIR]    (default: build; SIZE_MB=1024)
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
size_mb=${SIZE_MB:-1024}
files=${FILES:-10000}
lcfs=$build/fs/lcfs
hash_tool=$build/tools/lcfs-hash/lcfs-hash
[ -x "$hash_tool" ] || hash_tool=$build/tools/lcfs-hash
for f in "$lcfs" "$hash_tool"; do
  [ -x "$f" ] || { echo "missing $f: build targets lcfs and lcfs-hash first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/lcfs-fsbench-XXXXXX)
mounts=()
pids=()
cleanup() {
  for m in "${mounts[@]}"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { echo "scale=0; $size_mb / ($2 - $1)" | bc; }  # start end
# Larger readahead, as lcfs sets for itself, so the baselines get the same.
tune() { echo 1024 > "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb" 2>/dev/null || true; }
wait_mounted() { for _ in $(seq 500); do mountpoint -q "$1" && return 0; sleep 0.02; done; return 1; }
seq_read() { dd if="$1" of=/dev/null bs=1M status=none; }
drop() { dd if="$1" iflag=nocache count=0 status=none; }  # drop one file's page cache

echo "== preparing $size_mb MiB file and $files small files in $work"
mkdir -p "$work/src" "$work/tree" "$work/mnt" "$work/mnt2" "$work/mnt3"
head -c "${size_mb}M" /dev/urandom > "$work/src/big.bin"
for i in $(seq 1 "$files"); do
  d=$work/tree/d$((i % 100))
  [ -d "$d" ] || mkdir -p "$d"
  echo "file $i" > "$d/f$i"
done
root=$("$hash_tool" "$work/src")
tree_root=$("$hash_tool" "$work/tree")
mounts+=("$work/mnt" "$work/mnt2" "$work/mnt3")

echo "== lcfs: cold read (empty chunk cache, local source)"
"$lcfs" "$root" "$work/mnt" -o "local=$work/src,cache=$work/cache"
t0=$(now); head -c 1 "$work/mnt/big.bin" > /dev/null; t1=$(now)
echo "time to first byte (cold file): $(echo "($t1 - $t0) * 1000" | bc) ms"
t0=$(now); seq_read "$work/mnt/big.bin"; t1=$(now)
echo "lcfs cold sequential read:    $(mbps "$t0" "$t1") MB/s"
fusermount3 -u "$work/mnt"

echo "== warm sequential read of $size_mb MiB (best of 3)"
# "after restart": a fresh mount over a warm chunk cache; lcfs checks each
# cached chunk against its hash the first time a process opens it.
# "steady": the same mount again, with the file's page cache dropped
# (dd iflag=nocache) so every byte goes through FUSE once more.
best=0; best_steady=0
for _ in 1 2 3; do
  "$lcfs" "$root" "$work/mnt" -o "local=$work/src,cache=$work/cache"
  t0=$(now); seq_read "$work/mnt/big.bin"; t1=$(now)
  r=$(mbps "$t0" "$t1"); [ "$r" -gt "$best" ] && best=$r
  drop "$work/mnt/big.bin"
  t0=$(now); seq_read "$work/mnt/big.bin"; t1=$(now)
  r=$(mbps "$t0" "$t1"); [ "$r" -gt "$best_steady" ] && best_steady=$r
  fusermount3 -u "$work/mnt"
done
echo "lcfs warm, after restart:     $best MB/s"
echo "lcfs warm, steady:            $best_steady MB/s"

memfs=$work/memfs
g++ -O2 -std=c++20 $(pkg-config --cflags fuse3) "$here/bench/e2e/memfs.cc" \
  $(pkg-config --libs fuse3) -o "$memfs"
best=0
for _ in 1 2 3; do
  "$memfs" "$work/src/big.bin" "$work/mnt2" & pids+=($!)
  wait_mounted "$work/mnt2"; tune "$work/mnt2"
  seq_read "$work/mnt2/big.bin"; drop "$work/mnt2/big.bin"
  t0=$(now); seq_read "$work/mnt2/big.bin"; t1=$(now)
  fusermount3 -u "$work/mnt2"; wait
  r=$(mbps "$t0" "$t1"); [ "$r" -gt "$best" ] && best=$r
done
echo "memfs (in-memory FUSE), steady: $best MB/s"

if command -v casync > /dev/null; then
  casync make --store="$work/castr" "$work/src.caidx" "$work/src" > /dev/null
  best=0
  for _ in 1 2 3; do
    casync mount --store="$work/castr" "$work/src.caidx" "$work/mnt3" & pids+=($!)
    wait_mounted "$work/mnt3"; tune "$work/mnt3"
    seq_read "$work/mnt3/big.bin"; drop "$work/mnt3/big.bin"
    t0=$(now); seq_read "$work/mnt3/big.bin"; t1=$(now)
    fusermount -u "$work/mnt3" 2>/dev/null || umount "$work/mnt3"; wait
    r=$(mbps "$t0" "$t1"); [ "$r" -gt "$best" ] && best=$r
  done
  echo "casync mount, steady:         $best MB/s"
fi

echo "== ls -lR of $files files"
"$lcfs" "$tree_root" "$work/mnt" -o "local=$work/tree,cache=$work/cache-tree"
t0=$(now); ls -lR "$work/mnt" > /dev/null; t1=$(now)
echo "ls -lR cold (empty cache):    $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
t0=$(now); ls -lR "$work/mnt" > /dev/null; t1=$(now)
echo "ls -lR warm (same mount):     $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
fusermount3 -u "$work/mnt"
"$lcfs" "$tree_root" "$work/mnt" -o "local=$work/tree,cache=$work/cache-tree"
t0=$(now); ls -lR "$work/mnt" > /dev/null; t1=$(now)
echo "ls -lR warm cache, new mount: $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
fusermount3 -u "$work/mnt"
echo "(cold read over the network against lcfs-sync and uftp: not measured by this script yet)"
