// ObjectAssembler: turns the symbols of one object, as they arrive from the
// network, into the object's verified bytes.
//
// What it refuses before it costs memory. When the caller knows the object's
// size (every object but a root directory), it knows the OTI too
// (fec::OtiForObject): packets announcing another OTI are refused and
// counted. Otherwise the OTI's length must not exceed the limit for the kind.
//
// Decoders. Symbols are decoded per (source address, OTI): a host sending
// garbage under its own address gets a decoder of its own and cannot spoil
// the exporter's. At most kMaxCandidates decoders per object. When they are
// all taken, a new sender takes the place of the one that failed
// verification most often, else of the one with the smallest share of the
// object's packets since it was created; a decoder younger than
// kProbationPackets packets of the object is never taken. Every decoder but
// the first of an object whose size is known is charged to the fetcher's
// DecoderBudget (F bytes) and refused when it is spent.
//
// Replicas (docs/protocol.md section 9). When the exporter sending an
// object goes silent (killed) and another source starts sending the same
// object under the same OTI, that source's symbols are its own decoder's, as
// any sender's, and are also given to the silent sender's decoder (its
// heir), which needs only what it still lacks: a standby carrying on from
// where the active one stopped completes the object after the symbols the
// active one did not send. A decode of the two together that fails
// verification ends the pairing (the heir's own decoder goes on). A sender
// is silent after kHandover without a packet. A newcomer is never locked
// out: the decoder the request needs is not charged to the budget, and when
// the sender holding it is evicted, the next decoder takes it over.
//
// Forged sources. A host forging the exporter's address feeds the same
// decoder. When a decode fails verification, or two payloads arrive for one
// position, forgery is suspected and payloads are kept in a SymbolPool
// (charged to the budget, at most kPoolFactor times the symbols the object
// needs). Once a decode has failed, the decoder fed with every symbol is
// dropped (the forger's symbols come in at its rate, so it would only fail
// again, each failure a whole decode) and the pool is decoded instead, at
// once and then every sixteenth of the object's symbols, doubling the wait
// after each try that failed. A try (Resolve) decodes the run (the
// exporter's stream as arrival order and positions show it) and checks the
// result against symbols the decode left out: decoding and re-encoding is
// linear in the payloads, so a check's residual tells which contested
// positions the run took the forger's payload at (their rival is swapped
// in), and the residuals of many checks show, by their syndrome, the forged
// entries that have no rival (the exporter's packet there was lost); those
// are left out of this and later decodes (FindForged). A try costs a few
// decodes' worth of work. When the run does not suffice, one other subset
// in turn (SymbolPool::Subset) is decoded. Past the budget the pool lets go
// of its payloads and a fresh decoder takes every symbol again. Bytes that
// do not verify are never returned.
//
// Memory per object: at most kMaxCandidates decoders of F bytes each plus
// their pools (kPoolFactor * (ceil(F / T) + 40 Z) symbols each at most);
// per fetcher, everything beyond one decoder per sized object stays within
// the DecoderBudget. A try holds, while it runs, two decoders and an encoder
// of F bytes each, and the resolve's elimination (at most T unknowns of 2T
// bytes) on top.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "decoder_budget.h"
#include "lcfs/buffer_pool.h"
#include "lcfs/fec/decoder.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/hash.h"
#include "lcfs/net/address.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
#include "symbol_pool.h"

namespace lcfs::sync {

// Counts about one object's symbols, summed into the fetcher's statistics.
struct AssemblyCounters {
  uint64_t symbols = 0;          // symbols given to a decoder
  uint64_t discarded = 0;        // symbols that did not contribute to verified bytes
  uint64_t verify_failures = 0;  // decodes whose bytes did not hash to the object
  uint64_t rejected = 0;         // packets refused: bad OTI, wrong size, too many sources
  uint64_t wrong_oti = 0;        // of which announced an OTI other than the known size's
  uint64_t over_budget = 0;      // of which found no decoder: candidates or budget spent
  uint64_t evicted = 0;          // decoders given up for another sender's
  uint64_t conflicts = 0;        // symbols whose position already held another payload
  uint64_t retries = 0;          // decodes retried from a subset of the pool
  uint64_t recovered = 0;        // of which verified
  uint64_t symbols_needed = 0;   // source symbols of the verified object (ceil(F / T))
};

class ObjectAssembler {
 public:
  // Decoders kept at once (distinct source/OTI pairs); packets of further
  // pairs are rejected until the object completes.
  static constexpr size_t kMaxCandidates = 4;
  static constexpr uint64_t kProbationPackets = 64;
  // A pool holds at most this many times ceil(F / T) + 40 Z symbols.
  static constexpr uint64_t kPoolFactor = 3;
  // Silence after which another source's symbols also go to a sender's
  // decoder: longer than the exporter's holds between rounds (250 ms at most).
  static constexpr std::chrono::milliseconds kHandover{500};
  using Clock = std::chrono::steady_clock;

