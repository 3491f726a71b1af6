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
. "$(dirname "$0")/lib.sh"
bench_in_testbed "--hosts 2" tools/lcfs-export -- "$@"
build=$2 size_mib=${3:-256} seconds=${4:-8}
bench_init "$build" lcfs-bench
in0() { in_host 0 "$@"; }
in1() { in_host 1 "$@"; }
mkdir -p "$work/export" "$work/recv"
head -c "$((size_mib << 20))" /dev/urandom >"$work/export/data"

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
  nsenter --net="$(host_ns 0)" -- "$build/tools/lcfs-export" --iface lan0 --rate "$1" --quiet --mld-query-interval 2s \
    "$work/export" >"$work/hash" 2>"$work/export.log" &
  local pid=$!
  bench_pids+=("$pid")
  for _ in $(seq 600); do [[ -s "$work/hash" ]] && break; sleep 0.1; done
  [[ -s "$work/hash" ]] || { cat "$work/export.log"; exit 1; }
  in1 python3 "$work/rx.py" "$work/export/data" "$((seconds + 2))" >"$work/rx.out" &
  local rx=$!
  sleep 1  # joins reach the exporter, the fountains start
  local b0 c0 t0 b1 c1 t1
  b0=$(exporter_wire_bytes "$pid" "$work/export.log") c0=$(cpu_ticks "$pid") t0=$(date +%s.%N)
  sleep "$seconds"
  b1=$(exporter_wire_bytes "$pid" "$work/export.log") c1=$(cpu_ticks "$pid") t1=$(date +%s.%N)
  wait "$rx"
  kill -TERM "$pid"
  wait "$pid" || true
  report "$2" "$((b1 - b0))" "$(echo "$t1 - $t0" | bc -l)" "$(echo "($c1 - $c0) / $hz" | bc -l)"
}

run_uftp() {  # rate_kbps label
  rm -rf "$work/recv"/*
  nsenter --net="$(host_ns 1)" -- uftpd -d -q -x 0 -I "$LCFS_TB_LL_1" -M ff1e::4:4:1 -D "$work/recv" 2>"$work/uftpd.log" &
  local d=$!
  bench_pids+=("$d")
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
