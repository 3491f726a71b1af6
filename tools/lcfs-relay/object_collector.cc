#include "object_collector.h"

#include <algorithm>
#include <utility>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::relay {

ObjectCollector::Outcome ObjectCollector::Add(const net::Ipv6Address& group,
                                              const net::Ipv6Address& source,
                                              const net::PacketView& packet, Hash* name,
                                              ObjectKind* kind, std::vector<uint8_t>* bytes) {
  const net::PacketHeader& h = packet.header;
  if (known_.contains({group, h.object_id, h.kind})) return Outcome::kKnown;
  const Key key{group, source, h.object_id, h.kind, h.oti};
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    // Only the one OTI lcfs sends an object of F bytes with (section 9): a
    // forger cannot make the relay allocate for a shape no exporter sends.
    auto oti = fec::Oti::Decode(h.oti);
    if (!oti.ok() || oti->transfer_length > limits_.max_object ||
        memory_ + oti->transfer_length > limits_.memory) {
      ++counters_.refused;
      return Outcome::kRefused;
    }
    auto canonical = fec::OtiForObject(oti->transfer_length);
    if (!canonical.ok() || !(*canonical == *oti)) {
      ++counters_.refused;
      return Outcome::kRefused;
    }
    auto decoder = fec::ObjectDecoder::Create(*oti);
    if (!decoder.ok()) {
      ++counters_.refused;
      return Outcome::kRefused;
    }
    it = pending_.emplace(key, Pending{std::move(*decoder), oti->transfer_length}).first;
    memory_ += it->second.size;
  }
  auto id = fec::PayloadId::Decode(h.payload_id);
  if (!id.ok()) return Outcome::kPending;
  auto progress = it->second.decoder.Add(id->sbn, id->esi, packet.symbol);
  if (!progress.ok() || *progress != fec::DecodeProgress::kComplete) return Outcome::kPending;

  std::vector<uint8_t> object = it->second.decoder.TakeObject();
  memory_ -= it->second.size;
  pending_.erase(it);
  const Hash hash = ObjectHash(h.kind, object);
  if (net::ObjectIdOf(hash) != h.object_id || net::GroupAddress(hash, scheme_) != group) {
    ++counters_.forged;
    return Outcome::kForged;
  }
  ++counters_.verified;
  // Other sources' decoders of the same object are of no more use.
  std::erase_if(pending_, [&](const auto& p) {
    const Key& k = p.first;
    if (std::get<0>(k) != group || std::get<2>(k) != h.object_id || std::get<3>(k) != h.kind)
      return false;
    memory_ -= p.second.size;
    return true;
  });
  known_.insert({group, h.object_id, h.kind});
  *name = hash;
  *kind = h.kind;
  *bytes = std::move(object);
  return Outcome::kVerified;
}

void ObjectCollector::ForgetGroup(const net::Ipv6Address& group) {
  std::erase_if(pending_, [&](const auto& p) {
    if (std::get<0>(p.first) != group) return false;
    memory_ -= p.second.size;
    return true;
  });
  std::erase_if(known_, [&](const auto& k) { return std::get<0>(k) == group; });
}

}  // namespace lcfs::relay
