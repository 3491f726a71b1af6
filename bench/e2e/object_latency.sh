#!/bin/bash
# Latency of one object that no one is sending yet (issue 12 point 4), on the
# virtual LAN (lcfs-testbed: host 0 exports, host 1 mounts with
# prefetch=none, so each read fetches exactly one chunk on its own).
#
# For each file, one cold read through the mount, timed by the reader, and a
# packet capture on the reader's lan0 (tshark) splits it:
#   read -> report        the read enters the mount until its MLD report
#                         leaves (FUSE, the fetch request, the join)
#   report -> first pkt   the exporter sees the join and sends
#   first -> last pkt     the object's symbols on the wire
#   last pkt -> returns   decode, verify, store in the cache, FUSE reply
# and `perf trace` of the mount's system calls splits the same reads inside
# the mount (its own clock):
#   FUSE request -> fetch submitted   read of /dev/fuse to the eventfd write
#   -> join                           the receive thread wakes, joins
#   -> report                         the prompt MLD report is sent
#   -> first symbol                   first recvmmsg after the report
#   -> decoded+verified               the leave (the fetcher leaves the
#                                     moment the object verifies)
#   -> stored                         the cache file renamed into place
#   -> reply                          the reply written to /dev/fuse
# Prints medians, p10 and p90 per object size, with the load average.
# Not a test: prints figures. Needs root, tshark and perf (without perf, the
# second table is left out).
#
#   bench/e2e/object_latency.sh [BUILD_DIR]   (N=40 reads per size,
#       SIZES="16384 262144" bytes, RATE=1G, GAP=0.3 s between reads;
#       KEEP=DIR keeps the reads, capture and trace there)
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  b=$LCFS_BENCH_BUILD
  . "$(dirname "$0")/lib.sh"
  LCFS_BENCH_TOOLS=$b/tools
  bench_setup lcfs-latency
  bench_mounts+=("$work/mnt")
  mkdir -p "$work/src" "$work/mnt"
  for size in $SIZES; do
    mkdir -p "$work/src/$size"
    for i in $(seq -w 1 "$N"); do head -c "$size" /dev/urandom >"$work/src/$size/f$i"; done
  done
  bench_start_exporter 0 "$work/src" -q -r "$RATE"
  in_host 1 "$b/fs/lcfs" "$root" "$work/mnt" -o "iface=lan0,cache=$work/cache,prefetch=none"
  for size in $SIZES; do ls "$work/mnt/$size" >/dev/null; done # directories: not timed
  nsenter --net="$(host_ns 1)" -- tshark -i lan0 -l -n -f ip6 -T fields -e frame.time_epoch \
    -e ipv6.dst -e icmpv6.type -e icmpv6.mldr.mar.multicast_address >"$work/cap.txt" \
    2>"$work/tshark.log" &
  tshark_pid=$!
  bench_pids+=("$tshark_pid")
  for _ in $(seq 300); do grep -q "Capturing on" "$work/tshark.log" && break; sleep 0.1; done
  # The mount daemonized: its PID is the process mounted on our (unique) path.
  mount_pid=""
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" | grep -q -- " $work/mnt "; then mount_pid=${p#/proc/}; fi
  done 2>/dev/null
  if [[ -n "$mount_pid" ]] && command -v perf >/dev/null; then
    ls -l "/proc/$mount_pid/fd" >"$work/fds.txt"
    perf trace -T -p "$mount_pid" -e read,write,writev,splice,setsockopt,sendto,recvmmsg,rename \
      -o "$work/trace.txt" 2>"$work/perf.log" &
    bench_pids+=("$!")
  fi
  sleep 1
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  # One reader process; each read is a whole file (one chunk), cold.
  python3 - "$work/mnt" "$GAP" $SIZES >"$work/reads.txt" <<'PY'
import os, sys, time
mnt, gap, sizes = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
for size in sizes:
    d = os.path.join(mnt, size)
    for name in sorted(os.listdir(d)):
        fd = os.open(os.path.join(d, name), os.O_RDONLY)
        t0 = time.time()
        n = len(os.read(fd, int(size) + 1))
        t1 = time.time()
        os.close(fd)
        assert n == int(size), (name, n)
        print(size, t0, t1, flush=True)
        time.sleep(gap)  # the previous object's stream and leave are over
