#include "object_assembler.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "lcfs/fec/combination.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"

namespace lcfs::sync {
namespace {

// Symbols a decoder keeps per block beyond K (fec/decoder.cc): the pool is
// sized from the same figure.
constexpr uint64_t kExtraPerBlock = 40;
// Positions whose payloads a resolve checks the run's decode against, per
// block.
constexpr size_t kCheckPositions = 5;
// A check settles at most T - kCheckMargin unknowns: with more, a forged
// check could fit some combination of them by chance.
constexpr size_t kCheckMargin = 64;
// Checks whose residuals find forged entries by their syndrome
// (ObjectAssembler::FindForged), and the dimensions they keep spare: at most
// kSyndromeChecks - kSyndromeMargin forged entries are found at once, and a
// real entry is taken for a forged one with a chance of 256^-kSyndromeMargin.
constexpr size_t kSyndromeChecks = 128;
constexpr size_t kMinSyndromeChecks = 16;
constexpr size_t kSyndromeMargin = 6;

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
  // Pool entries a syndrome showed forged (ObjectAssembler::FindForged):
  // left out of every later decode.
  std::unordered_set<uint64_t> forged;
};

uint64_t MaxObjectSize(ObjectKind kind) {
  return kind == ObjectKind::kDirectory ? index::kMaxDirectoryObjectSize : index::kMaxChunkSize;
}

ObjectAssembler::ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size,
                                 uint64_t max_size, DecoderBudget* budget, BufferPool* buffers)
    : hash_(hash),
      kind_(kind),
      expected_size_(expected_size),
      max_size_(max_size),
      budget_(budget),
      buffers_(buffers) {
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
      auto decoder = fec::ObjectDecoder::Create(c->oti, buffers_);
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
  if (c.pool->RunLength() >= c.needed && Resolve(c)) return true;
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

// Decodes the run; if its bytes do not verify, finds from a check symbol
// which of its contested symbols were not the sender's, puts their rivals in
// their place and decodes once more.
//
// Why one check symbol suffices: for a fixed list of ESIs, decoding and then
// encoding symbol j is linear in the payloads, applied to each of the T byte
// columns alike. If the run's payload a_i at a contested position is forged
// and its rival b_i is real, the check's residual (received minus
// re-encoded) is sum_i g_ji (a_i - b_i), with g_ji a scalar per position:
// T equations for as many unknowns as there are rivals, solved by
// fec::SolveCombination. Rivals left undetermined (differences that are
// linearly dependent, such as many copies altered in the same bytes) keep
// the run's payload, which the run picked by arrival order. Cost: three
// decodes' worth (decode, re-encode, decode) and the elimination.
bool ObjectAssembler::Resolve(Candidate& c) {
  const SymbolPool& pool = *c.pool;
  const std::vector<uint64_t> run = pool.Members(SymbolPool::kRun);
  auto decode = [&](const std::unordered_map<uint64_t, uint64_t>& swaps,
                    const std::unordered_set<uint64_t>& skip,
                    std::vector<uint64_t>* fed) -> std::optional<fec::ObjectDecoder> {
    auto decoder = fec::ObjectDecoder::Create(c.oti);
    if (!decoder.ok()) return std::nullopt;
    for (uint64_t seq : run) {
      if (skip.contains(seq)) continue;
      auto swap = swaps.find(seq);
      auto s = pool.Get(swap == swaps.end() ? seq : swap->second);
      // A position that lost a payload may have lost the sender's: its
      // entry cannot be checked, so it is left out.
      if (!s || decoder->BlockComplete(s->sbn) || !pool.Intact(seq)) continue;
      if (!decoder->Add(s->sbn, s->esi, s->payload).ok()) return std::nullopt;
      if (fed != nullptr) fed->push_back(seq);
      if (decoder->complete()) break;
    }
    if (!decoder->complete()) return std::nullopt;
    return std::move(decoder).value();
  };
  auto verify = [&](fec::ObjectDecoder& decoder) {
    ++counters_.retries;
    if (ObjectHash(kind_, decoder.object()) == hash_) {
      ++counters_.recovered;
      Accept(c, decoder.TakeObject());
      return true;
    }
    ++counters_.verify_failures;
    return false;
  };
  std::vector<uint64_t> fed;
  auto first = decode({}, c.forged, &fed);
  if (!first) return false;
  if (verify(*first)) return true;
  auto encoder = fec::ObjectEncoder::Create(c.oti, first->object());
  if (!encoder.ok()) return false;

  const size_t t = c.oti.symbol_size;
  const std::unordered_set<uint64_t> used(fed.begin(), fed.end());
  // Checks, by position: the positions the run holds beyond the decode
  // with every payload seen there (the exporter's, and a forger's copies),
  // then positions where nobody contested the one payload.
  std::vector<std::vector<uint64_t>> checks;
  for (uint64_t seq : run) {
    if (used.contains(seq) || !pool.Intact(seq)) continue;
    checks.push_back(pool.Rivals(seq));
    checks.back().push_back(seq);
  }
  for (uint64_t seq = pool.first_seq(); seq < pool.end_seq(); ++seq)
    if (!used.contains(seq) && pool.Uncontested(seq) && pool.Get(seq)) checks.push_back({seq});
  std::unordered_map<uint64_t, uint64_t> swaps;  // run entry -> its rival
  std::vector<uint8_t> encoded(t);
  for (uint32_t sbn = 0; sbn < c.oti.source_blocks; ++sbn) {
    std::vector<std::pair<uint64_t, uint64_t>> unknowns;  // (run entry, rival)
    std::vector<std::vector<uint8_t>> differences;
    for (uint64_t seq : fed) {
      auto a = pool.Get(seq);
      if (!a || a->sbn != sbn) continue;
      for (uint64_t rival : pool.Rivals(seq)) {
        auto b = pool.Get(rival);
        std::vector<uint8_t> d(a->payload.begin(), a->payload.end());
        for (size_t i = 0; i < t; ++i) d[i] ^= b->payload[i];
        unknowns.emplace_back(seq, rival);
        differences.push_back(std::move(d));
      }
    }
    if (unknowns.empty() || unknowns.size() + kCheckMargin > t) continue;
    // Residuals of the checks at up to kCheckPositions positions of this
    // block, solved at once. A forged payload's residual fits no combination
    // (garbage), or fits one with an extra coefficient (a copy altered in
    // the bytes other copies were: their difference is in the span); so at
    // each position the fit with the fewest coefficients counts, and a swap
    // is made when most positions' fits call for it (a forged run entry
    // that one check does not depend on, its coefficient there 0, the
    // others still show).
    std::vector<std::vector<uint8_t>> residuals;
    std::vector<size_t> group_of;
    size_t groups = 0;
    for (const auto& group : checks) {
      if (groups == kCheckPositions) break;
      bool any = false;
      for (uint64_t seq : group) {
        auto check = pool.Get(seq);
        if (!check || check->sbn != sbn) continue;
        if (!encoder->Symbol(static_cast<uint8_t>(sbn), check->esi, encoded).ok()) continue;
        for (size_t i = 0; i < t; ++i) encoded[i] ^= check->payload[i];
        residuals.push_back(encoded);
        group_of.push_back(groups);
        any = true;
      }
      groups += any;
    }
    std::vector<std::span<const uint8_t>> vectors(differences.begin(), differences.end());
    std::vector<std::span<const uint8_t>> rs(residuals.begin(), residuals.end());
    const auto fits = fec::SolveCombinations(vectors, rs);
    std::vector<std::optional<std::vector<size_t>>> best(groups);  // nonzero unknowns
    for (size_t i = 0; i < fits.size(); ++i) {
      if (!fits[i]) continue;
      std::vector<size_t> nonzero;
      for (size_t k = 0; k < unknowns.size(); ++k)
        if ((*fits[i])[k] != 0) nonzero.push_back(k);
      auto& b = best[group_of[i]];
      if (!b || nonzero.size() < b->size()) b = std::move(nonzero);
    }
    size_t fitted = 0;
    std::unordered_map<size_t, size_t> votes;
    for (const auto& b : best) {
      if (!b) continue;
      ++fitted;
      for (size_t k : *b) ++votes[k];
    }
    for (const auto& [k, v] : votes)
      if (2 * v > fitted) swaps.try_emplace(unknowns[k].first, unknowns[k].second);
  }
  if (!swaps.empty()) {
    if (auto second = decode(swaps, {}, nullptr); second && verify(*second)) return true;
  }
  // Forged entries no rival explains (the sender's packet at that position
  // was lost): found by their syndrome and left out, here and in later
  // tries; once more from the decode without them (what the first syndrome
  // missed stands out better without the rest).
  for (int round = 0; round < 2; ++round) {
    const std::unordered_set<uint64_t> forged = FindForged(c, run, fed, *encoder);
    if (forged.empty()) return false;
    c.forged.insert(forged.begin(), forged.end());
    fed.clear();
    auto next = decode({}, c.forged, &fed);
    if (!next) return false;
    if (verify(*next)) return true;
    encoder = fec::ObjectEncoder::Create(c.oti, next->object());
    if (!encoder.ok()) return false;
    first = std::move(next);  // the encoder reads its bytes
  }
  return false;
}

// Which of the run's entries `fed` to a decode (whose re-encoder is
// `encoder`) were forged, from the residuals of J checks (entries nobody
// contested beyond the decode). For a real check j the residual is
// sum_i g_ji e_i over the fed entries, e_i the forged entry's error (a whole
// symbol) and g_ji a scalar; so the residuals' columns (one per byte of the
// symbols, J bytes each) span the same space as the vectors (g_ji)_j of the
// forged entries, and a real entry's vector lies outside it (a chance of
// 256^(rank - J)). The g_ji come from decoding unit vectors in place of the
// payloads, with the same ESIs in the same order, and re-encoding: a decode
// and an encode with symbols of |fed| bytes. One source block only (every
// object of up to 8 MiB); errors confined to a few bytes (a forger's
// altered copies) span little and are left to the rivals.
std::unordered_set<uint64_t> ObjectAssembler::FindForged(const Candidate& c,
                                                         const std::vector<uint64_t>& run,
                                                         const std::vector<uint64_t>& fed,
                                                         fec::ObjectEncoder& encoder) {
  const SymbolPool& pool = *c.pool;
  if (c.oti.source_blocks != 1 || fed.empty()) return {};
  const std::unordered_set<uint64_t> used(fed.begin(), fed.end());
  std::vector<SymbolPool::Symbol> checks;
  for (uint64_t seq : run) {
    if (checks.size() == kSyndromeChecks) break;
    if (!used.contains(seq) && pool.Uncontested(seq)) checks.push_back(*pool.Get(seq));
  }
  if (checks.size() < kMinSyndromeChecks) return {};
  const size_t j_count = checks.size();

  // g: the fed entries' coefficients in each check.
  const size_t width = (fed.size() + 3) / 4 * 4;
  fec::Oti unit{c.needed * width, static_cast<uint16_t>(width), 1, 1, 4};
  if (width > UINT16_MAX || !unit.Validate().ok()) return {};
  auto decoder = fec::ObjectDecoder::Create(unit);
  if (!decoder.ok()) return {};
  std::vector<uint8_t> payload(width);
  for (size_t i = 0; i < fed.size(); ++i) {
    auto s = pool.Get(fed[i]);
    std::fill(payload.begin(), payload.end(), 0);
    payload[i] = 1;
    if (!decoder->Add(s->sbn, s->esi, payload).ok()) return {};
  }
  if (!decoder->complete()) return {};
  auto unit_encoder = fec::ObjectEncoder::Create(unit, decoder->object());
  if (!unit_encoder.ok()) return {};

  const size_t t = c.oti.symbol_size;
  std::vector<std::vector<uint8_t>> residuals(j_count, std::vector<uint8_t>(t));
  std::vector<std::vector<uint8_t>> g(j_count, std::vector<uint8_t>(width));
  for (size_t j = 0; j < j_count; ++j) {
    if (!encoder.Symbol(checks[j].sbn, checks[j].esi, residuals[j]).ok() ||
        !unit_encoder->Symbol(checks[j].sbn, checks[j].esi, g[j]).ok())
      return {};
    for (size_t b = 0; b < t; ++b) residuals[j][b] ^= checks[j].payload[b];
  }
  fec::Span span(j_count);
  std::vector<uint8_t> column(j_count);
  for (size_t b = 0; b < t; ++b) {
    for (size_t j = 0; j < j_count; ++j) column[j] = residuals[j][b];
    span.Add(column);
    // Too many forged entries (or forged checks) to tell from J checks.
    if (span.rank() + kSyndromeMargin > j_count) return {};
  }
  std::unordered_set<uint64_t> forged;
  for (size_t i = 0; i < fed.size(); ++i) {
    for (size_t j = 0; j < j_count; ++j) column[j] = g[j][i];
    if (span.Contains(column)) forged.insert(fed[i]);
  }
  return forged;
}

bool ObjectAssembler::Verified(Candidate& c, std::vector<uint8_t> bytes) {
  if (ObjectHash(kind_, bytes) != hash_) {
    if (buffers_ != nullptr) buffers_->Give(std::move(bytes));
    return false;
  }
  Accept(c, std::move(bytes));
  return true;
}

void ObjectAssembler::Accept(Candidate& c, std::vector<uint8_t> bytes) {
  const uint64_t t = c.oti.symbol_size;
  counters_.symbols_needed = (c.oti.transfer_length + t - 1) / t;
  c.symbols = 0;                                                // contributed
  for (size_t i = candidates_.size(); i > 0; --i) Drop(i - 1);  // frees the memory now
  verified_ = std::move(bytes);
}

std::vector<uint8_t> ObjectAssembler::TakeObject() {
  std::vector<uint8_t> out = std::move(*verified_);
  verified_.emplace();  // stays complete, now empty
  return out;
}

}  // namespace lcfs::sync
