// Objects: the immutable, hash-named units lcfs publishes and fetches.
//
// Every object is a byte string of one kind, named by
//     SHA-256(kind tag byte || bytes)
// The tag is the domain separation that keeps a chunk from passing for a
// Merkle node or a directory and vice versa: a receiver always knows which
// kind it asked for, so it verifies with that kind's tag. The byte layout of
// each kind is in docs/protocol.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/status.h"

namespace lcfs {

enum class ObjectKind : uint8_t {
  kChunk = 0x00,      // raw file data, one fixed-size chunk (the last may be short)
  kTreeNode = 0x01,   // Merkle inner node: a list of child hashes
  kDirectory = 0x02,  // a directory object: sorted entries
};

// The name of an object of `kind` with these bytes.
inline Hash ObjectHash(ObjectKind kind, std::span<const uint8_t> bytes) {
  const uint8_t tag = static_cast<uint8_t>(kind);
  Sha256 s;
  s.Update(std::span(&tag, 1));
  s.Update(bytes);
  return s.Finish();
}

// Where objects come from, for code that reads content (sync, the FUSE
// frontend): the network (the sync engine), a local cache, or an index of a
// local export (tests, offline use). Implementations return only bytes that
// hash to `hash` under `kind`.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // Verified bytes of the object, or an error: ETIMEDOUT if it could not be
  // had within `timeout`, ENOENT if the source knows it does not exist.
  virtual Result<std::vector<uint8_t>> Fetch(const Hash& hash, ObjectKind kind,
                                             std::chrono::milliseconds timeout) = 0;
};

}  // namespace lcfs