PY
  load1=$(cut -d' ' -f1-3 /proc/loadavg)
  sleep 1
  for p in "${bench_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bench_pids=()
  if [[ -n "${KEEP:-}" ]]; then cp "$work"/*.txt "$KEEP"/; fi
  echo "== one cold object through the mount (prefetch=none), exporter rate $RATE, $N reads per size"
  echo "load average before: $load0, after: $load1 ($(nproc) CPUs)"
  python3 - "$work/reads.txt" "$work/cap.txt" <<'PY'
import statistics, sys
reads = [l.split() for l in open(sys.argv[1])]
cap = []
for l in open(sys.argv[2]):
    f = l.rstrip('\n').split('\t') + ['', '', '']
    if f[0]:
        cap.append((float(f[0]), f[1], f[2], f[3]))
names = ["read -> report", "report -> first pkt", "first -> last pkt",
         "last pkt -> returns", "total (reader)", "data packets"]
by_size = {}
for size, t0, t1 in reads:
    t0, t1 = float(t0), float(t1)
    window = [c for c in cap if t0 <= c[0] <= t1]
    reports = [c for c in window if c[2] == '143' and c[3]]
    if not reports:
        by_size.setdefault(size, []).append(None)
        continue
    r = reports[0]
    groups = set(r[3].split(','))
    data = [c for c in window if c[2] == '' and c[1] in groups]
    if not data:
        by_size.setdefault(size, []).append(None)
        continue
    by_size.setdefault(size, []).append(
        ((r[0] - t0) * 1e3, (data[0][0] - r[0]) * 1e3, (data[-1][0] - data[0][0]) * 1e3,
         (t1 - data[-1][0]) * 1e3, (t1 - t0) * 1e3, len(data)))
for size, rows in by_size.items():
    ok = [r for r in rows if r]
    print(f"-- {int(size)} bytes: {len(ok)}/{len(rows)} reads matched a report and packets (ms)")
    if not ok:
        continue
    for i, n in enumerate(names):
        v = sorted(r[i] for r in ok)
        p = lambda q: v[min(len(v) - 1, int(len(v) * q))]
        print(f"  {n:22s} median {statistics.median(v):8.3f}  p10 {p(0.1):8.3f}  p90 {p(0.9):8.3f}")
PY
  [[ -s "$work/trace.txt" ]] || { echo "(no perf trace of the mount: nothing inside it to show)"; exit 0; }
  python3 - "$work/reads.txt" "$work/fds.txt" "$work/trace.txt" <<'PY'
import re, statistics, sys
sizes = {l.split()[0] for l in open(sys.argv[1])}
fuse = eventfd = None
for l in open(sys.argv[2]):
    m = re.search(r" (\d+) -> (.*)$", l)
    if not m:
        continue
    if m.group(2) == "/dev/fuse":
        fuse = m.group(1)
    if m.group(2) == "anon_inode:[eventfd]" and eventfd is None:
        eventfd = m.group(1)  # the fetcher's wake-up (opened first)
ev = []  # (start ms, end ms, thread, call, fd, result)
line = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): \S+?/(\d+) (\w+)\((.*)\)\s+= (-?\w+)")
# A call that blocked is printed twice: "call(args) ..." when it starts,
# then "... [continued]: call()) = ret" with its start time and duration.
started = re.compile(r"^\s*([\d.]+) \(\s*\): \S+?/(\d+) (\w+)\((.*)\)\s+\.\.\.\s*$")
resumed = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): \S+?/(\d+)\s+\.\.\. \[continued\]: (\w+)\(\)\)\s+= (-?\w+)")
open_args = {}
for l in open(sys.argv[3]):
    m = line.match(l)
    if m:
        t, d, tid, call, args, ret = m.groups()
    elif m := started.match(l):
        open_args[m.group(2)] = m.group(4)
        continue
    elif m := resumed.match(l):
        t, d, tid, call, ret = m.groups()
        args = open_args.pop(tid, "")
    else:
        continue
    # splice: libfuse reads requests from /dev/fuse (fd_in) and writes
    # replies to it (fd_out) through a pipe.
    if call == "splice":
        fin, fout = re.search(r"fd_in: (\d+)", args), re.search(r"fd_out: (\d+)", args)
        if fin and fin.group(1) == fuse:
            call, fd = "read", fin
        else:
            call, fd = "write", fout
    else:
        fd = re.match(r"fd: (\d+)", args)
    ev.append((float(t), float(t) + float(d), tid, call, fd.group(1) if fd else "", ret, args))
ev.sort(key=lambda e: e[1])
steps = ["FUSE request -> submitted", "submitted -> join", "join -> report", "report -> first symbol",
         "first symbol -> verified", "verified -> stored", "stored -> reply", "total (in mount)"]
wanted = set(sizes)
rows = {}
# A fetch (prefetch=none: one at a time): a join (MCAST_JOIN_GROUP, 42),
# then its leave (MCAST_LEAVE_GROUP, 45) the moment it verified. Before
# them: the eventfd write that submitted it, and before that the /dev/fuse
# read that brought the request. After them: the cache file written (its
# size names the object's size) and renamed, then the reply.
def after(start, pred):
    return next((x for x in range(start, len(ev)) if pred(ev[x])), None)
def before(end, pred):
    return max((x for x in range(end) if pred(ev[x])), default=None)
for j, e in enumerate(ev):
    if e[3] != "setsockopt" or "optname: 42," not in e[6]:
        continue
    leave = after(j + 1, lambda x: x[3] == "setsockopt" and "optname: 45," in x[6])
    sub = before(j, lambda x: x[3] == "write" and x[4] == eventfd)
    if leave is None or sub is None:
        continue
    req = before(sub, lambda x: x[3] == "read" and x[4] == fuse and x[5] not in ("0", "-1"))
    rep = after(j, lambda x: x[3] == "sendto")
    first = after(j, lambda x: x[3] == "recvmmsg" and x[5].isdigit() and x[5] != "0")
    data = after(leave, lambda x: x[3] == "write" and x[4] not in (eventfd, fuse)
                 and re.search(r"count: (\d+)", x[6]) is not None
                 and re.search(r"count: (\d+)", x[6]).group(1) in wanted)
    stored = after(leave, lambda x: x[3] == "rename" and x[5] == "0")
    reply = after(stored or leave, lambda x: x[3] in ("writev", "write") and x[4] == fuse)
    if None in (req, rep, first, data, stored, reply) or not (j < rep < leave and first < leave):
        continue
    t = [ev[req][1], ev[sub][0], ev[j][1], ev[rep][1], ev[first][1], ev[leave][0], ev[stored][1],
         ev[reply][1]]
    d = [t[n + 1] - t[n] for n in range(len(t) - 1)] + [t[-1] - t[0]]
    rows.setdefault(re.search(r"count: (\d+)", ev[data][6]).group(1), []).append(d)
print("-- inside the mount (perf trace of its system calls; ms)")
for size, rs in rows.items():
    print(f"-- {int(size)} bytes: {len(rs)} fetches")
    for n, name in enumerate(steps):
        v = sorted(r[n] for r in rs)
        p = lambda q: v[min(len(v) - 1, int(len(v) * q))]
        print(f"  {name:26s} median {statistics.median(v):8.3f}  p10 {p(0.1):8.3f}  p90 {p(0.9):8.3f}")
PY
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
export LCFS_BENCH_BUILD=$build N=${N:-40} SIZES=${SIZES:-"16384 262144"} RATE=${RATE:-1G}
export GAP=${GAP:-0.3} KEEP=${KEEP:-}
for f in fs/lcfs tools/lcfs-export tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "missing $build/$f" >&2; exit 1; }
done
command -v tshark >/dev/null || { echo "object_latency.sh needs tshark" >&2; exit 1; }
exec "$build/tests/lcfs-testbed" --hosts 2 -- bash "$here/bench/e2e/object_latency.sh" --inside
