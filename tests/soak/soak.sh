#!/bin/bash
# Soak test (issue 14 point 5): lcfs under a steady read load while its
# processes are killed, checked for wrong bytes, stuck processes, corrupt
# caches and memory growth.
#
# On a virtual LAN of five hosts (docs/testbed.md): host 0 exports a
# generated tree; hosts 1-4 each mount it and run one reader (reader.py) that
# reads random files at random offsets and compares every byte with the
# source; host 4 receives behind 10% packet loss. Meanwhile:
#   - every 60 s the exporter is killed (SIGKILL) and restarted on the same
#     directory (it must publish the same root);
#   - every 90 s the mount of host 2 is killed (SIGKILL), lazily unmounted and
#     mounted again on its cache.
# At the end it fails unless: no reader ever read a wrong byte; every reader
# whose mount was not killed read without error and made progress; every
# reader stopped when asked (none stuck in the kernel, D state); every chunk
# cache passes `lcfs-cache check`; and, in runs of 5 minutes or more, the
# resident memory of each mount that lived through the whole run grew less
# than 10% after its first minute (medians of per-second samples: the
# second minute against the last). The memory of every process (VmRSS,
# threads, anonymous and private dirty pages) is sampled every second, and
# every 10 s each mount's heap as malloc sees it (in use, held free: its
# metrics endpoint), to tell a leak from fragmentation from threads; all
# are reported at the end, for the second minute and the last, with the
# mount's chunk buffers (fs/object_source_factory.h: a fixed pool; any
# allocated beyond it means more objects were in flight than it holds).
#
#   tests/soak/soak.sh [--duration SECONDS] [--tree-mb MB] [--rate RATE] [BUILD_DIR]
#
# Defaults: 600 s, a 1024 MB tree, --rate 200M. CI runs it for 120 s on a
# 128 MB tree (tests/CMakeLists.txt). Needs root (exit 77 = skipped).
set -euo pipefail

if [ "${1:-}" = --inside ]; then
  b=$SOAK_BUILD
  here=$SOAK_SOURCE
  work=$(mktemp -d /tmp/lcfs-soak-XXXXXX)
  exp_pid=""
  declare -A mount_pid=() reader_pid=()
  log() { echo "soak [$(($(date +%s) - ${t0:-$(date +%s)}))s] $*"; }
  # The network namespace of host $1 (run programs there with nsenter
  # directly, never through a shell function: a backgrounded function is a
  # subshell, and its $! would not be the program's PID).
  netns() {
    local v="LCFS_TB_NS_$1"
    echo "/run/netns/${!v}"
  }
  cleanup() {
    touch "$work/stop" 2> /dev/null || true
    for p in "${reader_pid[@]}"; do kill "$p" 2> /dev/null || true; done
    for h in "${!mount_pid[@]}"; do
      kill "${mount_pid[$h]}" 2> /dev/null || true
      umount -l "$work/mnt$h" 2> /dev/null || true
    done
    [ -n "$exp_pid" ] && kill -KILL "$exp_pid" 2> /dev/null
    wait 2> /dev/null || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  trap 'exit 143' TERM INT HUP # so that the EXIT trap cleans up

  # Waits up to $1 seconds for the command that follows to succeed.
  wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
      (($(date +%s) < deadline)) || return 1
      sleep 0.1
    done
  }

  # A tree like a software distribution: many small files in directories,
  # some medium ones, a few large ones (deterministic contents).
  python3 - "$work/src" "$SOAK_TREE_MB" << 'EOF'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2]) << 20
rng = random.Random(14)
left = total
def write(path, size):
    global left
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))
    left -= size
for d in range(20):
    for i in range(50):
        write(f"{root}/small/d{d:02}/f{i:03}", rng.randrange(0, 64 << 10))
for i in range(40):
    write(f"{root}/medium/m{i:02}", rng.randrange(1 << 20, 4 << 20))
n = 0
while left > 0:
    write(f"{root}/large/l{n:02}", min(left, 64 << 20))
    n += 1
