// ObjectCollector: decodes the objects whose symbols a relay passes on and
// hands over only those that verify (docs/protocol.md section 15, "Caching").
//
// A relay asks for groups, not objects: it never knows an object's name in
// advance. What proves an object is the packet itself: its 16-byte id is the
// start of the object's name (section 7) and the group it came on is derived
// from the whole name (section 6). So a decoded object is accepted when
// name = SHA-256(tag || bytes) starts with the packet's id and names the
// group the packets came on; anything else is forged and reported as such.
//
// Symbols are decoded apart per (group, source address, object id, kind, OTI)
// as a reader does (section 10), so garbage sent under a host's own address
// cannot spoil the exporter's stream. Only the canonical OTI of an object of
// F bytes (fec::OtiForObject) is accepted, F at most `max_object`, and all
// decoders together hold at most `memory` bytes: a flood of made-up ids costs
// bounded memory and is refused beyond it (counted). An object that verified
// is remembered per group so its further symbols cost nothing.
//
// Threads: not thread-safe; the relay's loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "lcfs/fec/decoder.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"

namespace lcfs::relay {

struct CollectorLimits {
  uint64_t max_object = 64u << 20;  // larger than any chunk (16 MiB) or usual directory
  uint64_t memory = 256u << 20;     // all decoders' objects together
};

struct CollectorCounters {
  uint64_t verified = 0;  // objects decoded whose name matched id and group
  uint64_t forged = 0;    // objects decoded whose name did not
  uint64_t refused = 0;   // symbols refused: non-canonical OTI, too large, over memory
};

class ObjectCollector {
 public:
  enum class Outcome {
    kPending,   // kept (or a duplicate); the object is not complete
    kVerified,  // *name, *kind and *bytes hold a verified object
    kForged,    // the decode completed and did not verify: `source` sent it
    kKnown,     // the object already verified on this group
    kRefused,   // not kept (see CollectorCounters::refused)
  };

  ObjectCollector(net::GroupScheme scheme, CollectorLimits limits)
      : scheme_(scheme), limits_(limits) {}

  // Takes one symbol that arrived on `group` from `source`.
  Outcome Add(const net::Ipv6Address& group, const net::Ipv6Address& source,
              const net::PacketView& packet, Hash* name, ObjectKind* kind,
              std::vector<uint8_t>* bytes);

  // The group was left upstream: drops its decoders and what it knew.
  void ForgetGroup(const net::Ipv6Address& group);

  const CollectorCounters& counters() const { return counters_; }
  uint64_t memory() const { return memory_; }

 private:
  using Oti = std::array<uint8_t, net::kOtiSize>;
  using Key = std::tuple<net::Ipv6Address, net::Ipv6Address, net::ObjectId, ObjectKind, Oti>;
  struct Pending {
    fec::ObjectDecoder decoder;
    uint64_t size = 0;
  };

  const net::GroupScheme scheme_;
  const CollectorLimits limits_;
  std::map<Key, Pending> pending_;
  std::set<std::tuple<net::Ipv6Address, net::ObjectId, ObjectKind>> known_;
  uint64_t memory_ = 0;
  CollectorCounters counters_;
};

}  // namespace lcfs::relay
