#!/usr/bin/env bash
# Relays (docs/protocol.md section 15): a cold read of one file by 4 readers
# behind a caching relay against 4 readers on the exporter's own link, and
# the time to the first byte through none, one and two relays.
#
#   bench/e2e/relay.sh [BUILD_DIR] [FILE_MIB] [RUNS]
#
# A 12-host testbed of three LANs (build/tests/lcfs-testbed):
#   LAN 0: host 0 exporter (lcfs-export --rate 1G), hosts 2-5 local readers,
#          host 1 relay (lan0 upstream, lan1 on LAN 1; --serve-rate 1G, as
#          the exporter's rate);
#   LAN 1: hosts 6-9 readers behind the relay, host 10 a second relay
#          (lan0 upstream, lan1 on LAN 2);
#   LAN 2: host 11, a reader behind two relays.
# Per run: (a) the 4 local readers read a FILE_MIB (default 256) MiB random
# file at once with lcfs-sync; (b) with a fresh exporter and the relay's
# cache empty, the 4 readers behind the relay do the same. Reported: the
# time until all 4 are done; the bytes on the exporter's link (exporter's
# wire bytes, SIGUSR1: UDP payload + 62 per packet) and on the readers'
# link (the relay's lan1 tx_bytes); the relay's CPU seconds (user+system).
# Then the time to the first byte: lcfs-sync of a fresh tree whose one file
# is inline in the root directory (one object, one round trip) from host 2
# (the exporter's link), 6 (one relay) and 11 (two relays).
# Also the relay's own counters against its interfaces' packet counters
# (veths count a GSO batch as one packet). Medians over RUNS (default 3).
# A report, not a test. Needs root.
set -euo pipefail
if [[ "${1:-}" != --inside ]]; then
  build=$(realpath "${1:-build}")
  for f in tools/lcfs-export tools/lcfs-sync tools/lcfs-relay tests/lcfs-testbed; do
    [[ -x "$build/$f" ]] || { echo "no $build/$f: build it first" >&2; exit 2; }
  done
  args=(--hosts 12 --lans 3 --link 1:1 --lan 6:1 --lan 7:1 --lan 8:1 --lan 9:1
        --lan 10:1 --link 10:2 --lan 11:2)
  exec "$build/tests/lcfs-testbed" "${args[@]}" -- bash "$(realpath "$0")" --inside "$build" \
    "${2:-256}" "${3:-3}"
fi
build=$2 mib=$3 runs=$4
LCFS_BENCH_TOOLS=$build/tools
tools=$build/tools
. "$(dirname "$0")/lib.sh"
bench_setup lcfs-relay
mkdir -p "$work/src" "$work/tiny"
head -c "$((mib << 20))" /dev/urandom >"$work/src/file"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
counter() { in_host "$1" awk -v i="$2:" -v f="$3" '$1 == i { print $f }' /proc/net/dev; }
tx_bytes() { counter "$1" "$2" 10; }
rx_packets() { counter "$1" "$2" 3; }
tx_packets() { counter "$1" "$2" 11; }
# UDP datagrams host N's kernel dropped because a socket's receive buffer
# was full (all sockets of the namespace).
rcvbuf_errors() { in_host "$1" awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6; }

# start_relay HOST NAME [OPTIONS...]: lcfs-relay lan0 -> lan1 on HOST, log in
# $work/NAME.log, waits until it serves; sets pid.
start_relay() {
  local host=$1 name=$2
  shift 2
  bench_start_until "$host" /dev/null "$work/$name.log" "lcfs-relay: active" \
    "$tools/lcfs-relay" -u lan0 -d lan1 --mld-query-interval 1s "$@"
}

# A reader failed: the relay's counters and log, if one runs.
read_failed() {
  echo "lcfs-sync failed" >&2
  [[ -n "${relay:-}" ]] && kill "$relay" 2>/dev/null && wait "$relay" 2>/dev/null
  [[ -s "$work/relay1.log" ]] && tail -n 20 "$work/relay1.log" >&2
  return 0
}

# read4 FIRST_HOST: lcfs-sync on hosts FIRST..FIRST+3 at once; sets read_s.
read4() {
  local first=$1 t0 h pids=()
  rm -rf "$work"/dst*
  t0=$(now)
  for h in $(seq "$first" $((first + 3))); do
    nsenter --net="$(host_ns "$h")" -- "$tools/lcfs-sync" -q -i lan0 --timeout 60 "$root" "$work/dst$h" &
    pids+=($!)
  done
  for h in "${pids[@]}"; do wait "$h" || { read_failed; exit 1; }; done
  read_s=$(echo "$(now) - $t0" | bc -l)
  for h in $(seq "$first" $((first + 3))); do
    cmp -s "$work/src/file" "$work/dst$h/file" || { echo "copy on host $h differs" >&2; exit 1; }
  done
}

# ttfb HOST: time of lcfs-sync of the tiny tree (the root directory only).
ttfb() {
  local t0
  rm -rf "$work/tdst"
  t0=$(now)
  in_host "$1" "$tools/lcfs-sync" -q -i lan0 --timeout 30 "$root" "$work/tdst"
  echo "$(now) - $t0" | bc -l
}

