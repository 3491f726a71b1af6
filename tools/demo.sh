#!/usr/bin/env bash
# The demo: installs dependencies, builds, then on a virtual LAN of two hosts
# exports a sample tree from host 0 with lcfs-export and mounts it on host 1
# with `mount -t fuse.lcfs HASH /mnt`, lists and reads it with ordinary tools,
# and tears everything down. Runs as far as the project has come and says
# plainly which step is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
exec build/tests/lcfs-testbed --hosts 2 --snooping -- tools/demo-steps.sh "$PWD/build"