EOF

  start_exporter() {
    : > "$work/hash"
    # nsenter execs the exporter: $! is the exporter itself.
    nsenter --net="$(netns 0)" "$b/tools/lcfs-export" -q -i lan0 -r "$SOAK_RATE" "$work/src" \
      > "$work/hash" 2>> "$work/export.log" &
    exp_pid=$!
    wait_for 300 test -s "$work/hash" || {
      log "exporter printed no HASH"
      exit 1
    }
  }
  start_mount() {
    local h=$1
    mkdir -p "$work/mnt$h"
    # -f: the daemon stays the process we started, so we know its PID.
    # cache_size: a quarter of the tree, so objects keep being evicted and
    # fetched again while the exporter and mounts are killed.
    nsenter --net="$(netns "$h")" "$b/fs/lcfs" "$root" "$work/mnt$h" -f \
      -o "iface=lan0,cache=$work/cache$h,cache_size=$((SOAK_TREE_MB / 4))M,metrics=127.0.0.1:9465" \
      2>> "$work/mount$h.log" &
    mount_pid[$h]=$!
    wait_for 60 mountpoint -q "$work/mnt$h" || {
      log "host $h: mount did not appear"
      exit 1
    }
  }
  rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null || echo 0; }
  # One memory sample of process $2 (named $1) into mem.tsv: "elapsed name
  # VmRSS threads Anonymous Private_Dirty" (kB; smaps_rollup tells what the
  # heap and stacks hold from the pages of mapped files). Nothing if it is
  # gone. Bash only: no fork per sample on a loaded machine.
  sample() {
    local k v rest rss=0 threads=0 anon=0 dirty=0
    { while read -r k v rest; do
      case $k in VmRSS:) rss=$v ;; Threads:) threads=$v ;; esac
    done < "/proc/$2/status"; } 2> /dev/null || return 0
    { while read -r k v rest; do
      case $k in Anonymous:) anon=$v ;; Private_Dirty:) dirty=$v ;; esac
    done < "/proc/$2/smaps_rollup"; } 2> /dev/null || true
    ((rss > 0)) && echo "$now $1 $rss $threads $anon $dirty" >> "$work/mem.tsv"
    return 0
  }

  # The heap of mount $1 as malloc sees it, from its metrics endpoint (on
  # loopback in its host's namespace), into heap.tsv: "elapsed mountN
  # in_use free mmapped threads buffers takes allocations" (kB, kB, kB, then
  # counts: the chunk buffer pool's size, objects decoded into its buffers,
  # buffers allocated, the pool's own included). One fork per sample.
  heap_sample() {
    local out k v in_use="" free=0 mmapped=0 threads=0 buffers=0 takes=0 allocs=0
    out=$(nsenter --net="$(netns "$1")" bash -c 'exec 3<> /dev/tcp/127.0.0.1/9465 &&
      printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && while IFS= read -r l <&3; do echo "$l"; done' \
      2> /dev/null) || return 0
    while read -r k v; do
      case $k in
        lcfs_mount_heap_in_use_bytes) in_use=${v%.*} ;;
        lcfs_mount_heap_free_bytes) free=${v%.*} ;;
        lcfs_mount_heap_mmapped_bytes) mmapped=${v%.*} ;;
        lcfs_mount_threads) threads=${v%.*} ;;
        lcfs_mount_buffers) buffers=${v%.*} ;;
        lcfs_mount_buffer_takes_total) takes=${v%.*} ;;
        lcfs_mount_buffer_allocations_total) allocs=${v%.*} ;;
      esac
    done <<< "$out"
    [ -n "$in_use" ] && echo "$now mount$1 $((in_use >> 10)) $((free >> 10)) $((mmapped >> 10)) $threads $buffers $takes $allocs" >> "$work/heap.tsv"
    return 0
  }

  t0=$(date +%s)
  log "tree: $(du -sm "$work/src" | cut -f1) MB, $(find "$work/src" -type f | wc -l) files"
  start_exporter
  root=$(head -1 "$work/hash")
  log "exporter up, root $root"
  for h in 1 2 3 4; do start_mount "$h"; done
  for h in 1 2 3 4; do
    python3 "$here/tests/soak/reader.py" "$work/mnt$h" "$work/src" "$work/stop" \
      "$work/report$h" --seed "$h" &
    reader_pid[$h]=$!
  done
  log "4 mounts, 4 readers running for ${SOAK_DURATION}s"

  next_export_kill=60
  next_mount_kill=90
  next_rss_log=30
  next_heap_sample=0
  exporter_restarts=0
  mount_restarts=0
  failed=0
  while :; do
    now=$(($(date +%s) - t0))
    ((now < SOAK_DURATION)) || break
    # Memory of every process once a second (the growth check below reads
    # the long-lived mounts' rows; the others are for the report).
    for h in 1 2 3 4; do sample "mount$h" "${mount_pid[$h]}"; done
    sample exporter "$exp_pid"
    if ((now >= next_heap_sample)); then
      for h in 1 2 3 4; do heap_sample "$h"; done
      next_heap_sample=$((next_heap_sample + 10))
    fi
    if ((now >= next_rss_log)); then
      log "RSS (kB): mount 1=$(rss_kb "${mount_pid[1]}") 2=$(rss_kb "${mount_pid[2]}") 3=$(rss_kb "${mount_pid[3]}") 4=$(rss_kb "${mount_pid[4]}") exporter=$(rss_kb "$exp_pid"); load $(cut -d' ' -f1-3 /proc/loadavg)"
      next_rss_log=$((next_rss_log + 30))
    fi
    if ((now >= next_export_kill)); then
      echo "$now exporter-end" >> "$work/mem.tsv" # one exporter's life ends
      kill -KILL "$exp_pid"
      wait "$exp_pid" 2> /dev/null || true
      start_exporter
      again=$(head -1 "$work/hash")
      exporter_restarts=$((exporter_restarts + 1))
      log "exporter killed and restarted ($exporter_restarts)"
      if [ "$again" != "$root" ]; then
        log "FAIL: restarted exporter published $again, not $root"
        failed=1
      fi
      next_export_kill=$((next_export_kill + 60))
    fi
    if ((now >= next_mount_kill)); then
      kill -KILL "${mount_pid[2]}"
      wait "${mount_pid[2]}" 2> /dev/null || true
      umount -l "$work/mnt2"
      start_mount 2
      mount_restarts=$((mount_restarts + 1))
      log "mount of host 2 killed and remounted on its cache ($mount_restarts)"
      next_mount_kill=$((next_mount_kill + 90))
    fi
    sleep 1 # the run's clock: events are due by time, not by state
  done

  touch "$work/stop"
  # A reader in the middle of a read finishes it first; one that is stuck in
  # the kernel (D state) never does.
  for h in 1 2 3 4; do
    p=${reader_pid[$h]}
    if ! wait_for 120 test ! -d "/proc/$p"; then
      state=$(awk '{print $3}' "/proc/$p/stat" 2> /dev/null || echo '?')
      log "FAIL: reader $h did not stop (state $state)"
      failed=1
    fi
  done
  for h in 1 2 3 4; do
    umount "$work/mnt$h" || umount -l "$work/mnt$h"
    wait "${mount_pid[$h]}" 2> /dev/null || true
    unset "mount_pid[$h]"
  done
  kill "$exp_pid" 2> /dev/null || true
  wait "$exp_pid" 2> /dev/null || true
  exp_pid=""

  log "exporter restarts: $exporter_restarts, mount restarts: $mount_restarts"
  for h in 1 2 3 4; do
    r=$(cat "$work/report$h" 2> /dev/null || echo '{}')
    summary=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1] or "{}")
