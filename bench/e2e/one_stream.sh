#!/usr/bin/env bash
# One stream for any number of readers (issue 11): what lcfs-export sends per
# byte read, on the virtual LAN, tried as a user would: `lcfs-export DIR`
# with defaults (or --rate 1G), a `cat` through an lcfs mount per reader, the
# exporter's bytes counted as Ethernet frames (its SIGUSR1 statistics) from
# before the first read until it falls silent (no active object). Readers
# "at once" start together: each is started, has opened the file through its
# mount and waits at a common gate before the clock starts (gate_read.py);
# what remains between their first reads is the machine waking 16 processes
# and 16 FUSE daemons, not the bench forking them one after another.
#
#   bench/e2e/one_stream.sh [BUILD_DIR]        CASES="1 4 16 1g4 ..." to pick
#   EXPORT_FLAGS=-v ONESTREAM_LOG=FILE ...     keep the exporter's log (per-object
#                                              leaves, newcomers) in FILE
#
# Cases: 1, 4 and 16 readers at once at the default rate (100 Mbit/s) and at
# --rate 1G; 4 readers starting 1 s apart; one reader behind 5% loss among 3
# without; a 20 MB read alone and while another host joins every chunk's
# group (bench/e2e/join_all.py); lcfs-sync of a 200 MB file after a 7-byte
# change (bytes on the wire). Frames alone cost 1514/1412 = 1.07x the file bytes, so 1.07x is one
# stream exactly. "rate ratio" is the lone reader's file bytes, in frames,
# per second over the configured rate. Not a test: prints figures. Needs root.
set -euo pipefail
if [[ "${1:-}" != --inside ]]; then
  here=$(cd "$(dirname "$0")/../.." && pwd)
  build=$(cd "${1:-$here/build}" && pwd)
  for f in fs/lcfs tools/lcfs-export tools/lcfs-sync tests/lcfs-testbed; do
    [[ -x "$build/$f" ]] || { echo "missing $build/$f" >&2; exit 1; }
  done
  # Hosts 1-16 read without loss, host 17 behind 5% loss.
  exec "$build/tests/lcfs-testbed" --hosts 18 --loss 17:5 -- \
    bash "$here/bench/e2e/one_stream.sh" --inside "$build"
fi
b=$2
cases=${CASES:-"1 4 16 1g1 1g4 1g16 stagger loss flood resync"}
. "$(dirname "$0")/lib.sh"
LCFS_BENCH_TOOLS=$b/tools
bench_setup lcfs-onestream
# The exporter's log is kept even when a case fails.
trap '[[ -n "${ONESTREAM_LOG:-}" ]] && cp "$work/export.log" "$ONESTREAM_LOG"; bench_cleanup' EXIT
mkdir -p "$work/src"
for f in one:50 four:100 sixteen:30 stagger:30 loss:50; do
  head -c "${f#*:}M" /dev/urandom >"$work/src/${f%:*}.bin"
done

