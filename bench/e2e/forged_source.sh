#!/usr/bin/env bash
# Forged source (issue 14 point 4): what a host forging the exporter's
# address costs a read, against the same read alone.
#
#   bench/e2e/forged_source.sh [BUILD_DIR] [RUNS]
#
# Each run is one run of the integration test
# SyncAttackTest.ForgedSourceStallIsBounded (tests/integration/
# sync_attack_test.cc), on its own 3-host virtual LAN: lcfs-export (host 0,
# --rate 200M) serves 12 small files and a 6 MiB file (1 MiB chunks);
# lcfs-sync (host 1) copies the tree twice into fresh directories: alone
# (host 2 joined to every group but silent), then forged (host 2 answers
# every packet the exporter sends with one under the exporter's address:
# alternately the same packet with its last 8 bytes altered, and garbage at a
# position 1..64 ahead that the exporter sends soon after). Bytes are the
# exporter's wire bytes for the read (its statistics: UDP payload plus 62
# bytes of headers per packet); times are lcfs-sync's whole run. Medians
# over RUNS (default 5); the stall is forged minus alone, per run, then the
# median. A run whose reader saw no conflicting symbol (the forger thread
# fell behind on a loaded machine) says so in its line. Target: stall <= 1 s.
# A report, not a test. Needs root.
set -euo pipefail
build=$(realpath "${1:-build}")
runs=${2:-5}
test_bin=$build/tests/sync_attack_test
[[ -x "$test_bin" ]] || { echo "no $test_bin: build it first (cmake --build $build --target sync_attack_test lcfs-export lcfs-sync)" >&2; exit 2; }
. "$(dirname "$0")/lib.sh"

out=$(mktemp /tmp/lcfs-forged-XXXXXX)
trap 'rm -f "$out"' EXIT
echo "forged source: $runs runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$test_bin" --gtest_filter='SyncAttackTest.ForgedSourceStallIsBounded' --gtest_repeat="$runs" \
  >"$out" 2>&1 || { cat "$out" >&2; echo "the test failed" >&2; exit 1; }
alone_s=() forged_s=() stall_s=() alone_b=() forged_b=() ratio=() retried=() conflicts=()
while read -r as ab fs fb cf rt; do
  alone_s+=("$as") forged_s+=("$fs") alone_b+=("$ab") forged_b+=("$fb") retried+=("$rt") conflicts+=("$cf")
  stall_s+=("$(echo "$fs - $as" | bc -l)")
  ratio+=("$(echo "$fb / $ab" | bc -l)")
  printf 'run %d: alone %.2f s %d B; forged %.2f s %d B (%.2fx); stall %+.2f s; %d conflicting symbols, %d decodes retried\n' \
    "${#alone_s[@]}" "$as" "$ab" "$fs" "$fb" "${ratio[-1]}" "${stall_s[-1]}" "$cf" "$rt"
done < <(sed -nE 's/.*figure: forged source: alone ([0-9.]+) s ([0-9]+) B, forged ([0-9.]+) s ([0-9]+) B, [0-9]+ forged packets, ([0-9]+) conflicting symbols, ([0-9]+) decodes retried.*/\1 \2 \3 \4 \5 \6/p' "$out")
((${#alone_s[@]} == runs)) || { cat "$out" >&2; echo "expected $runs figure lines" >&2; exit 1; }
printf '\nmedians of %d runs (load now %s):\n' "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  read time alone / forged   %.2f / %.2f s\n' "$(median "${alone_s[@]}")" "$(median "${forged_s[@]}")"
printf '  stall (forged - alone)     %+.2f s (target <= 1 s)\n' "$(median "${stall_s[@]}")"
printf '  exporter wire bytes        %.0f alone, %.0f forged (%.2fx)\n' \
  "$(median "${alone_b[@]}")" "$(median "${forged_b[@]}")" "$(median "${ratio[@]}")"
printf '  subset decodes (forged)    %.0f\n' "$(median "${retried[@]}")"
