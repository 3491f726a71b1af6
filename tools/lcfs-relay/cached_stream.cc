#include "cached_stream.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::relay {

Result<CachedStream> CachedStream::Create(const Hash& name, ObjectKind kind,
                                          std::vector<uint8_t> bytes) {
  const uint64_t size = bytes.size();
  auto oti = fec::OtiForObject(size);
  if (!oti.ok()) return oti.status();
  auto encoder = fec::ObjectEncoder::CreateOwned(*oti, std::move(bytes));
  if (!encoder.ok()) return encoder.status();
  net::PacketHeader header;
  header.kind = kind;
  header.object_id = net::ObjectIdOf(name);
  header.oti = oti->Encode();
  CachedStream s(std::move(*encoder), header, size);
  s.name_ = name;
  return s;
}

CachedStream::CachedStream(fec::ObjectEncoder encoder, net::PacketHeader header, uint64_t size)
    : encoder_(std::move(encoder)), header_(header), size_(size) {
  uint32_t max_k = 0;
  for (uint32_t b = 0; b < encoder_.block_count(); ++b)
    max_k = std::max(max_k, encoder_.SourceSymbols(static_cast<uint8_t>(b)));
  set_ = uint64_t{encoder_.block_count()} * max_k;
  symbol_.resize(header_.symbol_size());
}

void CachedStream::Arrival() {
  owed_ = next_ + set_;
  holding_ = false;
  satisfied_.reset();
  round_ = std::max<uint64_t>(32, set_ / 16);
}

void CachedStream::ContinueAfterRelay(uint64_t position, uint64_t owed) {
  next_ = std::max({next_, set_, position});
  owed_ = next_ + owed;
  holding_ = false;
  satisfied_.reset();
  round_ = std::max<uint64_t>(32, set_ / 16);
}

bool CachedStream::Ready(Clock::time_point now, Clock::duration hold, Clock::time_point* wake) {
  if (next_ < owed_) return true;
  // Listeners owed nothing more hold first, whatever the object's size (a
  // one-symbol object whose first round is already a set would otherwise
  // stream at once: the root directory went on at the whole serving rate
  // for as long as 4 readers behind a relay took to join it).
  if (!holding_) {
    holding_ = true;
    hold_until_ = now + hold;
    if (!satisfied_) satisfied_ = now;
  }
  if (now < hold_until_) {
    *wake = hold_until_;
    return false;
  }
  // The hold ran out and a listener is still there: a round of repair, or
  // once a round would be a set, a stream without holds.
  holding_ = false;
  owed_ = round_ >= set_ ? std::numeric_limits<uint64_t>::max() : next_ + round_;
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
