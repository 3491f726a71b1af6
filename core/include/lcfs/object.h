// Objects: the immutable, hash-named units lcfs publishes and fetches.
//
// Every object is a byte string of one kind, named by
//     SHA-256(kind tag byte || bytes)
// The tag is the domain separation that keeps a chunk from passing for a
// Merkle node or a directory and vice versa: a receiver always knows which
// kind it asked for, so it verifies with that kind's tag. The byte layout of
// each kind is in docs/protocol.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
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

// How urgently an object is wanted, most urgent first. A source that runs
// several fetches at once never lets a request wait behind a less urgent one
// (the network source reserves window slots per priority).
enum class FetchPriority : uint8_t {
  kBlocking = 0,  // a process is blocked on it (a read, a lookup, a sync)
  kMetadata = 1,  // directory objects and tree nodes fetched ahead of need
  kPrefetch = 2,  // file data fetched ahead of need
};

// One fetch: what is wanted and what the caller already knows about it.
struct FetchRequest {
  Hash hash;
  ObjectKind kind = ObjectKind::kChunk;
  // The object's length when known, 0 when not. Every object but a root
  // directory has its length in its parent (directory entry or file shape),
  // so callers pass it: data announcing another length (docs/protocol.md
  // section 10) is refused before it costs memory, and never returned.
  uint64_t expected_size = 0;
  // Give up with ETIMEDOUT after this long without progress.
  std::chrono::milliseconds timeout{10000};
  FetchPriority priority = FetchPriority::kBlocking;
  // When set, the caller gives up once *cancel becomes true (a signal
  // handler may set it): Fetch returns ECANCELED within about 100 ms. Must
  // outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

// Names one asynchronous fetch for Cancel; 0 names none.
using FetchTicket = uint64_t;
// Receives the outcome of an asynchronous fetch: the bytes, or the error
// Fetch would have returned.
using FetchCallback = std::function<void(Result<std::vector<uint8_t>>)>;

// Where objects come from, for code that reads content (sync, the FUSE
// frontend): the network (the sync engine), a local cache, or an index of a
// local export (tests, offline use).
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // Verified bytes of the object: they hash to request.hash under
  // request.kind and, when request.expected_size is not 0, have that length.
  // Otherwise an error: ETIMEDOUT if it could not be had within the timeout,
  // ENOENT if the source knows it does not exist, EIO if what the source has
  // does not verify or has another length, ECANCELED if cancelled.
  // Thread-safe: callers may fetch from many threads at once.
  virtual Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) = 0;

  // The asynchronous form, for a caller that keeps many fetches in flight
  // (the mount's fetch pipeline). `done` is called exactly once with what
  // Fetch would return, on a thread of the source's choosing, possibly before
  // FetchAsync returns; it must not block. request.cancel is not polled:
  // use Cancel. The default runs Fetch on the calling thread (right for
  // local sources); the network source queues the request by priority.
  virtual FetchTicket FetchAsync(const FetchRequest& request, FetchCallback done) {
    done(Fetch(request));
    return 0;
  }
  // Gives up an asynchronous fetch: `done` gets ECANCELED if it has not run
  // yet, and the source stops working on the object when nothing else waits
  // for it. Finished or unknown tickets are ignored.
  virtual void Cancel(FetchTicket /*ticket*/) {}
};

// The length check every source applies before returning bytes.
inline Status CheckExpectedSize(const FetchRequest& request, size_t size) {
  if (request.expected_size == 0 || size == request.expected_size) return Status::Ok();
  return Status::Error(EIO, "object " + request.hash.ToHex() + " is " + std::to_string(size) +
                                " bytes, its parent says " + std::to_string(request.expected_size));
}

}  // namespace lcfs