print(r.get("reads", 0), r.get("bytes", 0) >> 20, len(r.get("mismatches", [])),
      sum(r.get("errors", {}).values()), json.dumps(r.get("errors", {})).replace(" ", ""),
      json.dumps(r.get("mismatches", [])[:3]).replace(" ", ""))' "$r")
    read -r reads mib wrong errors by_errno examples <<< "$summary"
    log "reader $h: $reads reads, $mib MiB matched, $wrong wrong, $errors errors $by_errno"
    if ((wrong > 0)); then
      log "FAIL: reader $h read wrong bytes: $examples"
      failed=1
    fi
    if ((reads == 0)); then
      log "FAIL: reader $h made no progress"
      failed=1
    fi
    # The mount of host 2 is killed under its reader (ENOTCONN, then ENOENT
    # until it is back); the other readers must see no error at all.
    if ((h != 2 && errors > 0)); then
      log "FAIL: reader $h saw errors"
      failed=1
    fi
  done
  for h in 1 2 3 4; do
    if out=$("$b/tools/lcfs-cache" check "$work/cache$h" 2>&1); then
      log "cache $h: $out"
    else
      log "FAIL: cache $h: $out"
      failed=1
    fi
  done
  # Memory, per process: medians of the per-second samples in the second
  # minute and in the last one (what a process holds moves with the fetches
  # in flight). Mounts 1, 3 and 4 live through the whole run: their RSS must
  # grow less than 10% from the one to the other, in runs of 5 minutes or
  # more (a shorter run cannot tell warm-up from growth: it only prints).
  # Mount 2 and the exporter restart (every 90 s and 60 s): their figures
  # are those of the instance alive then; the exporter's line adds the peak
  # RSS of each of its lives.
  touch "$work/heap.tsv"
  python3 - "$work/mem.tsv" "$SOAK_DURATION" "$work/heap.tsv" > "$work/memory" << 'EOF' || failed=1
