// Fuzzes the RaptorQ decoder's inputs: an OTI (12 bytes, strict decode) and
// then packets as the network delivers them (2-byte length, FEC Payload ID,
// symbol). Objects are capped small so each input runs fast; whatever the
// bytes, the decoder must answer with a status, never crash or overrun.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lcfs/fec/decoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::fec;
  if (size < Oti::kEncodedSize) return 0;
  auto oti = Oti::Decode({data, Oti::kEncodedSize});
  if (!oti.ok()) return 0;
  if (oti->transfer_length > (1u << 20)) return 0;
  auto dec = ObjectDecoder::Create(*oti);
  if (!dec.ok()) return 0;
  std::span<const uint8_t> rest(data + Oti::kEncodedSize, size - Oti::kEncodedSize);
  while (rest.size() >= 2) {
    size_t n = size_t{rest[0]} << 8 | rest[1];
    rest = rest.subspan(2);
    if (n > rest.size()) n = rest.size();
    auto packet = rest.first(n);
    rest = rest.subspan(n);
    auto id = PayloadId::Decode(packet);
    if (!id.ok()) continue;
    auto progress = dec->Add(id->sbn, id->esi, packet.subspan(PayloadId::kEncodedSize));
    if (progress.ok() && *progress == DecodeProgress::kComplete) {
      volatile uint8_t sink = 0;
      for (uint8_t b : dec->object()) sink = sink ^ b;
      break;
    }
  }
  return 0;
}
