#include "symbol_pool.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace lcfs::sync {
namespace {

// Largest step between two positions of one run: the exporter's stream
// advances by one position per packet, so a gap means lost packets. 16
// tolerates bursts of 15 losses while keeping garbage at arbitrary positions
// out of the run.
constexpr uint64_t kMaxRunStep = 16;

uint64_t Digest(std::span<const uint8_t> symbol) {
  // Only to notice that two payloads differ; never trusted for integrity.
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(symbol.data()), symbol.size()));
}

}  // namespace

SymbolPool::Seen SymbolPool::Add(uint8_t sbn, uint32_t esi, std::span<const uint8_t> symbol,
                                 bool keep, uint64_t* evicted_payload_bytes) {
  *evicted_payload_bytes = 0;
  const uint64_t position = uint64_t{esi} * blocks_ + sbn;
  const uint64_t digest = Digest(symbol);
  Slot& slot = slots_[position];
  for (uint8_t i = 0; i < slot.count; ++i) {
    const Entry* e = At(slot.seqs[i]);
    if (e == nullptr || e->digest != digest) continue;
    if (e->payload.empty() ||
        std::equal(e->payload.begin(), e->payload.end(), symbol.begin(), symbol.end()))
      return Seen::kDuplicate;
  }
  const Seen seen = slot.count == 0 ? Seen::kNew : Seen::kConflict;
  if (seen == Seen::kConflict) slot.contested = true;
  if (slot.count == kMaxVariants) {  // enough variants to choose from
    slot.lost = true;
    return seen;
  }
  while (entries_.size() >= capacity_ && !entries_.empty()) EvictOldest(evicted_payload_bytes);
  Slot& s = slots_[position];  // EvictOldest may have rehashed the map
  const uint64_t seq = first_seq_ + entries_.size();
  Entry e{position, digest, sbn, esi, {}};
  if (keep) {
    e.payload.assign(symbol.begin(), symbol.end());
    ++payloads_;
    payload_bytes_ += symbol.size();
  }
  entries_.push_back(std::move(e));
  s.seqs[s.count++] = seq;
  return seen;
}

void SymbolPool::EvictOldest(uint64_t* freed) {
  Entry& e = entries_.front();
  if (!e.payload.empty()) {
    --payloads_;
    payload_bytes_ -= e.payload.size();
    *freed += e.payload.size();
  }
  auto it = slots_.find(e.position);
  if (it != slots_.end()) {
    Slot& s = it->second;
    auto end = std::remove(s.seqs, s.seqs + s.count, first_seq_);
    s.count = static_cast<uint8_t>(end - s.seqs);
    s.lost = true;
    if (s.count == 0) slots_.erase(it);
  }
  entries_.pop_front();
  ++first_seq_;
}

uint64_t SymbolPool::DropPayloads() {
  const uint64_t freed = payload_bytes_;
  for (Entry& e : entries_) std::vector<uint8_t>().swap(e.payload);
  payloads_ = 0;
  payload_bytes_ = 0;
  return freed;
}

std::vector<uint64_t> SymbolPool::Choose(Subset subset) const {
  std::vector<uint64_t> chosen;
  if (!subset.run) {
    for (const auto& [position, slot] : slots_) {
      if (slot.count == 0) continue;
      if (slot.count == 1 && !slot.contested) {
        if (subset.singles) chosen.push_back(slot.seqs[0]);
        continue;
      }
      switch (subset.pick) {
        case Subset::kFirst:
          chosen.push_back(slot.seqs[0]);
          break;
        case Subset::kSecondLatest:
          if (slot.count >= 2) chosen.push_back(slot.seqs[slot.count - 2]);
          break;
        case Subset::kLatest:
          chosen.push_back(slot.seqs[slot.count - 1]);
          break;
      }
    }
  } else {
    // Longest chain in arrival order whose positions rise by 1..kMaxRunStep
    // at each step. For each position, the best chain ending there so far;
    // ties keep the earlier arrival (a real packet precedes its copies).
    struct Best {
      uint32_t length;
      uint64_t seq;
    };
    std::unordered_map<uint64_t, Best> best;
    std::vector<uint64_t> prev(entries_.size(), UINT64_MAX);
    uint32_t top = 0;
    uint64_t top_seq = UINT64_MAX;
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (e.payload.empty()) continue;
      uint32_t length = 1;
      for (uint64_t step = 1; step <= kMaxRunStep && step <= e.position; ++step) {
        auto b = best.find(e.position - step);
        if (b != best.end() && b->second.length + 1 > length) {
          length = b->second.length + 1;
          prev[i] = b->second.seq;
        }
      }
      const uint64_t seq = first_seq_ + i;
      auto [b, inserted] = best.try_emplace(e.position, Best{length, seq});
      if (!inserted && length > b->second.length) b->second = Best{length, seq};
      if (length > top) {
        top = length;
        top_seq = seq;
      }
    }
    for (uint64_t seq = top_seq; seq != UINT64_MAX; seq = prev[seq - first_seq_])
      chosen.push_back(seq);
  }
  std::sort(chosen.begin(), chosen.end());  // arrival order
  return chosen;
}

std::optional<SymbolPool::Symbol> SymbolPool::Get(uint64_t seq) const {
  const Entry* e = At(seq);
  if (e == nullptr || e->payload.empty()) return std::nullopt;
  return Symbol{e->sbn, e->esi, e->payload};
}

std::vector<uint64_t> SymbolPool::Rivals(uint64_t seq) const {
  std::vector<uint64_t> rivals;
  const Entry* e = At(seq);
  if (e == nullptr) return rivals;
  auto it = slots_.find(e->position);
  if (it == slots_.end()) return rivals;
  for (uint8_t i = 0; i < it->second.count; ++i) {
    const uint64_t other = it->second.seqs[i];
    const Entry* o = At(other);
    if (other != seq && o != nullptr && !o->payload.empty()) rivals.push_back(other);
  }
  return rivals;
}

bool SymbolPool::Uncontested(uint64_t seq) const {
  const Entry* e = At(seq);
  if (e == nullptr) return false;
  auto it = slots_.find(e->position);
  return it != slots_.end() && it->second.count == 1 && !it->second.contested;
}

bool SymbolPool::Intact(uint64_t seq) const {
  const Entry* e = At(seq);
  if (e == nullptr) return false;
  auto it = slots_.find(e->position);
  if (it == slots_.end() || it->second.lost) return false;
  for (uint8_t i = 0; i < it->second.count; ++i) {
    const Entry* v = At(it->second.seqs[i]);
    if (v == nullptr || v->payload.empty()) return false;  // seen before payloads were kept
  }
  return true;
}

bool SymbolPool::Feed(Subset subset, fec::ObjectDecoder& decoder) const {
  for (uint64_t seq : Choose(subset)) {
    const Entry* e = At(seq);
    if (e == nullptr || e->payload.empty()) continue;
    auto progress = decoder.Add(e->sbn, e->esi, e->payload);
    if (!progress.ok()) return false;
    if (*progress == fec::DecodeProgress::kComplete) break;
  }
  return true;
}

}  // namespace lcfs::sync
