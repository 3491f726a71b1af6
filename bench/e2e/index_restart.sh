#!/bin/bash
# Restart without re-hashing: how long indexing DIR takes with no index
# cache, the first time with one (it is written), and on a restart with an
# unchanged tree (the case of an exporter restarted on the same DIR).
#
#   bench/e2e/index_restart.sh [BUILD_DIR] [DIR] [RUNS]
#
# DIR defaults to /usr/share, RUNS to 5. Uses `lcfs-hash --index-cache`,
# which runs the indexer exactly as lcfs-export does. The page cache is warm
# for every run (DIR is read once first), so "no cache" is the cost of
# hashing from memory, not from disk. Prints, per case, the median wall time
# and the median CPU time (user + system) of RUNS runs: on a loaded machine
# the CPU time is the better estimate of the wall time on an idle one. A
# report, not a test: it never fails on a slow result.
set -eu
BUILD=${1:-build}
DIR=${2:-/usr/share}
RUNS=${3:-5}
HASH="$BUILD/tools/lcfs-hash"
[ -x "$HASH" ] || { echo "no $HASH: build the lcfs-hash target first" >&2; exit 2; }
CACHE=$(mktemp -u /tmp/lcfs-index-restart-XXXXXX)
trap 'rm -f "$CACHE"' EXIT

# One run: prints "wall cpu" in seconds.
run() {
  /usr/bin/time -f "%e %U %S" "$HASH" -q "$@" "$DIR" 2>&1 >/dev/null | tail -1 |
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
report() {  # label, then "wall cpu" lines on stdin
  local lines
  lines=$(cat)
  printf "%-28s wall %6.2f s   cpu %6.2f s   (median of %d)\n" "$1" \
    "$(echo "$lines" | awk '{ print $1 }' | median)" \
    "$(echo "$lines" | awk '{ print $2 }' | median)" "$(echo "$lines" | wc -l)"
}

"$HASH" -q "$DIR" >/dev/null  # warm the page cache
echo "$DIR: $(find "$DIR" -xdev -type f | wc -l) files; load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$RUNS"); do run; done | report "no index cache"
for _ in $(seq "$RUNS"); do rm -f "$CACHE"; run --index-cache="$CACHE"; done |
  report "first run, cache written"
for _ in $(seq "$RUNS"); do run --index-cache="$CACHE"; done | report "restart, tree unchanged"
echo "index cache: $(stat -c %s "$CACHE") bytes"
