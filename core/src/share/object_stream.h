// ObjectStream: the endless stream of packets for one object.
//
// Symbol n of the stream is symbol ESI n / Z of source block n % Z, so the
// source symbols of every block go first (a receiver with no loss decodes
// from them alone), then repair symbols follow without end: a fountain. The
// encoder is loaded from the mdex when the object starts sending (Mdex::Read
// verifies the bytes against the hash, so changed files are caught here and
// never sent) and can be unloaded to free memory while the stream keeps its
// position.
//
// Symbol size: the largest multiple of Al that fits a packet
// (kShareSymbolSize); objects shorter than that travel in a single symbol of
// their length rounded up to Al, so a small directory is one small packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/hash.h"
#include "lcfs/index/mdex.h"
#include "lcfs/net/packet.h"
#include "lcfs/object.h"
#include "lcfs/status.h"

namespace lcfs::share {

inline constexpr uint8_t kShareAlignment = 4;
inline constexpr uint16_t kShareSymbolSize =
    static_cast<uint16_t>(net::kMaxSymbolSize / kShareAlignment * kShareAlignment);

static_assert(kShareSymbolSize == fec::kObjectSymbolSize &&
              kShareAlignment == fec::kObjectAlignment);
// The OTI the exporter uses for an object of `size` bytes (> 0): fec's, the
// one receivers expect.
using fec::OtiForObject;

class ObjectStream {
 public:
  ObjectStream(const Hash& hash, ObjectKind kind) : hash_(hash), kind_(kind) {}

  const Hash& hash() const { return hash_; }
  ObjectKind kind() const { return kind_; }

  // Reads and verifies the object and builds its encoder. EIO if the bytes
  // no longer match the hash (the file changed), ENOENT if the mdex lacks it,
  // EINVAL for an empty or oversized object.
  Status Load(const index::Mdex& mdex);
  bool loaded() const { return encoder_.has_value(); }
  // Frees the encoder and the bytes; the position in the stream is kept.
  void Unload();
  // Bytes held while loaded: the object plus, once repair symbols were
  // asked for, about as much again for the intermediate symbols.
  size_t MemoryUsage() const;

  // Datagram length of every packet of this object (header + T). Loaded only.
  size_t packet_size() const { return net::kPacketHeaderSize + oti_.symbol_size; }
  // Source symbols over all blocks.
  uint64_t source_symbols() const { return source_symbols_; }
  // Consecutive stream symbols, from any position, that give every block at
  // least its K: what a listener without loss needs. Loaded only.
  uint64_t symbols_to_decode() const {
    return uint64_t{max_block_symbols_} * (encoder_ ? encoder_->block_count() : 1);
  }
  // Symbols emitted so far (the position in the stream).
  uint64_t position() const { return position_; }

  // Writes the next packet into `out` (at least packet_size() bytes) and
  // advances. Loaded only.
  Status NextPacket(std::span<uint8_t> out);

 private:
  Hash hash_;
  ObjectKind kind_;
  fec::Oti oti_;
  // The object's bytes while loaded; declared before encoder_, which reads
  // them, so it is destroyed after it.
  std::unique_ptr<uint8_t[]> bytes_;
  std::optional<fec::ObjectEncoder> encoder_;
  net::PacketHeader header_;
  uint64_t source_symbols_ = 0;
  uint32_t max_block_symbols_ = 0;  // largest K of any block
  uint64_t position_ = 0;
  bool repair_started_ = false;
};

}  // namespace lcfs::share
