#!/bin/bash
# Cold sync of one file to 1 and 4 receivers, 0% and 5% loss on the receivers'
# links, lcfs (lcfs-export + lcfs-sync) side by side with uftp/uftpd, on the
# virtual-LAN testbed. Both senders run at the same fixed rate.
#
#   bench/e2e/sync_vs_uftp.sh [BUILD_DIR] [SIZE_MIB] [RATE_MBIT]
#   (defaults: build, 1024, 500; needs root, uftp and uftpd)
#
# Per run: wall time (start of the receivers to the last one done; for uftp
# the whole uftp session, announce and completion included), goodput per
# receiver (file size / wall time), and the bytes the sender's interface
# transmitted per byte of the file (multicast ideal: 1.0 whatever the number
# of receivers; with loss, the repair overhead). Every received copy is
# compared with the original.
set -euo pipefail

if [[ "${1:-}" == "--inner" ]]; then
  # Runs inside lcfs-testbed: host 0 sends, hosts 1..R receive.
  shift
  tool=$1 receivers=$2 loss=$3 file=$4 work=$5 build=$6 rate=$7
  ns() { echo "/run/netns/$(eval echo \$LCFS_TB_NS_$1)"; }
  ll() { eval echo \$LCFS_TB_LL_$1; }
  # /proc/net/dev follows the reader's namespace (/sys would need a remount).
  tx() { nsenter --net="$(ns 0)" awk -F'[: ]+' '$2 == "lan0" { print $11 }' /proc/net/dev; }
  now() { date +%s.%N; }
  size=$(stat -c %s "$file")
  for r in $(seq 1 "$receivers"); do rm -rf "$work/dst$r"; mkdir -p "$work/dst$r"; done
  if [[ $tool == lcfs ]]; then
    rm -f "$work/export.out"
    nsenter --net="$(ns 0)" "$build/tools/lcfs-export" --iface lan0 --no-watch --quiet \
      --rate "${rate}M" --mld-query-interval 1s "$(dirname "$file")" >"$work/export.out" 2>"$work/export.err" &
    exporter=$!
    for _ in $(seq 600); do [[ -s $work/export.out ]] && break; sleep 0.1; done
    hash=$(head -1 "$work/export.out")
    [[ ${#hash} == 64 ]] || { echo "lcfs-export gave no hash: $(cat "$work/export.err")" >&2; kill $exporter; exit 0; }
    tx0=$(tx); t0=$(now)
    pids=()
    for r in $(seq 1 "$receivers"); do
      nsenter --net="$(ns "$r")" "$build/tools/lcfs-sync" --iface lan0 --timeout 30 \
        "$hash" "$work/dst$r" >"$work/sync$r.out" 2>&1 &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { echo "lcfs-sync failed" >&2; cat "$work"/sync*.out >&2; }; done
    t1=$(now); tx1=$(tx)
    kill "$exporter"; wait "$exporter" || true
  else
    pids=()
    for r in $(seq 1 "$receivers"); do
      nsenter --net="$(ns "$r")" uftpd -d -I "$(ll "$r")" -M ff12::1:2 -D "$work/dst$r" \
        -L "$work/uftpd$r.log" &
      pids+=($!)
    done
    sleep 1  # uftpd has no readiness signal; it must be listening before the announce
    tx0=$(tx); t0=$(now)
    nsenter --net="$(ns 0)" uftp -I "$(ll 0)" -M ff12::1:2 -P ff12::1:3 -R $((rate * 1000)) \
      -C none -Y none -x 0 "$file" >"$work/uftp.out" 2>&1 || echo "uftp failed" >&2
    t1=$(now); tx1=$(tx)
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
  ok=yes
  for r in $(seq 1 "$receivers"); do
    got=$(find "$work/dst$r" -type f -name "$(basename "$file")" | head -1)
    [[ -n $got ]] && cmp -s "$got" "$file" || ok=NO
  done
  awk -v tool="$tool" -v r="$receivers" -v l="$loss" -v t0="$t0" -v t1="$t1" -v s="$size" \
      -v tx0="$tx0" -v tx1="$tx1" -v ok="$ok" 'BEGIN {
    wall = t1 - t0;
    printf "%-5s %9d %6s%% %9.2f %12.1f %14.3f %8s\n", tool, r, l, wall, s / wall / 1048576,
           (tx1 - tx0) / s, ok }'
  exit 0
fi

build=$(realpath "${1:-build}")
size_mib=${2:-1024}
rate=${3:-500}
testbed="$build/tests/lcfs-testbed"
for f in "$testbed" "$build/tools/lcfs-export" "$build/tools/lcfs-sync"; do
  [[ -x $f ]] || { echo "missing $f (build it first)" >&2; exit 1; }
done
command -v uftp >/dev/null && command -v uftpd >/dev/null || { echo "needs uftp and uftpd" >&2; exit 1; }

work=$(mktemp -d /tmp/lcfs-bench-sync.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
head -c $((size_mib * 1048576)) /dev/urandom >"$work/src/data"
self=$(realpath "$0")

echo "cold sync of $size_mib MiB at $rate Mbit/s (sender), $(date -u +%FT%TZ)"
printf "%-5s %9s %7s %9s %12s %14s %8s\n" tool receivers loss wall_s "MiB/s/recv" "tx_bytes/byte" correct
for receivers in 1 4; do
  for loss in 0 5; do
    args=(--hosts $((receivers + 1)))
    for r in $(seq 1 "$receivers"); do
      [[ $loss != 0 ]] && args+=(--loss "$r:$loss")
    done
    for tool in lcfs uftp; do
      "$testbed" "${args[@]}" -- "$self" --inner "$tool" "$receivers" "$loss" "$work/src/data" \
        "$work" "$build" "$rate"
    done
  done
done
