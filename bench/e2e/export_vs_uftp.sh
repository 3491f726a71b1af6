#!/usr/bin/env bash
# Exporter throughput and CPU cost, side by side with uftp, on the testbed.
#
#   bench/e2e/export_vs_uftp.sh [BUILD_DIR] [SIZE_MIB] [SECONDS]
#
# Builds a 2-host virtual LAN (build/tests/lcfs-testbed), makes one file of
# SIZE_MIB (default 256) random bytes, then in the same run:
#   lcfs  lcfs-export in host 0, rate unlimited (--rate 1000G), 1 Gbit/s and
#         100 Mbit/s (the default);
#         a receiver in host 1 joins the groups of the file's chunks (the
#         exporter sends them as endless fountains) for SECONDS (default 8).
#   uftp  uftp in host 0 sends the same file to uftpd in host 1, at
#         -R -1 (as fast as it can), 1 Gbit/s and 100 Mbit/s.
# For each: bytes sent as Ethernet frames (lcfs: from its SIGUSR1 statistics;
# uftp: lan0 tx_bytes), the sender's CPU seconds (user+system), the send rate
# and CPU seconds per GB sent. uftp's time includes its announce/handshake and
# NAK passes. On veth, the sender's CPU time also carries the bridge's and the
# receiver's packet processing when it runs in the sending syscall.
# Needs root, python3, uftp/uftpd (Debian package uftp).
set -euo pipefail
if [[ "${1:-}" != --inside ]]; then
  build=$(realpath "${1:-build}")
  exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$(realpath "$0")" --inside "$build" \
    "${2:-256}" "${3:-8}"
fi
build=$2 size_mib=$3 seconds=$4
ns0=/run/netns/$LCFS_TB_NS_0 ns1=/run/netns/$LCFS_TB_NS_1
in0() { nsenter --net="$ns0" -- "$@"; }
in1() { nsenter --net="$ns1" -- "$@"; }
work=$(mktemp -d /tmp/lcfs-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/export" "$work/recv"
head -c "$((size_mib << 20))" /dev/urandom >"$work/export/data"

# Bytes lcfs-export sent as Ethernet frames, from its SIGUSR1 statistics
# (tx_bytes of a veth counts the headers of a GSO batch only once).
lcfs_wire_bytes() {
  local n
  n=$(grep -c statistics: "$work/export.log" || true)
  kill -USR1 "$1"
  for _ in $(seq 100); do
    (($(grep -c statistics: "$work/export.log" || true) > n)) && break
    sleep 0.01
  done
  grep statistics: "$work/export.log" | tail -n1 |
    sed -E 's/.*symbols sent ([0-9]+), bytes sent ([0-9]+).*/\2 + \1 * 62/' | bc
}
tx_bytes() { in0 awk '$1 == "lan0:" { print $10 }' /proc/net/dev; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
report() {  # name bytes seconds cpu_seconds
  awk -v n="$1" -v b="$2" -v s="$3" -v c="$4" 'BEGIN {
    printf "%-22s %10.1f MB %8.2f s %9.1f Mbit/s %8.2f CPU s %8.2f CPU s/GB\n",
           n, b / 1e6, s, b * 8 / s / 1e6, c, (b > 0 ? c / (b / 1e9) : 0) }'
}

# A receiver that joins the groups of the first 32 chunks and drains them.
cat >"$work/rx.py" <<'PY'
import hashlib, socket, struct, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
chunk, groups = 1 << 20, []
with open(path, "rb") as f:
    while len(groups) < 32:
        data = f.read(chunk)
        if not data:
            break
        h = hashlib.sha256(b"\x00" + data).digest()
        groups.append(b"\xff\x1e" + hashlib.sha256(b"lcfs-group-v1" + h).digest()[:14])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("::", 7707))
ifindex = socket.if_nametoindex("lan0")
for g in groups:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, g + struct.pack("@I", ifindex))
s.settimeout(0.2)
end, got = time.time() + seconds, 0
while time.time() < end:
    try:
        got += len(s.recv(2048))
    except socket.timeout:
        pass
print(got)
PY

echo "file: $size_mib MiB; lcfs window: $seconds s; $(nproc) CPUs"
printf "%-22s %13s %10s %16s %14s %17s\n" sender "sent" "time" "rate" "CPU" "CPU per GB"

run_lcfs() {  # rate label
  # nsenter execs the exporter: $! is the exporter's pid.
  nsenter --net="$ns0" -- "$build/tools/lcfs-export" --iface lan0 --rate "$1" --quiet --mld-query-interval 2s \
    "$work/export" >"$work/hash" 2>"$work/export.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do [[ -s "$work/hash" ]] && break; sleep 0.1; done
  [[ -s "$work/hash" ]] || { cat "$work/export.log"; exit 1; }
  in1 python3 "$work/rx.py" "$work/export/data" "$((seconds + 2))" >"$work/rx.out" &
  local rx=$!
  sleep 1  # joins reach the exporter, the fountains start
  local b0 c0 t0 b1 c1 t1
  b0=$(lcfs_wire_bytes "$pid") c0=$(cpu_ticks "$pid") t0=$(date +%s.%N)
  sleep "$seconds"
  b1=$(lcfs_wire_bytes "$pid") c1=$(cpu_ticks "$pid") t1=$(date +%s.%N)
  wait "$rx"
  kill -TERM "$pid"
  wait "$pid" || true
  report "$2" "$((b1 - b0))" "$(echo "$t1 - $t0" | bc -l)" "$(echo "($c1 - $c0) / $hz" | bc -l)"
}

run_uftp() {  # rate_kbps label
  rm -rf "$work/recv"/*
  nsenter --net="$ns1" -- uftpd -d -q -x 0 -I "$LCFS_TB_LL_1" -M ff1e::4:4:1 -D "$work/recv" 2>"$work/uftpd.log" &
  local d=$!
  pids+=("$d")
  sleep 0.5
  local b0 b1
  b0=$(tx_bytes)
  in0 /usr/bin/time -f "%e %U %S" -o "$work/time" \
    uftp -I "$LCFS_TB_LL_0" -M ff1e::4:4:1 -P ff1e::5:5:1 -R "$1" -Y none -x 0 -q "$work/export/data" \
    >"$work/uftp.log" 2>&1 || { tail -5 "$work/uftp.log"; }
  b1=$(tx_bytes)
  kill "$d" 2>/dev/null || true
  wait "$d" 2>/dev/null || true
  cmp -s "$work/export/data" "$work/recv/data" || echo "uftp: received file differs or is missing"
  read -r elapsed user sys <"$work/time"
  report "$2" "$((b1 - b0))" "$elapsed" "$(echo "$user + $sys" | bc -l)"
}

run_lcfs 1000G "lcfs-export unlimited"
run_lcfs 1G "lcfs-export 1 Gbit/s"
run_lcfs 100M "lcfs-export 100 Mbit/s"
run_uftp -1 "uftp -R -1"
run_uftp 1000000 "uftp 1 Gbit/s"
run_uftp 100000 "uftp 100 Mbit/s"