  // `expected_size`: the object's length when the caller knows it (0: any
  // length up to `max_size`). Packets announcing another length, or with a
  // known length another OTI, are rejected. `budget` (may be null: no
  // limit) is charged for everything but the first decoder of a sized
  // object; it must outlive the assembler. `buffers` (may be null: the
  // heap) gives the main decoder of each sender its object buffer, which
  // TakeObject hands on; it must outlive the assembler too.
  ObjectAssembler(const Hash& hash, ObjectKind kind, uint64_t expected_size, uint64_t max_size,
                  DecoderBudget* budget = nullptr, BufferPool* buffers = nullptr);
  ~ObjectAssembler();
  ObjectAssembler(const ObjectAssembler&) = delete;
  ObjectAssembler& operator=(const ObjectAssembler&) = delete;

  // Feeds one packet already matched to this object (ParsePacketFor), which
  // arrived at `now`. Returns true once the object is complete and verified
  // (further calls do nothing).
  bool Add(const net::PacketView& packet, const net::Ipv6Address& source,
           Clock::time_point now = Clock::now());

  bool complete() const { return verified_.has_value(); }
  // The verified bytes; only when complete().
  std::vector<uint8_t> TakeObject();

  const AssemblyCounters& counters() const { return counters_; }
  // Decoders held now (at most kMaxCandidates).
  size_t decoders() const { return candidates_.size(); }
  // Bytes held now: decoders (F each) and pools.
  uint64_t memory() const;

 private:
  struct Candidate;
  Candidate* Find(const net::PacketView& packet, const net::Ipv6Address& source);
  Candidate* Create(const net::PacketView& packet, const net::Ipv6Address& source,
                    Clock::time_point now);
  Candidate* Heir(const net::PacketView& packet, const net::Ipv6Address& source,
                  Clock::time_point now, bool new_sender);
  bool FeedHeir(Candidate& h, uint8_t sbn, uint32_t esi, std::span<const uint8_t> symbol);
  bool MakeRoom();
  void Drop(size_t index);
  bool Verified(Candidate& c, std::vector<uint8_t> bytes);
  void Accept(Candidate& c, std::vector<uint8_t> bytes);
  bool TryRun(Candidate& c, bool now = false);
  bool Resolve(Candidate& c);
  std::unordered_set<uint64_t> FindForged(const Candidate& c, const std::vector<uint64_t>& run,
                                          const std::vector<uint64_t>& fed,
                                          fec::ObjectEncoder& encoder);
  bool DecodeSubset(Candidate& c, SymbolPool::Subset subset);
  void Suspect(Candidate& c);
  void Distrust(Candidate& c);

  Hash hash_;
  ObjectKind kind_;
  uint64_t expected_size_;
  uint64_t max_size_;
  DecoderBudget* budget_;
  BufferPool* buffers_;
  bool has_expected_oti_ = false;
  std::array<uint8_t, net::kOtiSize> expected_oti_{};
  uint64_t packets_ = 0;  // packets given to Add, the clock of probation and shares
  std::vector<std::unique_ptr<Candidate>> candidates_;
  std::optional<std::vector<uint8_t>> verified_;
  AssemblyCounters counters_;
};

// Largest object of `kind` a receiver accepts when it does not know the size:
// chunks and tree nodes up to the largest chunk size, directories up to
// kMaxDirectoryObjectSize.
uint64_t MaxObjectSize(ObjectKind kind);

}  // namespace lcfs::sync
