#!/bin/bash
# Cold reads over the network, side by side in one run on the virtual LAN
# (lcfs-testbed: host 0 exports, host 1 receives):
#   - time to first byte of a cold file through an lcfs mount;
#   - cold sequential read of one file through lcfs (empty chunk cache),
#     with the CPU time of the mount and of the exporter over the read;
#   - the same file with lcfs-sync (whole-tree copy), same exporter;
#   - raw multicast (bench/e2e/raw_multicast.cc): the same groups joined the
#     same way, the packets received and dropped (no decode, no hashing, no
#     cache, no FUSE): the reference of issue 12 (target: the mount's cold
#     read at 0.9x of it or more).
# Not a test: prints figures with the load average. Needs root and g++.
#
#   bench/e2e/fs_cold_read.sh [BUILD_DIR]   (SIZE_MB=1024; RATE=100G, i.e.
#                                            unthrottled: the hosts bound it;
#                                            PERF=FILE: perf record (PERF_OPTS,
#                                            default -g) of the
#                                            mount over the cold read)
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  b=$LCFS_BENCH_BUILD
  . "$(dirname "$0")/lib.sh"
  bench_init "$b" lcfs-coldbench
  bench_mounts+=("$work/mnt")
  mkdir -p "$work/src" "$work/mnt" "$work/sync"
  g++ -O2 -std=c++20 -o "$work/raw_multicast" "$(dirname "$0")/raw_multicast.cc"
  head -c "${SIZE_MB}M" /dev/urandom > "$work/src/big.bin"
  # The groups of the file's chunks (docs/protocol.md sections 1, 2 and 6:
  # default 1 MiB chunks, default group flags and scope), in file order.
  python3 - "$work/src/big.bin" >"$work/groups.txt" <<'PY'
import hashlib, ipaddress, sys
with open(sys.argv[1], "rb") as f:
    while chunk := f.read(1 << 20):
        obj = hashlib.sha256(b"\x00" + chunk).digest()
        g = b"\xff\x1e" + hashlib.sha256(b"lcfs-group-v1" + obj).digest()[:14]
        print(ipaddress.IPv6Address(g), len(chunk))
PY
  bench_start_exporter 0 "$work/src" -q -r "$RATE"
  echo "== $SIZE_MB MiB file, exporter rate $RATE, load average $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
  in_host 1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache"
  t0=$(now); head -c 1 "$work/mnt/big.bin" > /dev/null; t1=$(now)
  echo "lcfs time to first byte:   $(echo "($t1 - $t0) * 1000 / 1" | bc) ms"
  umount "$work/mnt"; rm -rf "$work/cache"
  in_host 1 ip link set lo up # for the mount's metrics endpoint
  # In the foreground (-f), so that its CPU time can be read by its PID.
  nsenter --net="$(host_ns 1)" -- "$b/fs/lcfs" "$root" "$work/mnt" -f \
    -o "iface=lan0,cache=$work/cache,metrics=127.0.0.1:9477" &
  mount_pid=$!
  bench_pids+=("$mount_pid")
  for _ in $(seq 600); do mountpoint -q "$work/mnt" && break; sleep 0.1; done
  cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; } # user + system, s (USER_HZ 100)
  m0=$(cpu "$mount_pid"); e0=$(cpu "$exp_pid")
  # PERF=FILE: a call-graph profile of the mount over the read (perf report -i FILE).
  if [[ -n "${PERF:-}" ]]; then
    perf record -q ${PERF_OPTS:--g} -o "$PERF" -p "$mount_pid" 2>/dev/null &
    perf_pid=$!
    bench_pids+=("$perf_pid")
    sleep 0.5 # perf attaches
  fi
  t0=$(now); dd if="$work/mnt/big.bin" of=/dev/null bs=1M status=none; t1=$(now)
  m1=$(cpu "$mount_pid"); e1=$(cpu "$exp_pid")
  if [[ -n "${PERF:-}" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  lcfs_rate=$(echo "$SIZE_MB / ($t1 - $t0)" | bc -l)
  printf 'lcfs cold read:            %.1f MiB/s (%.2f s; CPU: mount %.2f s, exporter %.2f s; load %s)\n' \
    "$lcfs_rate" "$(echo "$t1 - $t0" | bc)" "$(echo "$m1 - $m0" | bc)" "$(echo "$e1 - $e0" | bc)" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  # Where the time goes: packets the mount's receiver lost or got too late
  # (each costs a repair round, and a hold at the exporter), and symbols
  # beyond those needed.
  in_host 1 curl -s 'http://127.0.0.1:9477/metrics' | awk '
    /^lcfs_mount_(received|dropped|late)_packets_total / { v[$1] = $2 }
    /^lcfs_mount_(decoded|discarded)_symbols_total / { v[$1] = $2 }
    END { printf "mount receiver:            %d packets received, %d dropped, %d late; %d symbols decoded, %d discarded\n",
          v["lcfs_mount_received_packets_total"], v["lcfs_mount_dropped_packets_total"],
          v["lcfs_mount_late_packets_total"], v["lcfs_mount_decoded_symbols_total"],
          v["lcfs_mount_discarded_symbols_total"] }'
  echo "exporter (since start):    $(exporter_statistics "$exp_pid" "$work/export.log" |
    grep -E '^(symbols sent|holds|repair round symbols|start delays) ' | paste -sd, -)"
  umount "$work/mnt"
  wait "$mount_pid" 2>/dev/null || true
  t0=$(now); in_host 1 "$b/tools/lcfs-sync" -q -i lan0 "$root" "$work/sync"; t1=$(now)
  printf 'lcfs-sync:                 %.1f MiB/s\n' "$(echo "$SIZE_MB / ($t1 - $t0)" | bc -l)"
  rm -rf "$work/sync" "$work/cache"
  # As many groups joined at once as a sequential read through the mount
  # keeps (its read-ahead window, readahead=32 chunks).
  e0=$(cpu "$exp_pid")
  raw=$(in_host 1 "$work/raw_multicast" lan0 7707 "$RAW_WINDOW" "$work/groups.txt")
  e1=$(cpu "$exp_pid")
  raw_rate=$(echo "$raw" | awk '{ print $10 }')
  printf 'raw multicast:             %.1f MiB/s (%s packets; CPU: exporter %.2f s; load %s)\n' \
    "$raw_rate" "$(echo "$raw" | awk '{ print $6 }')" "$(echo "$e1 - $e0" | bc)" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  printf 'lcfs cold read / raw multicast: %.2fx (target >= 0.9x)\n' "$(echo "$lcfs_rate / $raw_rate" | bc -l)"
  echo "(uftp: not measured yet; it needs IPv6 multicast options on this link-local-only LAN)"
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
export LCFS_BENCH_BUILD=$build PERF=${PERF:-} PERF_OPTS=${PERF_OPTS:-} SIZE_MB=${SIZE_MB:-1024} RATE=${RATE:-100G} RAW_WINDOW=${RAW_WINDOW:-32}
for f in fs/lcfs tools/lcfs-export tools/lcfs-sync tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "missing $build/$f" >&2; exit 1; }
done
command -v g++ >/dev/null || { echo "fs_cold_read.sh needs g++ (raw multicast receiver)" >&2; exit 1; }
exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$here/bench/e2e/fs_cold_read.sh" --inside
