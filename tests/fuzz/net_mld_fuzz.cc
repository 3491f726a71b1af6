// Fuzzes the MLD parser and what it feeds: any ICMPv6 bytes either fail to
// parse or yield records the snooper applies to its membership table and
// querier without crashing; well-formed reports re-encode and re-parse alike.
#include <cstdint>
#include <cstdlib>

#include "lcfs/net/mld_snooper.h"
#include "net/membership_table.h"
#include "net/mld_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::net;
  const std::span<const uint8_t> in(data, size);
  auto m = ParseMldMessage(in);
  if (m.ok() && m->type == MldType::kV2Report) {
    auto again = ParseMldMessage(EncodeMldv2Report(m->records));
    if (!again.ok() || again->records != m->records) abort();
  }
  // The whole path the snooper takes, on a fake clock: the message, then
  // timers until everything expires. Events must pair up.
  MldSnooperOptions opts;
  opts.timers = MldTimers::Fast(Millis(1000));
  int64_t joins = 0;
  const MldTime t0 = MldTime{} + std::chrono::hours(1);
  const Ipv6Address self = *Ipv6Address::Parse("fe80::5");
  auto snooper = MldSnooper::WithoutSocket(
      opts,
      [&](const MembershipEvent& e) { joins += e.kind == MembershipEvent::Kind::kJoin ? 1 : -1; },
      [](int, const Ipv6Address&, const Ipv6Address&, std::span<const uint8_t> q) {
        if (!ParseMldMessage(q).ok()) abort();  // our own queries must parse
        return lcfs::Status::Ok();
      },
      {{2, self}}, t0);
  const Ipv6Address from = *Ipv6Address::Parse("fe80::1");
  snooper->HandleMessage(2, from, 1, in, t0);
  snooper->HandleMessage(2, from, 1, in, t0 + Millis(10));  // twice: state transitions
  MldTime now = t0;
  for (int i = 0; i < 100 && snooper->table().size() > 0; ++i) {
    now += Millis(500);
    snooper->ProcessTimers(now);
  }
  if (snooper->table().size() != 0 || joins != 0) abort();
  return 0;
}
