#!/usr/bin/env python3
"""Joins the group of every chunk of every file under DIR on IFACE and stays
joined (the kernel keeps answering MLD queries) until killed: the join-all
flood of issue 18 point 5, for bench/e2e/one_stream.sh. Groups follow
docs/protocol.md sections 1, 2 and 6 (chunk name, then its group with the
default flags and scope). Prints the number of groups joined, then sleeps.

    join_all.py DIR IFACE [CHUNK_SIZE]
"""
import hashlib
import os
import socket
import struct
import sys
import time


def groups(root, chunk_size):
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            with open(os.path.join(dirpath, name), "rb") as f:
                while chunk := f.read(chunk_size):
                    obj = hashlib.sha256(b"\x00" + chunk).digest()
                    d = hashlib.sha256(b"lcfs-group-v1" + obj).digest()
                    yield b"\xff\x1e" + d[:14]


def main():
    root, iface = sys.argv[1], sys.argv[2]
    chunk_size = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 20
    ifindex = socket.if_nametoindex(iface)
    sockets, joined = [], 0
    for group in groups(root, chunk_size):
        # A socket holds a few hundred memberships (optmem_max): 200 each.
        if joined % 200 == 0:
            sockets.append(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        sockets[-1].setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                               group + struct.pack("@I", ifindex))
        joined += 1
    print(joined, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
