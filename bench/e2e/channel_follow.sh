#!/usr/bin/env bash
# Channels: how soon a change in the exporter's DIR is readable on a reader
# following the CHANNEL, and what the announcements cost on the wire.
#
#   bench/e2e/channel_follow.sh [BUILD_DIR] [ROUNDS] [FILE_KIB]
#
# A 2-host virtual LAN (build/tests/lcfs-testbed). Host 0 runs
# `lcfs-export --sign KEY DIR` with its defaults (settle 1 s, announce every
# 2 s). Host 1 runs, side by side:
#   channel  lcfs-sync --follow CHANNEL DEST1 (learns each root from the
#            signed records);
#   hash     the reference without channels: a watcher reads each new HASH
#            the exporter prints and runs lcfs-sync HASH DEST2 (the HASH
#            handed over out of band, instantly).
# Each round rewrites DIR/f (FILE_KIB random KiB, default 256, plus a token)
# and times until DEST1/f and DEST2/f hold the token; medians over ROUNDS
# (default 5). Meanwhile a listener in host 1 joined to the channel group
# counts the announcement datagrams: bytes per minute (UDP payload, and on
# the wire with IPv6 + UDP + Ethernet headers, 62 bytes each).
# Needs root and python3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_in_testbed "--hosts 2" tools/lcfs-export tools/lcfs-sync tools/lcfs-keygen -- "$@"
rounds=${3:-5} kib=${4:-256}
bench_init "$2" lcfs-bench
in1() { in_host 1 "$@"; }
mkdir -p "$work/src" "$work/d1" "$work/d2" "$work/state"
write_f() { { head -c "$((kib << 10))" /dev/urandom; echo "$1"; } >"$work/src/f.tmp"; mv "$work/src/f.tmp" "$work/src/f"; }
write_f token-0
channel=$("$tools/lcfs-keygen" "$work/key")

# The listener: counts datagrams on the channel's group for SECONDS.
listen_secs=30
cat >"$work/listen.py" <<'PY'
import base64, hashlib, socket, struct, sys, time
name, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
key = base64.b32decode(name[5:].upper())[:32]
group = b"\xff\x1e" + hashlib.sha256(b"lcfs-channel-group-v1" + key).digest()[:14]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 7707))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             group + struct.pack("@I", socket.if_nametoindex("lan0")))
s.setsockopt(socket.IPPROTO_IPV6, 29, 0)  # IPV6_MULTICAST_ALL off: only our group
start, n, size = time.monotonic(), 0, 0
while (left := start + seconds - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        d = s.recv(2048)
    except socket.timeout:
        break
    if len(d) == 156 and d[:4] == b"LC\x01\x02":  # a channel record (protocol.md 11.3)
        n, size = n + 1, size + len(d)
with open(out, "w") as f:
    f.write(f"{n} {size} {seconds}\n")
PY
nsenter --net="$(host_ns 1)" -- python3 "$work/listen.py" "$channel" "$listen_secs" "$work/listen.out" &
listener=$!

nsenter --net="$(host_ns 0)" -- "$tools/lcfs-export" --iface lan0 --no-index-cache --sign "$work/key" --quiet "$work/src" >"$work/hashes" \
  2>"$work/export.log" &
bench_pids+=($!)
nsenter --net="$(host_ns 1)" -- "$tools/lcfs-sync" --iface lan0 --state "$work/state" --follow -q "$channel" "$work/d1" \
  >/dev/null 2>"$work/sync1.log" &
bench_pids+=($!)
# The reference: sync each HASH as soon as the exporter prints it.
(tail -n +1 -F "$work/hashes" 2>/dev/null | while read -r h; do
  in1 "$tools/lcfs-sync" --iface lan0 -q "$h" "$work/d2" >/dev/null 2>>"$work/sync2.log" || true
done) &
bench_pids+=($!)

has() { [[ -f $1 ]] && [[ "$(tail -c 20 "$1" 2>/dev/null)" == *"$2"* ]]; }
for _ in $(seq 3000); do has "$work/d1/f" token-0 && has "$work/d2/f" token-0 && break; sleep 0.01; done
has "$work/d1/f" token-0 || { echo "channel follower never synced" >&2; cat "$work"/*.log >&2; exit 1; }

t1=() t2=()
for r in $(seq "$rounds"); do
  tok=token-$r
  start=$(now)
  write_f "$tok"
  d1="" d2=""
  for _ in $(seq 6000); do
    [[ -z $d1 ]] && has "$work/d1/f" "$tok" && d1=$(echo "$(now) - $start" | bc)
    [[ -z $d2 ]] && has "$work/d2/f" "$tok" && d2=$(echo "$(now) - $start" | bc)
    [[ -n $d1 && -n $d2 ]] && break
    sleep 0.01
  done
  printf "round %d: channel %.2f s, hash %.2f s\n" "$r" "${d1:-nan}" "${d2:-nan}"
  t1+=("${d1:-999}") t2+=("${d2:-999}")
  sleep 1
done
m1=$(median "${t1[@]}") m2=$(median "${t2[@]}")
printf "change -> readable, median of %d (settle 1 s): channel %.2f s, hash handed over %.2f s, ratio %.2f\n" \
  "$rounds" "$m1" "$m2" "$(echo "$m1 / $m2" | bc -l)"

wait "$listener"  # ends by itself after $listen_secs s
read -r n bytes secs <"$work/listen.out"
awk -v n="$n" -v b="$bytes" -v s="$secs" 'BEGIN {
  printf "announcements: %d datagrams (%d bytes) in %.1f s: %.0f datagrams/min, %.0f bytes/min UDP payload, %.0f bytes/min on the wire\n",
         n, b, s, n * 60 / s, b * 60 / s, (b + n * 62) * 60 / s }'
