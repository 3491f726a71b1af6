#include "object_assembler.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"

namespace lcfs::sync {
namespace {

// Symbols a decoder keeps per block beyond K (fec/decoder.cc): the pool is
// sized from the same figure.
constexpr uint64_t kExtraPerBlock = 40;

}  // namespace

// One decoder: the symbols of one source announcing one OTI.
struct ObjectAssembler::Candidate {
  net::Ipv6Address source;
  std::array<uint8_t, net::kOtiSize> oti_bytes{};
  fec::Oti oti;
  std::optional<fec::ObjectDecoder> decoder;
  uint64_t symbols = 0;     // given to the current decoder
  uint64_t accepted = 0;    // given to any decoder of this candidate
  uint64_t created_at = 0;  // the assembler's packet count then
  uint32_t failures = 0;    // decodes that did not verify
  uint64_t charged = 0;     // decoder bytes charged to the budget
  uint64_t pool_charged = 0;
  bool keep = false;    // the pool keeps payloads (forgery suspected)
  bool pooled = false;  // a decode failed: subsets of the pool, not the decoder
  std::optional<SymbolPool> pool;
  bool uncharged = false;  // the decoder the request needs (not charged)
  ObjectAssembler::Clock::time_point last_packet{};
  // Another sender whose symbols this decoder also takes (this one went
  // silent: a replica carries on).
  std::optional<net::Ipv6Address> heir;
  uint64_t needed = 0;         // source symbols of the object, ceil(F / T)
  uint64_t since_run_try = 0;  // symbols since the run was last measured
  size_t next_subset = 0;      // which other subset the next step tries
  uint32_t run_failures = 0;   // TryRun decodes that did not verify
};

uint64_t MaxObjectSize(ObjectKind kind) {
  return kind == ObjectKind::kDirectory ? index::kMaxDirectoryObjectSize : index::kMaxChunkSize;
}

ObjectAssembler::ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size,
                                 uint64_t max_size, DecoderBudget* budget)
    : hash_(hash),
      kind_(kind),
      expected_size_(expected_size),
      max_size_(max_size),
      budget_(budget) {
  if (expected_size_ != 0) {
    auto oti = fec::OtiForObject(expected_size_);
    if (oti.ok()) {
      has_expected_oti_ = true;
      expected_oti_ = oti->Encode();
    }
  }
}

ObjectAssembler::~ObjectAssembler() {
  for (size_t i = candidates_.size(); i > 0; --i) Drop(i - 1);
}

uint64_t ObjectAssembler::memory() const {
  uint64_t bytes = 0;
  for (const auto& c : candidates_) {
    if (c->decoder) bytes += c->oti.transfer_length;
    bytes += c->pool->memory();
  }
  return bytes;
}

void ObjectAssembler::Drop(size_t index) {
  Candidate& c = *candidates_[index];
  if (budget_ != nullptr) budget_->Release(c.charged + c.pool_charged);
  counters_.discarded += c.symbols;
  candidates_.erase(candidates_.begin() + static_cast<ptrdiff_t>(index));
}

// Frees a decoder slot for a new sender: the candidate that failed most, or
// with the smallest share of the packets since it was created; never one
// still on probation.
bool ObjectAssembler::MakeRoom() {
  size_t victim = SIZE_MAX;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const Candidate& c = *candidates_[i];
    const uint64_t age = packets_ - c.created_at;
    if (age < kProbationPackets || c.heir) continue;  // an heir is being fed
    if (victim == SIZE_MAX) {
      victim = i;
      continue;
    }
    const Candidate& v = *candidates_[victim];
    if (c.failures != v.failures) {
      if (c.failures > v.failures) victim = i;
      continue;
    }
    // accepted / age, compared without division.
    const uint64_t v_age = packets_ - v.created_at;
    if (static_cast<unsigned __int128>(c.accepted) * v_age <
        static_cast<unsigned __int128>(v.accepted) * age)
      victim = i;
  }
  if (victim == SIZE_MAX) return false;
  Drop(victim);
  ++counters_.evicted;
  return true;
}

ObjectAssembler::Candidate* ObjectAssembler::Find(const net::PacketView& packet,
                                                  const net::Ipv6Address& source) {
  for (auto& c : candidates_) {
    if (c->source == source && c->oti_bytes == packet.header.oti) return c.get();
  }
  return nullptr;
}

// The decoder that also takes `source`'s symbols: the one already paired
// with it, or, for a sender new to this object, one of the same OTI whose
// own sender has been silent for kHandover and never failed verification.
ObjectAssembler::Candidate* ObjectAssembler::Heir(const net::PacketView& packet,
                                                  const net::Ipv6Address& source,
                                                  Clock::time_point now, bool new_sender) {
  for (auto& c : candidates_)
    if (c->heir == source && c->oti_bytes == packet.header.oti) return c.get();
  if (!new_sender) return nullptr;
  for (auto& c : candidates_) {
    if (c->source == source || c->heir || !c->decoder || c->failures != 0 || c->symbols == 0 ||
        c->oti_bytes != packet.header.oti || now - c->last_packet < kHandover)
      continue;
    c->heir = source;
    return c.get();
  }
  return nullptr;
}

