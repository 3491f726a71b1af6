#!/usr/bin/env python3
"""One soak reader: reads random files at random offsets through an lcfs
mount and compares every byte with the source tree the exporter serves.

  reader.py MOUNT SOURCE STOPFILE REPORT [--seed N]

Runs until STOPFILE exists, then writes one JSON line to REPORT: reads that
matched, bytes read, errors by errno name, and every mismatch (which must
never happen). Whether an error is a failure is the caller's call: a reader
whose mount is killed under it sees ENOTCONN and ENOENT by design.
"""
import errno
import json
import os
import random
import sys


def tree_files(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out.append((os.path.relpath(p, root), os.path.getsize(p)))
    out.sort()
    return out


def main():
    mount, source, stopfile, report = sys.argv[1:5]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    rng = random.Random(seed)
    files = tree_files(source)
    stats = {"reads": 0, "bytes": 0, "errors": {}, "mismatches": []}
    while not os.path.exists(stopfile):
        rel, size = rng.choice(files)
        # Mostly small reads anywhere, sometimes a whole file from the start.
        if rng.random() < 0.1 or size == 0:
            offset, length = 0, size
        else:
            offset = rng.randrange(size)
            length = min(size - offset, rng.choice([1, 4096, 65536, 1 << 20]))
        with open(os.path.join(source, rel), "rb") as f:
            f.seek(offset)
            want = f.read(length)
        try:
            with open(os.path.join(mount, rel), "rb") as f:
                f.seek(offset)
                got = f.read(length)
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            stats["errors"][name] = stats["errors"].get(name, 0) + 1
            continue
        if got != want:
            # A short read of a file the mount does not have (the mount
            # point is an empty directory while the mount is down) raises
            # ENOENT above; any difference here is a wrong byte.
            first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                         min(len(got), len(want)))
            stats["mismatches"].append({"file": rel, "offset": offset, "length": length,
                                        "got": len(got), "first_difference": offset + first})
            continue
        stats["reads"] += 1
        stats["bytes"] += length
    with open(report, "w") as f:
        json.dump(stats, f)
        f.write("\n")


if __name__ == "__main__":
    main()