start_exporter() {  # DIR [options...]: sets exp_pid and root
  bench_start_exporter 0 "$@" ${EXPORT_FLAGS:-}
  # Listeners are tracked once the start-up General Query has been answered
  # (its response delay, 1 s): before that leaves use the RFC timers.
  sleep 2
}
stats() {  # prints "wire_bytes active_objects round_packets newcomer_packets activations"
  exporter_statistics "$exp_pid" "$work/export.log" | awk '{
    v = $NF; k = $0; sub(/ [^ ]*$/, "", k); f[k] = v } END {
    print f["bytes sent"] + f["symbols sent"] * 62, f["active objects"],
          f["repair round symbols"], f["newcomer symbols"], f["objects served"] }'
}
wait_silent() {  # until no object is active (at most 60 s)
  for _ in $(seq 600); do
    read -r _ active _ < <(stats)
    ((active == 0)) && return
    sleep 0.1
  done
  echo "  (exporter still sending after 60 s)"
}
mount_reader() {  # HOST -> prints the mount point
  local m="$work/mnt$1-$RANDOM"
  mkdir -p "$m"
  in_host "$1" "$b/fs/lcfs" "$root" "$m" -o "iface=lan0,cache=$m.cache"
  bench_mounts+=("$m")
  echo "$m"
}
rcvbuf_errors() {  # HOSTS... -> datagrams the readers' kernels dropped (full socket buffers)
  local n=0 h
  for h in "$@"; do
    n=$((n + $(in_host "$h" awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6)))
  done
  echo "$n"
}
report() {  # label file_bytes wire_bytes seconds rate_bps round_packets dropped newcomer activations
  awk -v l="$1" -v f="$2" -v w="$3" -v s="$4" -v r="$5" -v p="$6" -v d="$7" -v c="$8" -v a="$9" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    printf "%-44s %8.2fx  (load %s; %.1f MB sent for %.1f MB, last read done in %.2f s",
           l, w / f, load, w / 1e6, f / 1e6, s
    if (r > 0) printf ", rate ratio %.2f", f * 1514 / 1412 * 8 / s / r
    printf "; repair rounds %.1f MB, newcomers %.1f MB, %d activations, %d datagrams dropped by readers)\n",
      p * 1514 / 1e6, c * 1514 / 1e6, a, d }'
}
readers() {  # label file count delay rate_bps [hosts...]
  local label=$1 file=$2 count=$3 delay=$4 rate=$5; shift 5
  local hosts=("$@")
  ((${#hosts[@]})) || hosts=($(seq 1 "$count"))
  local mnts=() pids=()
  for h in "${hosts[@]}"; do mnts+=("$(mount_reader "$h")"); done
  local size b0 b1 t0 p0 p1 d0 d1 c0 c1 a0 a1
  size=$(stat -c %s "$work/src/$file")
  read -r b0 _ p0 c0 a0 < <(stats)
  d0=$(rcvbuf_errors "${hosts[@]}")
  # Each reader starts, opens the file and waits at a gate (gate_read.py)
  # before the clock starts: readers at once share one gate, opened in one
  # step; readers $delay apart have one each.
  local gates=() g i n
  : >"$work/ready"
  for i in "${!mnts[@]}"; do
    if [[ "$delay" == 0 ]]; then g=$work/gate.0; else g=$work/gate.$i; fi
    if [[ ! -e "$g.held" ]]; then
      exec {n}>"$g"
      flock -x "$n"
      gates+=("$n")
      : >"$g.held"
    fi
    python3 "$(dirname "$0")/gate_read.py" "$g" "${mnts[$i]}/$file" >>"$work/ready" &
    pids+=($!)
  done
  for _ in $(seq 600); do (($(wc -l <"$work/ready") == ${#mnts[@]})) && break; sleep 0.1; done
  rm -f "$work"/gate.*
  t0=$(now)
  for i in "${!gates[@]}"; do
    ((i > 0)) && sleep "$delay"
    # The start. Unlocked, not just closed: the readers inherited the
    # descriptor, and a lock belongs to it until every copy is closed.
    flock -u "${gates[$i]}"
    n=${gates[$i]}
    exec {n}>&-
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local t1; t1=$(now)
  for m in "${mnts[@]}"; do umount "$m"; done
  wait_silent
  read -r b1 _ p1 c1 a1 < <(stats)
  d1=$(rcvbuf_errors "${hosts[@]}")
  report "$label" "$size" "$((b1 - b0))" "$(echo "$t1 - $t0" | bc -l)" "$rate" "$((p1 - p0))" \
    "$((d1 - d0))" "$((c1 - c0))" "$((a1 - a0))"
}

echo "one_stream: $(nproc) CPUs, $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
want() { [[ " $cases " == *" $1 "* ]]; }
if want 1 || want 4 || want 16 || want stagger || want loss; then
  start_exporter "$work/src"
  echo "== lcfs-export DIR (default rate, 100 Mbit/s)"
  want 1 && readers "1 reader, 50 MB" one.bin 1 0 100000000
  want 4 && readers "4 readers at once, 100 MB" four.bin 4 0 0
  want 16 && readers "16 readers at once, 30 MB" sixteen.bin 16 0 0
  want stagger && readers "4 readers 1 s apart, 30 MB" stagger.bin 4 1 0
  want loss && readers "4 readers, one behind 5% loss, 50 MB" loss.bin 4 0 0 1 2 3 17
fi
if want 1g1 || want 1g4 || want 1g16; then
  start_exporter "$work/src" --rate 1G
  echo "== lcfs-export --rate 1G DIR"
  want 1g1 && readers "1 reader, 50 MB" one.bin 1 0 1000000000
  want 1g4 && readers "4 readers at once, 100 MB" four.bin 4 0 0
  want 1g16 && readers "16 readers at once, 30 MB" sixteen.bin 16 0 0
fi
if want flood; then
  # Issue 18 point 5: host 1 reads a 20 MB file alone, then while host 2
  # joins the group of every chunk of the export (300 files beside it) and
  # stays: fair shares per host should leave the reader half the rate.
  mkdir -p "$work/flood/many"
  head -c 20M /dev/urandom >"$work/flood/wanted.bin"
  for i in $(seq 300); do head -c 64K /dev/urandom >"$work/flood/many/$i"; done
  start_exporter "$work/flood"
  echo "== lcfs-export DIR (default rate), 20 MB read alone and under a join-all flood"
  udp_in() {  # HOST -> datagrams its kernel delivered to sockets
    in_host "$1" awk '$1 == "Udp6InDatagrams" { print $2 }' /proc/net/snmp6
  }
  timed_read() {  # LABEL -> seconds for host 1 to read wanted.bin through a fresh mount
    local m t0 t1 b0 b1 p0 p1 u0 u1 d0 d1 s
    m=$(mount_reader 1)
    read -r b0 _ p0 _ < <(stats)
    local tb0 tb1
    tb0=$(now)
    u0=$(udp_in 1)
    d0=$(rcvbuf_errors 1)
    t0=$(now)
    cat "$m/wanted.bin" >/dev/null
    t1=$(now)
    read -r b1 _ p1 _ < <(stats)
    tb1=$(now)
    u1=$(udp_in 1)
    d1=$(rcvbuf_errors 1)
    umount "$m"
    s=$(echo "$t1 - $t0" | bc -l)
    # Where the time goes: the exporter's rate while the reader read, and
    # the datagrams the reader took per symbol of the file.
    awk -v l="$1" -v s="$s" -v sb="$(echo "$tb1 - $tb0" | bc -l)" -v w="$((b1 - b0))" -v u="$((u1 - u0))" -v d="$((d1 - d0))" \
      -v p="$((p1 - p0))" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      printf "  %-8s %.2f s, exporter %.1f Mbit/s (repair rounds %.1f MB), reader took %d datagrams (%.2f per file symbol), %d dropped (load %s)\n",
        l, s, w * 8 / sb / 1e6, p * 1514 / 1e6, u, u / (20971520 / 1412), d, load }' >&2
    echo "$s"
  }
  flooder=""
  start_flood() {  # host 2 joins every chunk's group; waits until all are sent
    nsenter --net="$(host_ns 2)" -- python3 "$(dirname "$0")/join_all.py" "$work/flood" lan0 \
      >"$work/joined" &
    flooder=$!
    bench_pids+=("$flooder")
    for _ in $(seq 300); do [[ -s "$work/joined" ]] && break; sleep 0.1; done
    joined=$(cat "$work/joined")
    for _ in $(seq 300); do
      read -r _ active _ < <(stats)
      ((active >= joined)) && break
      sleep 0.1
    done
  }
  stop_flood() {
    kill "$flooder"
    wait "$flooder" 2>/dev/null || true
    : >"$work/joined"
  }
  # FLOOD_RUNS pairs (3 by default), each a read alone then one under the
  # flood; the figure is the median of the pairs' ratios.
  ratios=()
  for run in $(seq "${FLOOD_RUNS:-3}"); do
    wait_silent
    alone=$(timed_read alone)
    wait_silent
    start_flood
    flooded=$(timed_read flooded)
    stop_flood
    ratios+=("$(printf '%.2f' "$(echo "$alone / $flooded" | bc -l)")")
  done
  awk -v r="$(median "${ratios[@]}")" -v all="${ratios[*]}" -v n="$joined" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    printf "%-44s %8.2f  (load %s; median of %s; another host joins all %d chunks; target >= 0.40)\n",
      "join-all flood: rate under flood / alone", r, load, all, n }'
fi
if want resync; then
  mkdir -p "$work/tree"
  head -c 200M /dev/urandom >"$work/tree/big.bin"
  start_exporter "$work/tree" --rate 1G --no-watch
  echo "== lcfs-sync of a 200 MB file, then again after a 7-byte change"
  in_host 1 "$b/tools/lcfs-sync" -q -i lan0 "$root" "$work/copy"
  printf 'changed' | dd of="$work/tree/big.bin" bs=1 seek=$((100 << 20)) conv=notrunc status=none
  lines=$(wc -l <"$work/hash")
  kill -HUP "$exp_pid"
  for _ in $(seq 600); do (($(wc -l <"$work/hash") > lines)) && break; sleep 0.1; done
  root=$(tail -1 "$work/hash")
  wait_silent
  read -r b0 _ p0 _ < <(stats)
  t0=$(now)
  in_host 1 "$b/tools/lcfs-sync" -q -i lan0 "$root" "$work/copy"
  t1=$(now)
  wait_silent
  read -r b1 _ p1 _ < <(stats)
  cmp -s "$work/tree/big.bin" "$work/copy/big.bin" || echo "  re-synced copy differs!"
  awk -v w="$((b1 - b0))" -v s="$(echo "$t1 - $t0" | bc -l)" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    -v p="$((p1 - p0))" 'BEGIN { printf "%-44s %8.2f MB on the wire in %.2f s (load %s; repair rounds %.2f MB)\n",
      "re-sync after a 7-byte change", w / 1e6, s, load, p * 1514 / 1e6 }'
fi
exit 0
