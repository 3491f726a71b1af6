#include "cached_stream.h"

#include <algorithm>
#include <utility>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::relay {

Result<CachedStream> CachedStream::Create(const Hash& name, ObjectKind kind,
                                          std::vector<uint8_t> bytes,
                                          std::chrono::milliseconds hold) {
  const uint64_t size = bytes.size();
  auto oti = fec::OtiForObject(size);
  if (!oti.ok()) return oti.status();
  auto encoder = fec::ObjectEncoder::CreateOwned(*oti, std::move(bytes));
  if (!encoder.ok()) return encoder.status();
  net::PacketHeader header;
  header.kind = kind;
  header.object_id = net::ObjectIdOf(name);
  header.oti = oti->Encode();
  CachedStream s(std::move(*encoder), header, size, hold);
  s.name_ = name;
  return s;
}

CachedStream::CachedStream(fec::ObjectEncoder encoder, net::PacketHeader header, uint64_t size,
                           std::chrono::milliseconds hold)
    : encoder_(std::move(encoder)), header_(header), size_(size), hold_(hold) {
  uint32_t max_k = 0;
  for (uint32_t b = 0; b < encoder_.block_count(); ++b)
    max_k = std::max(max_k, encoder_.SourceSymbols(static_cast<uint8_t>(b)));
  set_ = uint64_t{encoder_.block_count()} * max_k;
  symbol_.resize(header_.symbol_size());
}

void CachedStream::Arrival() {
  owed_ = next_ + set_;
  holding_ = false;
  round_ = std::max<uint64_t>(32, set_ / 16);
}

void CachedStream::ContinueWithRepair() {
  next_ = std::max(next_, set_);
  const uint64_t round = std::max<uint64_t>(32, set_ / 16);
  owed_ = next_ + round;
  holding_ = false;
  round_ = 2 * round;
}

bool CachedStream::Ready(Clock::time_point now, Clock::time_point* wake) {
  if (next_ < owed_) return true;
  if (round_ >= set_) {
    owed_ = next_ + set_;  // streaming without holds
    return true;
  }
  if (!holding_) {
    holding_ = true;
    hold_until_ = now + hold_;
  }
  if (now < hold_until_) {
    *wake = hold_until_;
    return false;
  }
  // The hold ran out and a listener is still there: a round of repair.
  holding_ = false;
  owed_ = next_ + round_;
  round_ *= 2;
  return true;
}

Result<size_t> CachedStream::Next(std::span<uint8_t> out) {
  const uint32_t z = encoder_.block_count();
  const auto sbn = static_cast<uint8_t>(next_ % z);
  uint64_t esi = next_ / z;
  // After ESI 2^24 - 1, repair ESIs start again at K (section 9).
  const uint32_t k = encoder_.SourceSymbols(sbn);
  if (esi > fec::kMaxEsi) esi = k + (esi - k) % (fec::kMaxEsi + 1 - k);
  ++next_;
  LCFS_RETURN_IF_ERROR(encoder_.Symbol(sbn, static_cast<uint32_t>(esi), symbol_));
  header_.payload_id = fec::PayloadId{.sbn = sbn, .esi = static_cast<uint32_t>(esi)}.Encode();
  return net::EncodePacket(header_, symbol_, out);
}

}  // namespace lcfs::relay
