#!/bin/bash
# Indexing throughput against sha256sum over the same data, from page cache.
#
#   bench/e2e/index_vs_sha256sum.sh [BUILD_DIR] [WORK_DIR]
#
# Creates WORK_DIR (default /tmp/lcfs-index-bench) with a 1 GiB file and a
# tree of 10,000 small files (1..16 KiB), reads everything once so it is in
# page cache, then times `sha256sum` (one process, one core) and `lcfs-hash`
# with 1 and 2 threads on each data set, best of 3 runs. Prints MB/s and the
# ratio to sha256sum. A report, not a test: it never fails on a slow result.
set -eu
BUILD=${1:-build}
WORK=${2:-/tmp/lcfs-index-bench}
HASH="$BUILD/tools/lcfs-hash"
[ -x "$HASH" ] || { echo "no $HASH: build the lcfs-hash target first" >&2; exit 2; }
command -v sha256sum >/dev/null || { echo "sha256sum not found" >&2; exit 2; }

mkdir -p "$WORK"
if [ ! -f "$WORK/big.bin" ] || [ "$(stat -c %s "$WORK/big.bin")" != 1073741824 ]; then
  echo "creating $WORK/big.bin (1 GiB)" >&2
  head -c 1073741824 /dev/urandom > "$WORK/big.bin"
fi
if [ ! -f "$WORK/small/.done" ]; then
  echo "creating $WORK/small (10,000 files)" >&2
  rm -rf "$WORK/small"
  i=0
  while [ $i -lt 100 ]; do
    mkdir -p "$WORK/small/d$i"
    i=$((i + 1))
  done
  # 10,000 files of 1..16 KiB, 100 per directory, from one random stream.
  python3 - "$WORK/small" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(1)
data = os.urandom(16384 * 64)
for n in range(10000):
    size = rnd.randint(1024, 16384)
    off = rnd.randint(0, len(data) - size)
    with open(os.path.join(root, "d%d" % (n % 100), "f%d" % n), "wb") as f:
        f.write(data[off:off + size])
PY
  touch "$WORK/small/.done"
fi
SMALL_FILES=$(find "$WORK/small" -type f -name 'f*' | sort)
BIG_BYTES=$(stat -c %s "$WORK/big.bin")
SMALL_BYTES=$(find "$WORK/small" -type f -name 'f*' -printf '%s\n' | awk '{s+=$1} END {print s}')

# Warm the page cache.
cat "$WORK/big.bin" > /dev/null
echo "$SMALL_FILES" | xargs cat > /dev/null

# best_of CMD...: "wall cpu" seconds of the run with the fastest wall time
# out of 3 (cpu = user + system, children included). On a shared machine
# wall time depends on the load; CPU time shows the work done.
best_of() {
  local best="" cpu="" t w u s
  for _ in 1 2 3; do
    t=$( { TIMEFORMAT="%R %U %S"; time "$@" > /dev/null 2>&1; } 2>&1 )
    read -r w u s <<< "$t"
    if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then
      best=$w
      cpu=$(echo "$u + $s" | bc -l)
    fi
  done
  echo "$best $cpu"
}
sha_small() { echo "$SMALL_FILES" | xargs sha256sum; }

report() {  # name bytes "wall cpu" "reference_wall reference_cpu"
  read -r wall cpu <<< "$3"
  read -r ref_wall _ <<< "$4"
  printf '  %-24s %7.3f s wall %7.3f s cpu %8.1f MB/s %6.2fx sha256sum\n' "$1" "$wall" "$cpu" \
    "$(echo "$2 / $wall / 1000000" | bc -l)" "$(echo "$ref_wall / $wall" | bc -l)"
}

echo "load: $(cut -d" " -f1-3 /proc/loadavg)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "sha256sum: $(sha256sum --version | head -1)"
echo "lcfs-hash: chunk size 1 MiB (default)"
for set in big small; do
  if [ $set = big ]; then
    bytes=$BIG_BYTES
    ref=$(best_of sha256sum "$WORK/big.bin")
    one=$(best_of "$HASH" -q -j1 "$WORK/big.bin")
    two=$(best_of "$HASH" -q -j2 "$WORK/big.bin")
    echo "1 GiB file ($bytes bytes):"
  else
    bytes=$SMALL_BYTES
    ref=$(best_of sha_small)
    one=$(best_of "$HASH" -q -j1 "$WORK/small")
    two=$(best_of "$HASH" -q -j2 "$WORK/small")
    echo "10,000 small files ($bytes bytes):"
  fi
  report "sha256sum" "$bytes" "$ref" "$ref"
  report "lcfs-hash --threads 1" "$bytes" "$one" "$ref"
  report "lcfs-hash --threads 2" "$bytes" "$two" "$ref"
done
echo "(data left in $WORK; remove it with rm -rf $WORK)"