import statistics, sys
rows, lives, peak = {}, [], 0
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 2 and f[1] == "exporter-end":
        lives.append(peak)
        peak = 0
    elif len(f) == 6:
        t, name, vals = int(f[0]), f[1], list(map(int, f[2:]))
        rows.setdefault(name, []).append((t, vals))
        if name == "exporter":
            peak = max(peak, vals[0])
lives.append(peak)
duration, failed = int(sys.argv[2]), False
heap = {}
for line in open(sys.argv[3]):
    f = line.split()
    if len(f) == 9:
        heap.setdefault(f[1], []).append((int(f[0]), list(map(int, f[2:]))))


def med(samples, i):
    return int(statistics.median(v[i] for _, v in samples)) if samples else 0


def fig(s):
    return "RSS %d kB, %d threads, Anonymous %d kB, Private_Dirty %d kB" % tuple(
        med(s, i) for i in range(4))


def heap_fig(s):
    return "heap in use %d kB, free %d kB, mmapped %d kB" % tuple(med(s, i) for i in range(3))


for name in sorted(rows):
    r = rows[name]
    end = r[-1][0]
    a = [x for x in r if 60 <= x[0] < 120]
    b = [x for x in r if x[0] >= max(120, end - 60)]
    h = heap.get(name, [])
    pool = ""
    if h:
        buffers, takes, allocs = h[-1][1][4:7]
        pool = (f"; chunk buffers: {takes} objects decoded into a pool of {buffers}, "
                f"{max(allocs - buffers, 0)} allocated beyond it")
    if not a or not b:
        print(f"{name}: run too short to compare; last 10 s: {fig(r[-10:])}{pool}")
        continue
    first, last = med(a, 0), med(b, 0)
    line = (f"{name}: second minute {fig(a)}; last minute {fig(b)}; "
            f"RSS {(last - first) * 100.0 / first:+.1f}%")
    ha = [x for x in h if 60 <= x[0] < 120]
    hb = [x for x in h if x[0] >= max(120, end - 60)]
    if ha and hb:
        line += f"; malloc: second minute {heap_fig(ha)}; last minute {heap_fig(hb)}"
    line += pool
    if name == "exporter":
        line += "; peak RSS of each life (kB): " + " ".join(map(str, lives))
    if name in ("mount1", "mount3", "mount4") and duration >= 300 and last * 10 >= first * 11:
        line = "FAIL: " + line + ": 10% or more"
        failed = True
    print(line)
sys.exit(1 if failed else 0)
EOF
  while read -r line; do log "memory: $line"; done < "$work/memory"
  if ((failed)); then
    for f in "$work"/export.log "$work"/mount*.log; do
      echo "--- tail of $(basename "$f")"
      tail -n 20 "$f"
    done
    log "FAILED"
    exit 1
  fi
  log "PASSED"
  exit 0
fi

here=$(cd "$(dirname "$0")/../.." && pwd)
duration=600 tree_mb=1024 rate=200M build=""
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --tree-mb) tree_mb=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
[[ $duration =~ ^[0-9]+$ ]] || { echo "soak.sh: --duration needs whole seconds" >&2; exit 2; }
[[ $tree_mb =~ ^[0-9]+$ ]] && ((tree_mb > 0)) || { echo "soak.sh: --tree-mb needs a positive number" >&2; exit 2; }
build=$(cd "${build:-$here/build}" && pwd)
if [[ $EUID -ne 0 ]]; then
  echo "soak.sh: needs root (network namespaces, FUSE mounts); skipped" >&2
  exit 77
fi
for f in fs/lcfs tools/lcfs-export tools/lcfs-cache tests/lcfs-testbed; do
  [ -x "$build/$f" ] || { echo "soak.sh: missing $build/$f" >&2; exit 2; }
done
export SOAK_BUILD=$build SOAK_SOURCE=$here SOAK_DURATION=$duration SOAK_TREE_MB=$tree_mb SOAK_RATE=$rate
exec "$build/tests/lcfs-testbed" --hosts 5 --loss 4:10 -- bash "$here/tests/soak/soak.sh" --inside
