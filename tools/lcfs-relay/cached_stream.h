// CachedStream: the symbols a relay sends for an object it serves from its
// cache, in the exporter's order and amounts (docs/protocol.md sections 9
// and 15).
//
// Symbol n of the stream is ESI n / Z of source block n mod Z: the source
// symbols first, then repair symbols. Every arrival (a link that starts
// listening, or a new report) is owed a whole set from where the stream is
// (Z x max K symbols); once all is sent the stream holds for `hold`, then
// sends a round of repair (a sixteenth of a set, at least 32), holds again,
// each round twice the last, and once a round would be a set it streams
// without holds. So a reader without loss costs one set, and one that lost
// symbols gets them a round later.
//
// Threads: not thread-safe; the relay's loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
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
  static Result<CachedStream> Create(const Hash& name, ObjectKind kind, std::vector<uint8_t> bytes,
                                     std::chrono::milliseconds hold);

  // A new listener: owes it a whole set from the current position.
  void Arrival();
  // Listeners that have had the source symbols from elsewhere (the
  // exporter's, relayed): skips to the repair symbols and owes a round.
  void ContinueWithRepair();
  // Whether a packet may be sent now (starting or ending a hold as due); if
  // not, *wake is when it may.
  bool Ready(Clock::time_point now, Clock::time_point* wake);
  // Encodes the next packet into `out` (at least header + T bytes) and
  // returns its length. Call only when Ready().
  Result<size_t> Next(std::span<uint8_t> out);

  uint64_t size() const { return size_; }
  const Hash& name() const { return name_; }

 private:
  CachedStream(fec::ObjectEncoder encoder, net::PacketHeader header, uint64_t size,
               std::chrono::milliseconds hold);

  fec::ObjectEncoder encoder_;
  net::PacketHeader header_;
  Hash name_;
  uint64_t size_ = 0;
  std::chrono::milliseconds hold_;
  uint64_t set_ = 0;    // Z x max K
  uint64_t next_ = 0;   // stream position n
  uint64_t owed_ = 0;   // send while next_ < owed_
  uint64_t round_ = 0;  // the next repair round's size; >= set_: no more holds
  Clock::time_point hold_until_{};
  bool holding_ = false;
  std::vector<uint8_t> symbol_;
};

}  // namespace lcfs::relay
