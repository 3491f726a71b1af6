#!/usr/bin/env python3
"""Derives the channel test vectors of docs/protocol.md section 11 with an
implementation independent of lcfs (Python's `cryptography`, Debian package
python3-cryptography, for Ed25519; hashlib for SHA-256). The unit tests
(tests/unit/channel/vectors_test.cc) check the C++ code against its output.

    python3 tests/interop/channel/make_vectors.py
"""
import base64
import hashlib
import ipaddress
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization


def channel_name(public_key):
    check = hashlib.sha256(b"lcfs-channel-name-v1" + public_key).digest()[:3]
    return "lcfs-" + base64.b32encode(public_key + check).decode().lower()


def channel_group(public_key, flags=0x1, scope=0xE):
    d = hashlib.sha256(b"lcfs-channel-group-v1" + public_key).digest()
    return ipaddress.IPv6Address(bytes([0xFF, flags << 4 | scope]) + d[:14])


def record(key, root, sequence, time, validity):
    public_key = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body = (b"LC" + bytes([1, 2]) + bytes(4) + public_key + root +
            struct.pack(">QQI", sequence, time, validity))
    assert len(body) == 92
    return body + key.sign(b"lcfs-channel-record-v1" + body)


def main():
    seed = bytes(range(32))
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_key = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    root = bytes.fromhex(
        "8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe")
    print("seed        ", seed.hex())
    print("public key  ", public_key.hex())
    print("CHANNEL     ", channel_name(public_key))
    print("group ff1e  ", channel_group(public_key))
    print("group ff12  ", channel_group(public_key, scope=0x2))
    r = record(key, root, 1764633600000, 1764633600, 3600)
    print("record      ", r.hex())


if __name__ == "__main__":
    main()
