// RaptorQ encoder for a whole object (RFC 6330 sections 4.4 and 5.3).
//
// Source symbols (ESI < K) are slices of the object; repair symbols (ESI >= K,
// up to 2^24-1) need the block's intermediate symbols, computed lazily the
// first time a repair symbol of that block is asked for and then kept. The
// elimination plan depends only on K', so it is cached process-wide and
// shared by every block and every encoder with the same K'.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lcfs/fec/oti.h"
#include "lcfs/status.h"

namespace lcfs::fec {

class ObjectEncoder {
 public:
  // The object must outlive the encoder; its size must equal the OTI's F.
  static Result<ObjectEncoder> Create(const Oti& oti, std::span<const uint8_t> object);
  // The encoder keeps the bytes.
  static Result<ObjectEncoder> CreateOwned(const Oti& oti, std::vector<uint8_t> object);

  ObjectEncoder(ObjectEncoder&&) noexcept;
  ObjectEncoder& operator=(ObjectEncoder&&) noexcept;
  ~ObjectEncoder();

  const Oti& oti() const;
  // Number of source blocks (Z) and source symbols K of block `sbn`.
  uint32_t block_count() const;
  uint32_t SourceSymbols(uint8_t sbn) const;

  // Writes symbol (sbn, esi) into `out` (exactly T bytes). Thread-safe.
  Status Symbol(uint8_t sbn, uint32_t esi, std::span<uint8_t> out);
  // Solves block `sbn` now (otherwise the first repair symbol does it).
  Status Prepare(uint8_t sbn);
  // Drops block `sbn`'s intermediate symbols to free memory.
  void Release(uint8_t sbn);

 private:
  struct Impl;
  explicit ObjectEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcfs::fec
