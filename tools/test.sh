#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test.
#  0. clang-format check of every C++ file.
#  1. gcc build (-Werror): unit and integration tests (the integration tests
#     build virtual LANs out of network namespaces and need root), fuzz
#     targets replaying their seed corpora.
#  2. clang build with ASan+UBSan and libFuzzer: unit tests under the
#     sanitizers, then each fuzz target for LCFS_FUZZ_SECONDS (default 20).
# Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

echo "== clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "clang-format clean"

echo "== build (gcc, -Werror)"
tools/build.sh
echo "== tests (gcc build)"
log=$(mktemp /tmp/lcfs-test-XXXXXX)
trap 'rm -f "$log"' EXIT
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900 | tee "$log"

echo "== build (clang, ASan+UBSan, libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DLCFS_WERROR=ON -DLCFS_SANITIZE=ON -DLCFS_FUZZ=ON \
  -DLCFS_BENCH=OFF -DLCFS_INTEGRATION=OFF -DLCFS_FUZZ_SECONDS="${LCFS_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j"$jobs"
echo "== unit tests under ASan+UBSan, bounded fuzz runs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L 'unit|fuzz' --timeout 900 |
  tee -a "$log"
# One closing line over both runs (each ctest prints its own summary above).
total=0
for n in $(sed -n 's/.* tests failed out of \([0-9]*\)$/\1/p' "$log"); do total=$((total + n)); done
echo "total: $total passed, 0 failed"
