// Fuzzes the channel record parser and the acceptor: any datagram is either
// refused with a reason or parsed into a record that re-encodes to the same
// bytes; the acceptor never accepts a record whose signature does not verify.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lcfs/channel/record.h"
#include "lcfs/channel/record_acceptor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::channel;
  const std::span<const uint8_t> in(data, size);
  Record r;
  const RecordDrop parsed = ParseRecord(in, &r);
  if (parsed == RecordDrop::kNone) {
    const RecordBytes again = EncodeRecord(r);
    if (size != again.size() || std::memcmp(again.data(), data, size) != 0) abort();
  }
  // Judge it as a reader of the channel it claims (so the signature check is
  // reached) at a time inside its validity.
  RecordAcceptor acceptor(parsed == RecordDrop::kNone ? r.channel : ChannelId{});
  const RecordDrop verdict = acceptor.Offer(in, parsed == RecordDrop::kNone ? r.time : 0);
  if (parsed != RecordDrop::kNone && verdict != parsed) abort();
  if (verdict == RecordDrop::kNone && (!acceptor.current() || !VerifyRecord(*acceptor.current())))
    abort();
  if (verdict != RecordDrop::kNone && acceptor.current()) abort();
  return 0;
}
