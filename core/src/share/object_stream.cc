#include "share/object_stream.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include "lcfs/fec/payload_id.h"

namespace lcfs::share {

Status ObjectStream::Load(const index::Mdex& mdex) {
  if (loaded()) return Status::Ok();
  const auto where = mdex.Get(hash_);
  if (!where) return Status::Error(ENOENT, "object " + hash_.ToHex() + " not in the index");
  auto oti = OtiForObject(where->length);
  if (!oti.ok()) return oti.status().WithContext("object " + hash_.ToHex());
  // Not zero-filled: every byte is read over (a fresh zeroed megabyte per
  // chunk was a third of the exporter's CPU at 1 Gbit/s).
  auto bytes = std::make_unique_for_overwrite<uint8_t[]>(where->length);
  const std::span<const uint8_t> object(bytes.get(), where->length);
  Status read = mdex.ReadInto(hash_, std::span(bytes.get(), where->length));
  if (!read.ok()) return read.WithContext("object " + hash_.ToHex());
  auto encoder = fec::ObjectEncoder::Create(*oti, object);
  if (!encoder.ok()) return encoder.status().WithContext("object " + hash_.ToHex());
  oti_ = *oti;
  bytes_ = std::move(bytes);  // the encoder reads it: freed after the encoder
  encoder_.emplace(std::move(*encoder));
  source_symbols_ = 0;
  max_block_symbols_ = 0;
  for (uint32_t sbn = 0; sbn < encoder_->block_count(); ++sbn) {
    const uint32_t k = encoder_->SourceSymbols(static_cast<uint8_t>(sbn));
    source_symbols_ += k;
    max_block_symbols_ = std::max(max_block_symbols_, k);
  }
  header_.type = net::PacketType::kSymbol;
  header_.kind = kind_;
  header_.object_id = net::ObjectIdOf(hash_);
  header_.oti = oti_.Encode();
  repair_started_ = false;
  return Status::Ok();
}

void ObjectStream::Unload() {
  encoder_.reset();
  bytes_.reset();
  repair_started_ = false;
}

size_t ObjectStream::MemoryUsage() const {
  if (!loaded()) return 0;
  // The object itself, plus the intermediate symbols (about K' + S + H
  // symbols per block, a little over the object) once repair began.
  const size_t object = static_cast<size_t>(oti_.transfer_length);
  const size_t intermediate =
      repair_started_ ? object + object / 8 + 64u * oti_.symbol_size * oti_.source_blocks : 0;
  return object + intermediate;
}

Status ObjectStream::NextPacket(std::span<uint8_t> out) {
  if (!loaded()) return Status::Error(EINVAL, "object " + hash_.ToHex() + ": stream not loaded");
  if (out.size() < packet_size()) return Status::Error(ENOBUFS, "packet buffer too small");
  const uint32_t blocks = encoder_->block_count();
  const auto sbn = static_cast<uint8_t>(position_ % blocks);
  uint64_t esi = position_ / blocks;
  const uint32_t k = encoder_->SourceSymbols(sbn);
  if (esi > fec::kMaxEsi) {
    // After 2^24 symbols per block the repair ESIs start over: a receiver
    // still missing symbols by then is helped as well by any repair symbol.
    esi = k + (esi - k) % (fec::kMaxEsi + 1 - k);
  }
  if (esi >= k) repair_started_ = true;
  fec::PayloadId id{sbn, static_cast<uint32_t>(esi)};
  header_.payload_id = id.Encode();
  // The symbol goes to a scratch buffer, not in place: EncodePacket copies it.
  thread_local std::array<uint8_t, kShareSymbolSize> scratch;
  const std::span<uint8_t> symbol(scratch.data(), oti_.symbol_size);
  LCFS_RETURN_IF_ERROR(encoder_->Symbol(sbn, id.esi, symbol));
  auto n = net::EncodePacket(header_, symbol, out.first(packet_size()));
  if (!n.ok()) return n.status();
  ++position_;
  return Status::Ok();
}

}  // namespace lcfs::share
