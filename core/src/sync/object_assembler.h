// ObjectAssembler: turns the symbols of one object, as they arrive from the
// network, into the object's verified bytes.
//
// Symbols are decoded per (source address, OTI): a host sending garbage on
// the group, or announcing a different OTI, gets a decoder of its own and
// cannot spoil the real exporter's. When a decoder completes, its bytes are
// checked against the object's hash; bytes that do not verify are discarded,
// the decoder is reset and collection goes on (counted). Memory is bounded:
// at most kMaxCandidates decoders, each for an object of at most the size
// limit the caller gives.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "lcfs/fec/decoder.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"

namespace lcfs::sync {

// Counts about one object's symbols, summed into the fetcher's statistics.
struct AssemblyCounters {
  uint64_t symbols = 0;          // symbols given to a decoder
  uint64_t discarded = 0;        // symbols that did not contribute to verified bytes
  uint64_t verify_failures = 0;  // decodes whose bytes did not hash to the object
  uint64_t rejected = 0;         // packets refused: bad OTI, wrong size, too many sources
  uint64_t symbols_needed = 0;   // source symbols of the verified object (ceil(F / T))
};

class ObjectAssembler {
 public:
  // Decoders kept at once (distinct source/OTI pairs); packets of further
  // pairs are rejected until the object completes.
  static constexpr size_t kMaxCandidates = 4;

  // `expected_size`: the object's length when the caller knows it (0: any
  // length up to `max_size`). Packets announcing another length are rejected.
  ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size, uint64_t max_size);
  ~ObjectAssembler();
  ObjectAssembler(const ObjectAssembler&) = delete;
  ObjectAssembler& operator=(const ObjectAssembler&) = delete;

  // Feeds one packet already matched to this object (ParsePacketFor). Returns
  // true once the object is complete and verified (further calls do nothing).
  bool Add(const net::PacketView& packet, const net::Ipv6Address& source);

  bool complete() const { return verified_.has_value(); }
  // The verified bytes; only when complete().
  std::vector<uint8_t> TakeObject();

  const AssemblyCounters& counters() const { return counters_; }

 private:
  struct Candidate;
  Candidate* FindOrCreate(const net::PacketView& packet, const net::Ipv6Address& source);

  Hash hash_;
  ObjectKind kind_;
  uint64_t expected_size_;
  uint64_t max_size_;
  std::vector<std::unique_ptr<Candidate>> candidates_;
  std::optional<std::vector<uint8_t>> verified_;
  AssemblyCounters counters_;
};

// Largest object of `kind` a receiver accepts when it does not know the size:
// chunks and tree nodes up to the largest chunk size, directories up to
// kMaxDirectoryObjectSize.
uint64_t MaxObjectSize(ObjectKind kind);

}  // namespace lcfs::sync
