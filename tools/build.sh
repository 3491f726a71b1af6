#!/usr/bin/env bash
# Configures and builds lcfs in ./build (warnings are errors), then installs
# the programs so that `mount -t fuse.lcfs` finds them.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -DLCFS_WERROR=ON "$@" >/dev/null
cmake --build build -j"$jobs"
if [[ -x tools/install-lcfs.sh && $EUID -eq 0 ]]; then
  tools/install-lcfs.sh build
fi
