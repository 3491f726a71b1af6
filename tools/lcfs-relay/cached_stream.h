// CachedStream: the symbols a relay sends for an object it serves from its
// cache, in the exporter's order and amounts (docs/protocol.md sections 9
// and 15).
//
// Symbol n of the stream is ESI n / Z of source block n mod Z: the source
// symbols first, then repair symbols. Every arrival (a link that starts
// listening, or a new report) is owed a whole set from where the stream is
// (Z x max K symbols); once all is sent the stream holds (for as long as
// the caller says: the relay's RepairHold), then sends a round of repair (a
// sixteenth of a set, at least 32), holds again, each round twice the last,
// and once a round would be a set it streams without holds. So a reader
// without loss costs one set, and one that lost symbols gets them a round
// later.
//
// Threads: not thread-safe; the relay's loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lcfs/fec/encoder.h"
#include "lcfs/hash.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::relay {

class CachedStream {
 public:
  using Clock = std::chrono::steady_clock;

  // `bytes` are the object's verified bytes (the stream keeps them).
  static Result<CachedStream> Create(const Hash& name, ObjectKind kind, std::vector<uint8_t> bytes);

  // A new listener: owes it a whole set from the current position.
  void Arrival();
  // The listeners had the exporter's stream of this object passed on to
  // them up to stream position `position` (the relay decoded the object
  // from it, so a listener without loss can too): the stream goes on from
  // there, at least from the repair symbols on, so it repeats no symbol;
  // sends `owed` symbols at once (what a listener that arrived late lacks
  // of a set), then holds for the leaves before any round of repair.
  void ContinueAfterRelay(uint64_t position, uint64_t owed);
  // Whether a packet may be sent now (starting a hold of `hold`, or ending
  // one, as due); if not, *wake is when it may.
  bool Ready(Clock::time_point now, Clock::duration hold, Clock::time_point* wake);
  // Encodes the next packet into `out` (at least header + T bytes) and
  // returns its length. Call only when Ready().
  Result<size_t> Next(std::span<uint8_t> out);

  // When the listeners were first owed nothing more (the first hold since
  // the last arrival); nullopt while they are owed symbols.
  std::optional<Clock::time_point> satisfied() const { return satisfied_; }
  // Symbols owed now (before any round of repair); for tests and logs.
  uint64_t owed() const { return owed_ > next_ ? owed_ - next_ : 0; }
  uint64_t set() const { return set_; }
  uint64_t size() const { return size_; }
  const Hash& name() const { return name_; }

 private:
  CachedStream(fec::ObjectEncoder encoder, net::PacketHeader header, uint64_t size);

  fec::ObjectEncoder encoder_;
  net::PacketHeader header_;
  Hash name_;
  uint64_t size_ = 0;
  uint64_t set_ = 0;    // Z x max K
  uint64_t next_ = 0;   // stream position n
  uint64_t owed_ = 0;   // send while next_ < owed_
  uint64_t round_ = 0;  // the next repair round's size; >= set_: no more holds
  Clock::time_point hold_until_{};
  bool holding_ = false;
  std::optional<Clock::time_point> satisfied_;
  std::vector<uint8_t> symbol_;
};

}  // namespace lcfs::relay
