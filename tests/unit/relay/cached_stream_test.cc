// CachedStream: what lcfs-relay sends of an object from its cache, and when
// (docs/protocol.md sections 9 and 15).
#include "cached_stream.h"

#include <gtest/gtest.h>

#include <array>

#include "common/random_bytes.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/hash.h"
#include "lcfs/net/packet.h"

namespace lcfs::relay {
namespace {

using Clock = CachedStream::Clock;
constexpr std::chrono::milliseconds kHold{50};

CachedStream Stream(size_t size) {
  std::vector<uint8_t> bytes = testing::RandomBytes(size, 7);
  const Hash name = ObjectHash(ObjectKind::kChunk, bytes);
  auto s = CachedStream::Create(name, ObjectKind::kChunk, std::move(bytes));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

// Sends while the stream is ready at `now`; the stream positions sent
// (ESI x Z + SBN, from each packet), at most `limit` of them.
std::vector<uint64_t> Drain(CachedStream& s, Clock::time_point now, Clock::time_point* wake,
                            size_t limit = 100'000) {
  std::vector<uint64_t> positions;
  std::array<uint8_t, net::kPacketHeaderSize + net::kMaxSymbolSize> out;
  while (positions.size() < limit && s.Ready(now, kHold, wake)) {
    auto n = s.Next(out);
    EXPECT_TRUE(n.ok());
    net::PacketView view;
    EXPECT_EQ(net::ParsePacket(std::span(out.data(), *n), &view), net::PacketDrop::kNone);
    auto id = fec::PayloadId::Decode(view.header.payload_id);
    EXPECT_TRUE(id.ok());
    positions.push_back(uint64_t{id->esi} * view.header.oti[8] + id->sbn);
  }
  return positions;
}

TEST(CachedStream, AnArrivalIsOwedAWholeSetFromTheSourceSymbolsThenItHolds) {
  CachedStream s = Stream(300'000);
  s.Arrival();
  const Clock::time_point t0 = Clock::now();
  Clock::time_point wake;
  const std::vector<uint64_t> sent = Drain(s, t0, &wake);
  ASSERT_EQ(sent.size(), s.set());
  EXPECT_EQ(sent.front(), 0u);
  EXPECT_EQ(wake, t0 + kHold);
  EXPECT_EQ(s.satisfied(), t0);
}

TEST(CachedStream, ListenersThatHadTheRelayedSymbolsAreSentNothingBeforeAHold) {
  // Sending a round at once (the relay's old way) cost 0.3-0.8x a 32 MiB
  // file downstream that readers without loss did not need.
  CachedStream s = Stream(300'000);
  const uint64_t relayed = s.set() + 10;  // the exporter had sent some repair too
  s.ContinueAfterRelay(relayed, 0);
  const Clock::time_point t0 = Clock::now();
  Clock::time_point wake;
  EXPECT_TRUE(Drain(s, t0, &wake).empty());
  EXPECT_EQ(wake, t0 + kHold);
  // Still listening after the hold: a round of repair, after what was
  // passed on (no ESI twice).
  const std::vector<uint64_t> round = Drain(s, t0 + kHold, &wake);
  ASSERT_EQ(round.size(), std::max<uint64_t>(32, s.set() / 16));
  EXPECT_EQ(round.front(), relayed);
  EXPECT_EQ(s.satisfied(), t0);
}

TEST(CachedStream, ALateListenerIsOwedWhatItLacksAtOnceFromTheRepairSymbols) {
  CachedStream s = Stream(300'000);
  s.ContinueAfterRelay(/*position=*/5, /*owed=*/7);
  Clock::time_point wake;
  const std::vector<uint64_t> sent = Drain(s, Clock::now(), &wake);
  ASSERT_EQ(sent.size(), 7u);
  EXPECT_EQ(sent.front(), s.set());  // not the source symbols it had
}

TEST(CachedStream, AOneSymbolObjectHoldsBeforeItStreamsWithoutHolds) {
  // Its first round is already a set: it used to stream at once, at the
  // whole serving rate, for as long as its listeners stayed.
  CachedStream s = Stream(100);
  ASSERT_EQ(s.set(), 1u);
  s.Arrival();
  const Clock::time_point t0 = Clock::now();
  Clock::time_point wake;
  EXPECT_EQ(Drain(s, t0, &wake).size(), 1u);
  EXPECT_EQ(wake, t0 + kHold);
  // After the hold, whoever still listens gets a fountain.
  EXPECT_EQ(Drain(s, t0 + kHold, &wake, 1000).size(), 1000u);
}

TEST(CachedStream, RoundsOfRepairDoubleAfterEachHold) {
  CachedStream s = Stream(1 << 20);
  s.ContinueAfterRelay(s.set(), 0);
  Clock::time_point t = Clock::now(), wake;
  uint64_t round = std::max<uint64_t>(32, s.set() / 16);
  EXPECT_TRUE(Drain(s, t, &wake).empty());
  for (int i = 0; i < 3; ++i, round *= 2) {
    t += kHold;
    EXPECT_EQ(Drain(s, t, &wake).size(), round);
    EXPECT_EQ(wake, t + kHold);
  }
}

}  // namespace
}  // namespace lcfs::relay
