#!/usr/bin/env bash
# Installs everything lcfs needs to build, test, demo and benchmark, from
# Debian packages. Idempotent: runs `apt-get update` and installs only when
# something is missing. Needs root.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config libssl-dev libfuse3-dev
  # metrics endpoints (prometheus-cpp) and systemd readiness (sd_notify)
  prometheus-cpp-dev libsystemd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing and sanitizers (libFuzzer ships in libclang-rt-14-dev)
  clang libclang-rt-14-dev clang-format git
  # runtime: FUSE, the virtual LAN (namespaces, bridge, tc, nftables), nsenter
  fuse3 iproute2 nftables util-linux procps kmod
  # protocol checks and peers for benchmarks
  tshark uftp casync
  # systemd-analyze verify of the example units in docs/
  systemd
  # kernel multicast routing between the testbed's LANs (routed_test)
  smcroute
)
# The RaptorQ interop test runs a peer implementation on node; the machine
# image may bring its own node, otherwise Debian's.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
