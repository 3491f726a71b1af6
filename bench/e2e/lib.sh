# Shared by the end-to-end benchmarks that run inside lcfs-testbed
# (bench/e2e/*.sh). Source it first, then:
#
#   bench_in_testbed "--hosts 2" tools/lcfs-export -- "$@"   # from here on, inside
#   bench_init "$2" lcfs-onestream      # $tools, $work (cleaned up on exit)
#   bench_start_exporter 0 "$work/src" --rate 1G   # sets exp_pid, root
#   in_host 1 "$build/fs/lcfs" "$root" "$work/mnt" -o iface=lan0
#   bench_mounts+=("$work/mnt")
#
# Everything started in the background that is not the exporter goes into
# bench_pids, by its own PID: start it as `nsenter --net="$(host_ns N)" --
# prog &` (nsenter execs prog, so `$!` is prog). `in_host N prog &` would give
# the PID of a subshell, since in_host is a shell function.

# bench_in_testbed "TESTBED OPTIONS" PROGRAM... -- "$@": the script's start.
# Run from outside, it checks that the build (the script's first argument,
# default ./build) holds each PROGRAM and the testbed, then runs the script
# again inside `lcfs-testbed TESTBED OPTIONS` as `SCRIPT --inside BUILD ARG...`
# (BUILD absolute, the script's other arguments after it): it does not
# return. Inside, it returns at once.
bench_in_testbed() {
  local options=$1 build
  shift
  local programs=()
  while [[ $1 != -- ]]; do programs+=("$1"); shift; done
  shift
  [[ "${1:-}" == --inside ]] && return 0
  build=$(realpath "${1:-build}")
  (($# > 0)) && shift
  local f
  for f in tests/lcfs-testbed "${programs[@]}"; do
    [[ -x "$build/$f" ]] || { echo "missing $build/$f: build it first" >&2; exit 1; }
  done
  # shellcheck disable=SC2086 # the testbed's options are words
  exec "$build/tests/lcfs-testbed" $options -- bash "$(realpath "$0")" --inside "$build" "$@"
}

# bench_init BUILD NAME: inside the testbed, the tools of BUILD ($tools, and
# LCFS_BENCH_TOOLS for bench_start_exporter) and $work (bench_setup NAME).
bench_init() {
  tools=$1/tools
  LCFS_BENCH_TOOLS=$tools
  bench_setup "$2"
}

# The network namespace of testbed host N, as a path for nsenter --net.
host_ns() {
  local v="LCFS_TB_NS_$1"
  echo "/run/netns/${!v}"
}

# Runs "$@" in host N's network namespace, in the foreground. nsenter, not
# `ip netns exec`: the latter gives each command a private mount namespace,
# hiding FUSE mounts from the commands after it.
in_host() {
  local ns
  ns=$(host_ns "$1")
  shift
  nsenter --net="$ns" -- "$@"
}

now() { date +%s.%N; }

# Median of the numbers given as arguments (the mean of the middle two when
# there is an even number of them).
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# Makes $work (/tmp/NAME-XXXXXX) and, on exit, unmounts bench_mounts, kills
# exp_pid and bench_pids, waits for them and removes $work.
bench_mounts=()
bench_pids=()
exp_pid=""
bench_cleanup() {
  local m p
  for m in "${bench_mounts[@]}"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  for p in $exp_pid "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${work:-}" ]] && rm -rf "$work"
  return 0
}
bench_setup() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  trap bench_cleanup EXIT
}

# bench_start_until HOST OUT LOG TEXT PROGRAM [ARGS...]: starts PROGRAM on
# host HOST in the background, its stdout in OUT and stderr in LOG, and waits
# (30 s at most) until LOG says TEXT; sets pid (also in bench_pids). Fails
# with the log when TEXT does not come.
bench_start_until() {
  local host=$1 out=$2 log=$3 text=$4 _
  shift 4
  nsenter --net="$(host_ns "$host")" -- "$@" >"$out" 2>"$log" &
  pid=$!
  bench_pids+=("$pid")
  for _ in $(seq 600); do grep -aq "$text" "$log" && break; sleep 0.05; done
  grep -aq "$text" "$log" || { echo "$1 on host $host did not say '$text':" >&2; cat "$log" >&2; exit 1; }
}

# Stops (SIGTERM) and reaps every process of bench_pids, and empties it.
bench_stop_pids() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bench_pids=()
}

# bench_start_exporter HOST DIR [OPTIONS...]: (re)starts lcfs-export on host
# HOST's lan0 serving DIR, its HASH lines in $work/hash and its log in
# $work/export.log; waits (60 s at most) for the first HASH and sets exp_pid
# and root. Fails with the log when no HASH comes.
bench_start_exporter() {
  local host=$1 dir=$2
  shift 2
  if [[ -n "$exp_pid" ]]; then
    kill "$exp_pid" 2>/dev/null || true
    wait "$exp_pid" 2>/dev/null || true
  fi
  # Emptied here, not only by the redirection below: that one runs in the
  # background child, possibly after the wait loop has already found the
  # last exporter's HASH in the file (and then read it empty, or stale).
  : >"$work/export.log"
  : >"$work/hash"
  nsenter --net="$(host_ns "$host")" -- "$LCFS_BENCH_TOOLS/lcfs-export" -i lan0 --no-index-cache "$@" "$dir" \
    >"$work/hash" 2>>"$work/export.log" &
  exp_pid=$!
  local _
  for _ in $(seq 1200); do [[ -s "$work/hash" ]] && break; sleep 0.1; done
  root=$(head -1 "$work/hash")
  [[ ${#root} == 64 ]] || { echo "lcfs-export printed no HASH:" >&2; cat "$work/export.log" >&2; return 1; }
}

# exporter_statistics PID LOG: asks lcfs-export PID for its statistics
# (SIGUSR1) and prints the line it writes to LOG, as "key value" pairs one
# per line ("bytes sent 1234"), waiting 2 s at most for the new line.
exporter_statistics() {
  local pid=$1 log=$2 n _
  n=$(grep -c statistics: "$log" || true)
  kill -USR1 "$pid"
  for _ in $(seq 200); do
    (($(grep -c statistics: "$log" || true) > n)) && break
    sleep 0.01
  done
  grep statistics: "$log" | tail -n1 | sed -E 's/.*statistics: //' | tr ',' '\n' | sed -E 's/^ +//'
}

# exporter_wire_bytes PID LOG: what lcfs-export PID has sent, as Ethernet
# frames: UDP payload plus 62 bytes of IPv6, UDP and Ethernet headers per
# packet. (A veth's tx_bytes counts the headers of a GSO batch only once.)
exporter_wire_bytes() {
  exporter_statistics "$1" "$2" |
    awk '/^bytes sent / { b = $3 } /^symbols sent / { s = $3 } END { printf "%d\n", b + s * 62 }'
}
