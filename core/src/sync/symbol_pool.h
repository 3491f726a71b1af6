// SymbolPool: the recent symbols of one (sender, OTI) decoder, kept so that a
// decode spoiled by forged symbols can be retried from a subset of them.
//
// A host forging the exporter's source address can put symbols into the
// exporter's decoder: copies of real packets with their payload altered, and
// garbage at positions the exporter has not sent (yet). The exporter sends
// each object's symbols in a known order (docs/protocol.md section 9: stream
// position n = ESI * Z + SBN, increasing by one per packet), so its packets
// arrive as a run of consecutive positions; a copy of a real packet arrives
// after the real one at the same position; garbage sits outside the run or
// collides with a real symbol. The pool remembers, per position, up to
// kMaxVariants distinct payloads in arrival order, and offers subsets to
// decode from: the longest run of near-consecutive positions in arrival
// order, or one chosen payload per position (see Subset).
//
// Bounds: at most `capacity` entries (the oldest go first); payloads only
// while Keep() is on (the receiver turns it on at the first sign of forgery:
// a conflict or a failed verification), otherwise 16 bytes per symbol to
// notice conflicts. Receive thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "lcfs/fec/decoder.h"

namespace lcfs::sync {

class SymbolPool {
 public:
  static constexpr size_t kMaxVariants = 3;
  // Bytes an entry costs beyond its payload (bookkeeping).
  static constexpr size_t kEntryOverhead = 64;

  // `blocks`: Z of the OTI, to order positions as the exporter sends them.
  SymbolPool(uint32_t blocks, size_t capacity) : blocks_(blocks), capacity_(capacity) {}

  enum class Seen { kNew, kDuplicate, kConflict };
  // Records a symbol; keeps its payload when `keep` (the caller charged
  // PayloadCost for it). kConflict: another payload was seen at this position.
  // `evicted_payload_bytes` gets the payload bytes freed to stay in capacity.
  Seen Add(uint8_t sbn, uint32_t esi, std::span<const uint8_t> symbol, bool keep,
           uint64_t* evicted_payload_bytes);

  // Which payloads to decode from. Either the run (the longest chain of
  // near-consecutive positions in arrival order), or one payload per
  // contested position (`pick`) plus, if `singles`, every uncontested one.
  // A forger copying the exporter's packets puts its copies after the
  // original (kFirst); one racing ahead of the stream puts its garbage first
  // (kLatest), and with copies as well, the original is second to last.
  struct Subset {
    enum Pick : uint8_t { kFirst, kSecondLatest, kLatest };
    bool run = false;
    Pick pick = kFirst;
    bool singles = true;
  };
  static constexpr Subset kAllSubsets[] = {
      {true, Subset::kFirst, true},          {false, Subset::kFirst, true},
      {false, Subset::kLatest, true},        {false, Subset::kSecondLatest, true},
      {false, Subset::kFirst, false},        {false, Subset::kLatest, false},
      {false, Subset::kSecondLatest, false},
  };
  static constexpr Subset kRun = {true, Subset::kFirst, true};
  // Feeds the chosen subset to `decoder` (in arrival order); false if the
  // decoder refused a symbol (cannot happen for symbols it accepted before).
  bool Feed(Subset subset, fec::ObjectDecoder& decoder) const;
  // Symbols with payloads in the run (Subset kRun): whether it may decode yet.
  size_t RunLength() const { return Choose(kRun).size(); }

  // Entries by sequence number (arrival order), for a decode whose result is
  // checked against the symbols it left out (ObjectAssembler::Resolve).
  struct Symbol {
    uint8_t sbn;
    uint32_t esi;
    std::span<const uint8_t> payload;
  };
  // The sequence numbers of `subset`, in arrival order.
  std::vector<uint64_t> Members(Subset subset) const { return Choose(subset); }
  // Sequence numbers held: [first_seq(), end_seq()).
  uint64_t first_seq() const { return first_seq_; }
  uint64_t end_seq() const { return first_seq_ + entries_.size(); }
  // Entry `seq`; nullopt when it was evicted or holds no payload.
  std::optional<Symbol> Get(uint64_t seq) const;
  // The other entries with payloads at `seq`'s position (another payload
  // there: one of the two is not the sender's).
  std::vector<uint64_t> Rivals(uint64_t seq) const;
  // Whether only one payload was ever seen at `seq`'s position.
  bool Uncontested(uint64_t seq) const;
  // Whether every payload seen at `seq`'s position is held (none refused,
  // aged out, or seen before payloads were kept): then the sender's is among
  // them if any is.
  bool Intact(uint64_t seq) const;

  size_t payloads() const { return payloads_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  // Payload bytes plus bookkeeping.
  uint64_t memory() const { return payload_bytes_ + entries_.size() * kEntryOverhead; }
  static uint64_t PayloadCost(size_t symbol_size) { return symbol_size + kEntryOverhead; }
  // Frees every payload (the bookkeeping stays); returns the bytes freed.
  uint64_t DropPayloads();

 private:
  struct Entry {
    uint64_t position;  // ESI * Z + SBN: the exporter's send order
    uint64_t digest;    // of the payload
    uint8_t sbn;
    uint32_t esi;
    std::vector<uint8_t> payload;  // empty when not kept
  };
  struct Slot {
    uint64_t seqs[kMaxVariants];  // entries holding each distinct payload
    uint8_t count = 0;
    bool contested = false;  // two payloads were seen (even if one aged out)
    bool lost = false;       // a payload seen here is not held (refused or aged out)
  };

  const Entry* At(uint64_t seq) const {
    return seq >= first_seq_ && seq - first_seq_ < entries_.size() ? &entries_[seq - first_seq_]
                                                                   : nullptr;
  }
  void EvictOldest(uint64_t* freed);
  std::vector<uint64_t> Choose(Subset subset) const;

  const uint32_t blocks_;
  const size_t capacity_;
  std::deque<Entry> entries_;  // arrival order; entry i has seq first_seq_ + i
  uint64_t first_seq_ = 0;
  std::unordered_map<uint64_t, Slot> slots_;  // by position
  size_t payloads_ = 0;
  uint64_t payload_bytes_ = 0;
};

}  // namespace lcfs::sync