// Gives a symbol of the heir's sender to the silent sender's decoder.
bool ObjectAssembler::FeedHeir(Candidate& h, uint8_t sbn, uint32_t esi,
                               std::span<const uint8_t> symbol) {
  auto progress = h.decoder->Add(sbn, esi, symbol);
  if (!progress.ok() || *progress != fec::DecodeProgress::kComplete) return false;
  if (Verified(h, h.decoder->TakeObject())) return true;
  // One of the two spoiled it: each goes on alone.
  ++counters_.verify_failures;
  counters_.discarded += h.symbols;
  h.symbols = 0;
  h.decoder.reset();
  h.heir.reset();
  return false;
}

ObjectAssembler::Candidate* ObjectAssembler::Create(const net::PacketView& packet,
                                                    const net::Ipv6Address& source,
                                                    Clock::time_point now) {
  auto oti = fec::Oti::Decode(packet.header.oti);
  if (!oti.ok()) return nullptr;
  const uint64_t f = oti->transfer_length;
  if (f > max_size_ || (expected_size_ != 0 && f != expected_size_)) return nullptr;
  if (candidates_.size() >= kMaxCandidates && !MakeRoom()) {
    ++counters_.over_budget;
    return nullptr;
  }
  // The decoder the request needs (an object we know the size of) is not
  // charged; every other one is. Held by the first sender, it passes to the
  // next decoder made once that sender's is evicted.
  auto uncharged_free = [&] {
    return has_expected_oti_ && std::none_of(candidates_.begin(), candidates_.end(),
                                             [](const auto& c) { return c->uncharged; });
  };
  uint64_t charge = uncharged_free() ? 0 : f;
  if (charge != 0 && budget_ != nullptr && !budget_->TryCharge(charge)) {
    if (candidates_.empty() || !MakeRoom()) {
      ++counters_.over_budget;
      return nullptr;
    }
    charge = uncharged_free() ? 0 : f;
    if (charge != 0 && !budget_->TryCharge(charge)) {
      ++counters_.over_budget;
      return nullptr;
    }
  }
  auto c = std::make_unique<Candidate>();
  c->source = source;
  c->oti_bytes = packet.header.oti;
  c->oti = *oti;
  c->created_at = packets_;
  c->last_packet = now;
  c->uncharged = has_expected_oti_ && charge == 0;
  c->charged = budget_ != nullptr ? charge : 0;
  const uint64_t t = oti->symbol_size;
  const uint64_t needed = (f + t - 1) / t + kExtraPerBlock * oti->source_blocks;
  c->needed = (f + t - 1) / t;
  c->pool.emplace(oti->source_blocks, static_cast<size_t>(kPoolFactor * needed));
  candidates_.push_back(std::move(c));
  return candidates_.back().get();
}

void ObjectAssembler::Suspect(Candidate& c) { c.keep = true; }

void ObjectAssembler::Distrust(Candidate& c) {
  c.keep = true;
  c.pooled = true;
  counters_.discarded += c.symbols;
  c.symbols = 0;
  c.decoder.reset();
}

