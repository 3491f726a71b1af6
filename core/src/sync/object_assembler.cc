#include "object_assembler.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"

namespace lcfs::sync {

// One decoder: the symbols of one source announcing one OTI.
struct ObjectAssembler::Candidate {
  net::Ipv6Address source;
  std::array<uint8_t, net::kOtiSize> oti_bytes{};
  fec::Oti oti;
  std::optional<fec::ObjectDecoder> decoder;
  uint64_t symbols = 0;  // given to the current decoder
};

uint64_t MaxObjectSize(ObjectKind kind) {
  return kind == ObjectKind::kDirectory ? index::kMaxDirectoryObjectSize : index::kMaxChunkSize;
}

ObjectAssembler::ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size,
                                 uint64_t max_size)
    : hash_(hash), kind_(kind), expected_size_(expected_size), max_size_(max_size) {}

ObjectAssembler::~ObjectAssembler() = default;

ObjectAssembler::Candidate* ObjectAssembler::FindOrCreate(const net::PacketView& packet,
                                                          const net::Ipv6Address& source) {
  for (auto& c : candidates_) {
    if (c->source == source && c->oti_bytes == packet.header.oti) return c.get();
  }
  if (candidates_.size() >= kMaxCandidates) return nullptr;
  auto oti = fec::Oti::Decode(packet.header.oti);
  if (!oti.ok()) return nullptr;
  const uint64_t f = oti->transfer_length;
  if (f > max_size_ || (expected_size_ != 0 && f != expected_size_)) return nullptr;
  auto decoder = fec::ObjectDecoder::Create(*oti);
  if (!decoder.ok()) return nullptr;
  auto c = std::make_unique<Candidate>();
  c->source = source;
  c->oti_bytes = packet.header.oti;
  c->oti = *oti;
  c->decoder.emplace(std::move(decoder).value());
  candidates_.push_back(std::move(c));
  return candidates_.back().get();
}

bool ObjectAssembler::Add(const net::PacketView& packet, const net::Ipv6Address& source) {
  if (complete()) return true;
  Candidate* c = FindOrCreate(packet, source);
  if (c == nullptr) {
    ++counters_.rejected;
    return false;
  }
  auto id = fec::PayloadId::Decode(packet.header.payload_id);
  if (!id.ok()) {
    ++counters_.rejected;
    return false;
  }
  if (!c->decoder) {  // reset after a failed verification: start afresh
    auto decoder = fec::ObjectDecoder::Create(c->oti);
    if (!decoder.ok()) {
      ++counters_.rejected;
      return false;
    }
    c->decoder.emplace(std::move(decoder).value());
  }
  auto progress = c->decoder->Add(id->sbn, id->esi, packet.symbol);
  if (!progress.ok()) {  // SBN/ESI out of range for this OTI: not a symbol of it
    ++counters_.rejected;
    return false;
  }
  ++counters_.symbols;
  ++c->symbols;
  if (*progress != fec::DecodeProgress::kComplete) return false;

  std::vector<uint8_t> bytes = c->decoder->TakeObject();
  if (ObjectHash(kind_, bytes) != hash_) {
    // Garbage (or symbols from two senders mixed under one address): drop
    // everything this decoder had and collect again.
    ++counters_.verify_failures;
    counters_.discarded += c->symbols;
    c->symbols = 0;
    c->decoder.reset();
    return false;
  }
  const uint64_t t = c->oti.symbol_size;
  counters_.symbols_needed = (c->oti.transfer_length + t - 1) / t;
  for (const auto& other : candidates_) {
    if (other.get() != c) counters_.discarded += other->symbols;
  }
  candidates_.clear();  // frees the decoders' memory now
  verified_ = std::move(bytes);
  return true;
}

std::vector<uint8_t> ObjectAssembler::TakeObject() {
  std::vector<uint8_t> out = std::move(*verified_);
  verified_.emplace();  // stays complete, now empty
  return out;
}

}  // namespace lcfs::sync
