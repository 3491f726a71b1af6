#!/usr/bin/env python3
"""A reader of bench/e2e/one_stream.sh that is ready before the common start:
opens FILE (through an lcfs mount: the lookup and the open are done, which
fetch no chunk of a large file), prints "ready", then waits for a shared lock
on GATE, which the bench holds exclusively until the start, and reads FILE
to its end like cat (128 KiB reads), discarding it.

So readers "at once" start their reads as close together as the machine
allows: the start costs each one a wake-up, not a fork, an exec and a FUSE
lookup (about 10 ms each on a busy 2-core host, one after another: 16
readers were ~150 ms apart, longer than a chunk takes at 100 Mbit/s).

    gate_read.py GATE FILE
"""
import fcntl
import os
import sys


def main():
    gate, path = sys.argv[1], sys.argv[2]
    fd = os.open(path, os.O_RDONLY)
    lock = os.open(gate, os.O_RDONLY)
    print("ready", flush=True)
    fcntl.flock(lock, fcntl.LOCK_SH)
    buf = bytearray(128 << 10)
    while os.readv(fd, [buf]):
        pass


if __name__ == "__main__":
    main()
