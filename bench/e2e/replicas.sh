#!/usr/bin/env bash
# Replicas (docs/protocol.md section 14): what two replicas of one tree send
# for one read, against one exporter alone, and how long a reader stalls
# when the active replica is killed (SIGKILL) mid-read.
#
#   bench/e2e/replicas.sh [BUILD_DIR] [RUNS] [FILE_MIB]
#
# A 3-host virtual LAN (build/tests/lcfs-testbed): exporters on hosts 0 and
# 1 serve one DIR holding a FILE_MIB (default 64) MiB random file; host 2
# reads it with lcfs-sync into a fresh directory. Per run, three reads:
#   one      lcfs-export on host 0 alone;
#   two      replicas on hosts 0 (active) and 1 (standby);
#   kill     the same, host 0 killed once the reader has a quarter of the file.
# Wire bytes are what the exporters say they sent (SIGUSR1: UDP payload plus
# 62 bytes of headers per packet), summed over the exporters alive. The
# stall is the longest time without data arriving at the reader (lan0
# rx_bytes sampled every 10 ms; a sample under 1000 bytes, a hello or an MLD
# report, is no data); "extra" is the kill read's time minus the two read's.
# Medians over RUNS (default 3). Targets: two/one <= 1.3, stall <= 2 s.
# A report, not a test. Needs root and python3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_in_testbed "--hosts 3" tools/lcfs-export tools/lcfs-sync -- "$@"
build=$2 runs=${3:-3} mib=${4:-64}
bench_init "$build" lcfs-replicas
mkdir -p "$work/src"
head -c "$((mib << 20))" /dev/urandom >"$work/src/file"

# The sampler, run in the reader's host: reads lcfs-sync's progress as rx
# bytes of lan0 every 10 ms until $work/stop appears. Once THRESHOLD bytes
# have arrived it kills KILL_PID (SIGKILL; 0: none). Touches READY when it
# runs; prints the longest gap between data, the time from the kill to the
# next data (ms) and the bytes received.
cat >"$work/sample.py" <<'PY'
import os, signal, sys, time
stop, ready, threshold, kill_pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rx():
    with open("/proc/self/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lan0":
                return int(rest.split()[0])
    return 0
start = prev = rx()
since, gap, killed, after_kill = None, 0.0, None, None
open(ready, "w").close()
while not os.path.exists(stop):
    time.sleep(0.01)
    now, v = time.monotonic(), rx()
    if v - prev >= 1000:
        if since is not None:
            gap = max(gap, now - since)
        if killed is not None and after_kill is None:
            after_kill = now - killed
        since = now
    prev = v
    if kill_pid and killed is None and v - start >= threshold:
        os.kill(kill_pid, signal.SIGKILL)
        killed = time.monotonic()
print(f"{gap * 1000:.0f} {(after_kill or 0) * 1000:.0f} {prev - start}")
PY

# start_replica HOST LOGNAME EXPECT: lcfs-export on HOST, waits until its log
# says "replicas: EXPECT"; sets pid.
start_replica() {
  bench_start_until "$1" "$work/$2.hash" "$work/$2.log" "replicas: $3" \
    "$tools/lcfs-export" -i lan0 --no-index-cache --no-watch --mld-query-interval 1s "$work/src"
}
sent() { exporter_wire_bytes "$1" "$2"; }

# read_file [KILL_PID]: lcfs-sync on host 2 into a fresh directory, with the
# sampler, which kills KILL_PID once a quarter of the file has arrived. Sets
# read_s, gap_ms, takeover_ms.
read_file() {
  local kill_pid=${1:-0} root t0 t1 spid rpid _
  root=$(head -1 "$work/a.hash")
  rm -rf "$work/dest" "$work/stop" "$work/ready"
  nsenter --net="$(host_ns 2)" -- python3 "$work/sample.py" "$work/stop" "$work/ready" \
    "$(((mib << 20) / 4))" "$kill_pid" >"$work/sample" &
  spid=$!
  for _ in $(seq 1000); do [[ -e "$work/ready" ]] && break; sleep 0.01; done
  t0=$(now)
  nsenter --net="$(host_ns 2)" -- "$tools/lcfs-sync" -q -i lan0 "$root" "$work/dest" || {
    echo "lcfs-sync failed" >&2
    exit 1
  }
  t1=$(now)
  touch "$work/stop"
  wait "$spid"
  cmp -s "$work/src/file" "$work/dest/file" || { echo "copy differs" >&2; exit 1; }
  read_s=$(echo "$t1 - $t0" | bc -l)
  read -r gap_ms takeover_ms _ <"$work/sample"
}

echo "replicas: ${mib} MiB file, $runs runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
takeovers=() ones=() twos=() ratios=() stalls=() extras=() one_t=() two_t=() kill_t=()
for run in $(seq "$runs"); do
  # One exporter.
  start_replica 0 a active
  a=$pid
  s0=$(sent "$a" "$work/a.log")
  read_file
  one=$(($(sent "$a" "$work/a.log") - s0))
  one_t+=("$read_s")
  bench_stop_pids

  # Two replicas, both alive.
  start_replica 0 a active
  a=$pid
  start_replica 1 b standby
  b=$pid
  s0=$(($(sent "$a" "$work/a.log") + $(sent "$b" "$work/b.log")))
  read_file
  two=$(($(sent "$a" "$work/a.log") + $(sent "$b" "$work/b.log") - s0))
  two_t+=("$read_s")
  bench_stop_pids

  # Two replicas, the active one killed mid-read.
  start_replica 0 a active
  a=$pid
  start_replica 1 b standby
  b=$pid
  read_file "$a"
  kill_t+=("$read_s")
  stalls+=("$gap_ms")
  takeovers+=("$takeover_ms")
  grep -aq "replicas: active" "$work/b.log" || { echo "the standby never took over" >&2; exit 1; }
  bench_stop_pids

  ones+=("$one")
  twos+=("$two")
  ratios+=("$(echo "$two / $one" | bc -l)")
  extras+=("$(echo "${kill_t[-1]} - ${two_t[-1]}" | bc -l)")
  printf 'run %d: one %d B in %.2f s; two %d B (%.3fx) in %.2f s; kill: stall %d ms (kill to data %d ms), read %.2f s\n' \
    "$run" "$one" "${one_t[-1]}" "$two" "${ratios[-1]}" "${two_t[-1]}" "$gap_ms" "$takeover_ms" "${kill_t[-1]}"
done
printf '\nmedians of %d runs (load now %s):\n' "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  wire bytes, one exporter      %12.0f\n' "$(median "${ones[@]}")"
printf '  wire bytes, two replicas      %12.0f   %.3fx one (target <= 1.3x)\n' \
  "$(median "${twos[@]}")" "$(median "${ratios[@]}")"
printf '  read time one / two / kill    %.2f / %.2f / %.2f s\n' \
  "$(median "${one_t[@]}")" "$(median "${two_t[@]}")" "$(median "${kill_t[@]}")"
printf '  stall after killing active    %.0f ms longest gap, %.0f ms from the kill to data (target <= 2000 ms)\n' \
  "$(median "${stalls[@]}")" "$(median "${takeovers[@]}")"
printf '  extra read time from the kill %.2f s (objects in flight sent again)\n' \
  "$(median "${extras[@]}")"
