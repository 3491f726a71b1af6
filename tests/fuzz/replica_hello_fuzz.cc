// Fuzzes the replica hello parser and the election it feeds: any datagram
// is either refused with a reason or parsed into a hello that re-encodes to
// the same bytes; and any sequence of hellos (from any source, on either of
// two interfaces, at any times) leaves the election within its bounds: no
// more peers than the cap, never active during its start-up period, and
// active when nothing is heard once every hold has run out.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "replica/election.h"
#include "replica/hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::replica;
  using Clock = Election::Clock;
  const std::span<const uint8_t> in(data, size);
  Hello h;
  if (ParseHello(in, &h) == HelloDrop::kNone) {
    const HelloBytes again = EncodeHello(h);
    if (size != again.size() || std::memcmp(again.data(), data, size) != 0) abort();
  }

  // Records: 1 byte interface and address selector, 2 bytes of time
  // advance (ms), then a datagram of up to 52 bytes (shorter at the end).
  ElectionOptions o;
  o.max_peers = 4;
  const Clock::time_point start{};
  Clock::time_point now = start;
  lcfs::Hash root;
  root.bytes[0] = 1;
  Election e(42, root, o, now);
  lcfs::net::Ipv6Address own1, own2;
  own1.bytes = {0xfe, 0x80};
  own1.bytes[15] = 0x80;
  own2 = own1;
  own2.bytes[14] = 1;
  e.SetInterfaces({{1, own1}, {2, own2}});
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t sel = data[pos];
    now += std::chrono::milliseconds(data[pos + 1] << 8 | data[pos + 2]);
    pos += 3;
    const size_t len = std::min(kHelloSize, size - pos);
    Hello hello;
    if (ParseHello(in.subspan(pos, len), &hello) == HelloDrop::kNone) {
      lcfs::net::Ipv6Address source = own1;
      source.bytes[15] = static_cast<uint8_t>(sel & 0xfe);
      if (sel & 0x40) hello.root = root;  // often our root, so the rules are reached
      e.OnHello(1 + (sel & 1), source, hello, now);
    }
    pos += len;
    e.Update(now);
    if (e.live_peers() > 2 * o.max_peers) abort();
    if (e.active() && now < start + o.startup) abort();
  }
  // Once every hold has run out, nobody is left to defer to.
  now += o.max_hold_factor * o.hold + o.startup;
  e.Update(now);
  if (e.live_peers() != 0 || !e.active()) abort();
  return 0;
}