bool ObjectAssembler::Add(const net::PacketView& packet, const net::Ipv6Address& source,
                          Clock::time_point now) {
  if (complete()) return true;
  ++packets_;
  if (has_expected_oti_ && packet.header.oti != expected_oti_) {
    // Not how the exporter sends an object of this size: refused before
    // anything is allocated for it.
    ++counters_.rejected;
    ++counters_.wrong_oti;
    return false;
  }
  auto id = fec::PayloadId::Decode(packet.header.payload_id);
  if (!id.ok()) {
    ++counters_.rejected;
    return false;
  }
  Candidate* c = Find(packet, source);
  // Paired before Create, so making room never evicts the silent decoder
  // about to take this sender's symbols.
  Candidate* heir = Heir(packet, source, now, c == nullptr);
  if (c == nullptr) c = Create(packet, source, now);
  if (heir != nullptr && FeedHeir(*heir, id->sbn, id->esi, packet.symbol)) return true;
  if (c == nullptr) {
    if (heir == nullptr) ++counters_.rejected;
    return false;
  }
  c->last_packet = now;
  // A decode failed and the pool keeps payloads: the decoder fed with every
  // symbol would only fail again (the forger's come in at its rate) and each
  // failure costs a whole decode; subsets of the pool are decoded instead, at
  // the points TryRun picks. (Before that, after a conflict only, the
  // decoder goes on: it keeps the first payload of each position, which is
  // the real one when the forger copies what it hears.)
  const bool pooled = c->pooled;
  std::optional<fec::DecodeProgress> progress;
  if (pooled) {
    if (id->sbn >= c->oti.source_blocks) {  // what the decoder would refuse
      ++counters_.rejected;
      return false;
    }
  } else {
    if (!c->decoder) {  // new, or reset after a failed verification
      auto decoder = fec::ObjectDecoder::Create(c->oti);
      if (!decoder.ok()) {
        ++counters_.rejected;
        return false;
      }
      c->decoder.emplace(std::move(decoder).value());
    }
    auto added = c->decoder->Add(id->sbn, id->esi, packet.symbol);
    if (!added.ok()) {  // SBN/ESI out of range for this OTI: not a symbol of it
      ++counters_.rejected;
      return false;
    }
    progress = *added;
  }
  ++counters_.symbols;
  ++c->symbols;
  ++c->accepted;

  uint64_t freed = 0;
  const auto seen = c->pool->Add(id->sbn, id->esi, packet.symbol, c->keep, &freed);
  if (budget_ != nullptr) {
    // Keep the budget equal to what the pool holds; past the budget the
    // pool stops keeping payloads (decoding goes on without retries).
    const uint64_t held = c->pool->payload_bytes();
    if (held < c->pool_charged) {
      budget_->Release(c->pool_charged - held);
      c->pool_charged = held;
    } else if (held > c->pool_charged) {
      if (budget_->TryCharge(held - c->pool_charged)) {
        c->pool_charged = held;
      } else {
        c->pool->DropPayloads();
        budget_->Release(c->pool_charged);
        c->pool_charged = 0;
        c->keep = false;  // the next symbols go to a fresh decoder again
        c->pooled = false;
      }
    }
  }
  (void)freed;
  if (seen == SymbolPool::Seen::kConflict) {
    ++counters_.conflicts;
    Suspect(*c);
  }
  if (pooled) return c->keep && TryRun(*c);
  if (*progress != fec::DecodeProgress::kComplete) return false;

  if (Verified(*c, c->decoder->TakeObject())) return true;
  // Garbage (forged symbols mixed in under this address): from here the
  // pool keeps payloads and its subsets are decoded instead.
  ++counters_.verify_failures;
  ++c->failures;
  const bool kept = c->keep;
  Distrust(*c);
  return kept && TryRun(*c, /*now=*/true);
}

// While forgery is suspected: once the pool holds enough symbols, and then
// every sixteenth of the object's symbols (twice that after each try that
// failed, up to a whole object's), the run is decoded if it may suffice,
// then one other subset. Measuring the run is cheap (16 lookups per pooled
// symbol); at most two decodes per try.
bool ObjectAssembler::TryRun(Candidate& c, bool now) {
  const uint64_t step = std::max<uint64_t>(c.needed / 16, 4);
  // Each fruitless try doubles the symbols the next one waits for, up to a
  // whole object's: a decode costs milliseconds, and a forger must not make
  // us spend them per packet.
  const uint64_t wait = step << std::min<uint32_t>(c.run_failures, 4);
  if ((++c.since_run_try < wait && !now) || c.pool->payloads() < c.needed) return false;
  c.since_run_try = 0;
  const uint64_t decodes = counters_.retries;  // subsets too small cost nothing
  if (c.pool->RunLength() >= c.needed && DecodeSubset(c, SymbolPool::kRun)) return true;
  // The run holds a forged symbol (garbage sent just ahead of the real one
  // ties with it): one other subset per try, in turn.
  constexpr size_t kOthers = std::size(SymbolPool::kAllSubsets) - 1;
  if (DecodeSubset(c, SymbolPool::kAllSubsets[1 + c.next_subset++ % kOthers])) return true;
  if (counters_.retries != decodes) ++c.run_failures;
  return false;
}

// Decodes `subset` of c's pool afresh; true if it gave the object.
bool ObjectAssembler::DecodeSubset(Candidate& c, SymbolPool::Subset subset) {
  auto decoder = fec::ObjectDecoder::Create(c.oti);
  if (!decoder.ok()) return false;
  if (!c.pool->Feed(subset, *decoder) || !decoder->complete()) return false;
  ++counters_.retries;
  if (Verified(c, decoder->TakeObject())) {
    ++counters_.recovered;
    return true;
  }
  ++counters_.verify_failures;
  return false;
}

bool ObjectAssembler::Verified(Candidate& c, std::vector<uint8_t> bytes) {
  if (ObjectHash(kind_, bytes) != hash_) return false;
  const uint64_t t = c.oti.symbol_size;
  counters_.symbols_needed = (c.oti.transfer_length + t - 1) / t;
  c.symbols = 0;                                                // contributed
  for (size_t i = candidates_.size(); i > 0; --i) Drop(i - 1);  // frees the memory now
  verified_ = std::move(bytes);
  return true;
}

std::vector<uint8_t> ObjectAssembler::TakeObject() {
  std::vector<uint8_t> out = std::move(*verified_);
  verified_.emplace();  // stays complete, now empty
  return out;
}

}  // namespace lcfs::sync
