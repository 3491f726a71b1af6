// RaptorQ decoder for a whole object (RFC 6330 section 5.4).
//
// Feed symbols one at a time, in any order, from any mix of source and
// repair ESIs. Each block is decoded as soon as its symbols suffice
// (inactivation decoding, section 5.4.2); Add() then reports kComplete once
// every block is. Duplicates are ignored. Symbols of a block already decoded
// are ignored. Memory: the object, the repair symbols held for blocks still
// pending (at most K' + 40 symbols per block; source symbols go straight into
// the object), and while a block decodes a per-thread workspace of about
// L + K' symbols (kept for reuse when under 16 MiB). The object's buffer
// comes from a BufferPool when one is given (and goes back to it when the
// decoder is destroyed unfinished), else from the heap, zero-filled.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lcfs/buffer_pool.h"
#include "lcfs/fec/oti.h"
#include "lcfs/status.h"

namespace lcfs::fec {

enum class DecodeProgress { kNeedMore, kComplete };

class ObjectDecoder {
 public:
  // `buffers` (may be null) must outlive the decoder.
  static Result<ObjectDecoder> Create(const Oti& oti, BufferPool* buffers = nullptr);

  ObjectDecoder(ObjectDecoder&&) noexcept;
  ObjectDecoder& operator=(ObjectDecoder&&) noexcept;
  ~ObjectDecoder();

  const Oti& oti() const;

  // Errors (EINVAL) for an SBN >= Z, an ESI >= 2^24, or a symbol that is not
  // exactly T bytes; the decoder's state is unchanged then.
  Result<DecodeProgress> Add(uint8_t sbn, uint32_t esi, std::span<const uint8_t> symbol);

  bool complete() const;
  bool BlockComplete(uint8_t sbn) const;
  // Distinct symbols held for block `sbn` (0 once it is decoded).
  uint32_t PendingSymbols(uint8_t sbn) const;

  // The object's F bytes; meaningful only when complete().
  std::span<const uint8_t> object() const;
  // The object's F bytes, moved out (the decoder is spent): a pool's buffer
  // when the decoder was given a pool, to be given back to it once used.
  std::vector<uint8_t> TakeObject();

 private:
  struct Impl;
  explicit ObjectDecoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcfs::fec