echo "relay: ${mib} MiB file, 4 readers, $runs runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
lt=() lb=() rt=() rup=() rdown=() rcpu=() t0s=() t1s=() t2s=()
for run in $(seq "$runs"); do
  # (a) 4 readers on the exporter's link.
  bench_start_exporter 0 "$work/src" --rate 1G --no-watch --mld-query-interval 1s
  s0=$(exporter_wire_bytes "$exp_pid" "$work/export.log")
  read4 2
  lt+=("$read_s")
  lb+=($(($(exporter_wire_bytes "$exp_pid" "$work/export.log") - s0)))

  # (b) 4 readers behind a relay with an empty cache.
  bench_start_exporter 0 "$work/src" --rate 1G --no-watch --mld-query-interval 1s
  rm -rf "$work/cache"
  start_relay 1 relay1 --cache "$work/cache" --serve-rate 1G
  relay=$pid
  s0=$(exporter_wire_bytes "$exp_pid" "$work/export.log")
  d0=$(tx_bytes 1 lan1) c0=$(cpu_ticks "$relay")
  rx0=$(rx_packets 1 lan0) tx0=$(tx_packets 1 lan1)
  q0=$(rcvbuf_errors 1) r0=0
  for h in 6 7 8 9; do r0=$((r0 + $(rcvbuf_errors $h))); done
  read4 6
  rt+=("$read_s")
  rup+=($(($(exporter_wire_bytes "$exp_pid" "$work/export.log") - s0)))
  rdown+=($(($(tx_bytes 1 lan1) - d0)))
  rcpu+=("$(echo "($(cpu_ticks "$relay") - $c0) / $(getconf CLK_TCK)" | bc -l)")
  rxp=$(($(rx_packets 1 lan0) - rx0)) txp=$(($(tx_packets 1 lan1) - tx0))
  q1=$(($(rcvbuf_errors 1) - q0)) r1=0
  for h in 6 7 8 9; do r1=$((r1 + $(rcvbuf_errors $h))); done
  r1=$((r1 - r0))
  kill "$relay"
  wait "$relay" 2>/dev/null || true
  bench_pids=()
  counters=$(grep -a 'lcfs-relay: received' "$work/relay1.log" | tail -1)
  printf 'run %d: local %.2f s, exporter sent %d B (%.2fx file); behind relay %.2f s, upstream %d B (%.2fx), downstream %d B (%.2fx), relay CPU %.2f s\n' \
    "$run" "${lt[-1]}" "${lb[-1]}" "$(echo "${lb[-1]} / ($mib * 1048576)" | bc -l)" \
    "${rt[-1]}" "${rup[-1]}" "$(echo "${rup[-1]} / ($mib * 1048576)" | bc -l)" \
    "${rdown[-1]}" "$(echo "${rdown[-1]} / ($mib * 1048576)" | bc -l)" "${rcpu[-1]}"
  printf '  relay interfaces: lan0 rx_packets %d, lan1 tx_packets %d; receive buffers full: relay %d, its 4 readers %d datagrams; relay%s\n' \
    "$rxp" "$txp" "$q1" "$r1" "${counters#lcfs-relay:}"

  # Time to the first byte: a fresh tiny tree, relays without caches.
  rm -rf "$work/tiny" && mkdir -p "$work/tiny" && head -c 100 /dev/urandom >"$work/tiny/f$run"
  bench_start_exporter 0 "$work/tiny" --rate 1G --no-watch --mld-query-interval 1s
  start_relay 1 ttfb1
  start_relay 10 ttfb2
  t0s+=("$(ttfb 2)")
  t1s+=("$(ttfb 6)")
  rm -rf "$work/tiny" && mkdir -p "$work/tiny" && head -c 100 /dev/urandom >"$work/tiny/g$run"
  bench_start_exporter 0 "$work/tiny" --rate 1G --no-watch --mld-query-interval 1s
  t2s+=("$(ttfb 11)")
  bench_stop_pids
  printf '  time to first byte: %.3f s on the link, %.3f s through one relay, %.3f s through two\n' \
    "${t0s[-1]}" "${t1s[-1]}" "${t2s[-1]}"
done
file=$((mib << 20))
printf '\nmedians of %d runs (load now %s):\n' "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  4 readers on the exporter link  %.2f s, exporter sent %.0f B (%.2fx file)\n' \
  "$(median "${lt[@]}")" "$(median "${lb[@]}")" "$(echo "$(median "${lb[@]}") / $file" | bc -l)"
printf '  4 readers behind a relay        %.2f s, upstream %.0f B (%.2fx), downstream %.0f B (%.2fx), relay CPU %.2f s\n' \
  "$(median "${rt[@]}")" "$(median "${rup[@]}")" "$(echo "$(median "${rup[@]}") / $file" | bc -l)" \
  "$(median "${rdown[@]}")" "$(echo "$(median "${rdown[@]}") / $file" | bc -l)" "$(median "${rcpu[@]}")"
printf '  time to first byte              %.3f s on the link, %.3f s one relay, %.3f s two relays\n' \
  "$(median "${t0s[@]}")" "$(median "${t1s[@]}")" "$(median "${t2s[@]}")"
