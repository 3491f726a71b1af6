// OTI and FEC Payload ID encodings (RFC 6330 sections 3.2, 3.3) and the
// parameter derivation of section 4.3.
#include "lcfs/fec/oti.h"

#include <gtest/gtest.h>

#include "lcfs/fec/payload_id.h"

namespace lcfs::fec {
namespace {

TEST(OtiTest, EncodesFieldsBigEndian) {
  Oti oti{0x0102030405, 0x0580, 0xff, 0x0102, 4};
  EXPECT_EQ(oti.ToHex(), "0102030405000580ff010204");
  auto back = Oti::Decode(oti.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, oti);
}

TEST(OtiTest, DecodeIsStrict) {
  Oti good{100000, 1280, 1, 1, 4};
  auto bytes = good.Encode();
  EXPECT_TRUE(Oti::Decode(bytes).ok());
  auto reserved = bytes;
  reserved[5] = 1;
  EXPECT_FALSE(Oti::Decode(reserved).ok());
  EXPECT_FALSE(Oti::Decode(std::span(bytes).first(11)).ok());
  EXPECT_FALSE(Oti::FromHex("00").ok());
  EXPECT_FALSE(Oti::FromHex("0000000186a00005000100010x").ok());

  auto with = [&](auto change) {
    Oti o = good;
    change(o);
    return o.Validate().ok();
  };
  EXPECT_FALSE(with([](Oti& o) { o.transfer_length = 0; }));
  EXPECT_FALSE(with([](Oti& o) { o.transfer_length = kMaxTransferLength + 1; }));
  EXPECT_FALSE(with([](Oti& o) { o.symbol_size = 1281; }));  // not a multiple of Al
  EXPECT_FALSE(with([](Oti& o) { o.alignment = 0; }));
  EXPECT_FALSE(with([](Oti& o) { o.source_blocks = 0; }));
  EXPECT_FALSE(with([](Oti& o) { o.sub_blocks = 0; }));
  EXPECT_FALSE(with([](Oti& o) { o.sub_blocks = 321; }));  // sub-symbols under Al bytes
  EXPECT_FALSE(with([](Oti& o) {
    o.source_blocks = 255;
    o.transfer_length = 1280 * 100;
  }));
  // 100 MB in one block of 1280-byte symbols exceeds K'max.
  EXPECT_FALSE(with([](Oti& o) { o.transfer_length = 100000000; }));
  EXPECT_TRUE(with([](Oti& o) {
    o.alignment = 8;
    o.sub_blocks = 160;
  }));
}

TEST(OtiTest, ForObjectFollowsSection43) {
  // A 1 MiB chunk at MTU-sized symbols: one block, no sub-blocking.
  auto chunk = Oti::ForObject(1 << 20, 1280);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->source_blocks, 1);
  EXPECT_EQ(chunk->sub_blocks, 1);
  EXPECT_EQ(chunk->alignment, 4);
  EXPECT_EQ(chunk->ToHex(), "000010000000050001000104");  // docs/protocol.md 5.4
  // 100 MiB: Kt = 81920 > K'max, so Z = 2; each block of 40960 symbols is
  // split so a sub-block fits the 8 MiB working set: N = 7 (section 4.3).
  auto big = Oti::ForObject(100 << 20, 1280);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->source_blocks, 2);
  EXPECT_EQ(big->sub_blocks, 7);
  EXPECT_EQ(big->ToHex(), "000640000000050002000704");
  // The npm peer's with_defaults for 12 MiB, T = 1024, Al = 8, WS = 10 MiB.
  auto peer = Oti::ForObject(12 << 20, 1024, 8, 10 << 20);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->ToHex(), "0000c0000000040001000208");
  EXPECT_FALSE(Oti::ForObject(0, 1280).ok());
  EXPECT_FALSE(Oti::ForObject(1000, 1282).ok());
  EXPECT_FALSE(Oti::ForObject(uint64_t{1} << 39, 16).ok());  // needs more than 255 blocks
}

TEST(OtiTest, ExtendedBlockSize) {
  EXPECT_EQ(ExtendedBlockSize(0), 0u);
  EXPECT_EQ(ExtendedBlockSize(1), 10u);
  EXPECT_EQ(ExtendedBlockSize(10), 10u);
  EXPECT_EQ(ExtendedBlockSize(11), 12u);
  EXPECT_EQ(ExtendedBlockSize(820), ExtendedBlockSize(ExtendedBlockSize(820)));
  EXPECT_EQ(ExtendedBlockSize(56403), 56403u);
  EXPECT_EQ(ExtendedBlockSize(56404), 0u);
}

TEST(PayloadIdTest, RoundTripsAndRejectsShortInput) {
  PayloadId id{0xab, 0x123456};
  auto bytes = id.Encode();
  EXPECT_EQ(bytes[0], 0xab);
  EXPECT_EQ(bytes[1], 0x12);
  EXPECT_EQ(bytes[3], 0x56);
  auto back = PayloadId::Decode(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(PayloadId::Decode(std::span(bytes).first(3)).ok());
}

}  // namespace
}  // namespace lcfs::fec
