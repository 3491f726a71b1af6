#include "lcfs/byte_reader.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace lcfs {
namespace {

TEST(ByteReader, ReadsBigEndianFieldsInOrder) {
  const std::vector<uint8_t> in = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                   0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
  ByteReader r(in);
  EXPECT_EQ(r.U8(), 0x01);
  EXPECT_EQ(r.U16(), 0x0203);
  EXPECT_EQ(r.U32(), 0x04050607u);
  EXPECT_EQ(r.U64(), 0x08090a0b0c0d0e0full);
  EXPECT_EQ(r.pos(), 15u);
  EXPECT_EQ(r.Uint(2), 0x1011u);
  EXPECT_EQ(r.left(), 0u);
}

TEST(ByteReader, ReadPastTheEndFailsAndConsumesNothing) {
  const std::vector<uint8_t> in = {0xaa, 0xbb, 0xcc};
  ByteReader r(in);
  EXPECT_FALSE(r.U32().has_value());
  EXPECT_FALSE(r.Bytes(4).has_value());
  std::array<uint8_t, 4> four{};
  EXPECT_FALSE(r.Array(&four));
  EXPECT_FALSE(r.Skip(4));
  EXPECT_EQ(r.pos(), 0u);
  EXPECT_EQ(r.U16(), 0xaabb);
  EXPECT_FALSE(r.U16().has_value());
  EXPECT_EQ(r.U8(), 0xcc);
  EXPECT_FALSE(r.U8().has_value());
}

TEST(ByteReader, ReadFillsAFieldOfItsOwnWidthOrLeavesItAlone) {
  const std::vector<uint8_t> in = {0x12, 0x34, 0x56, 0x78, 0x9a};
  ByteReader r(in);
  uint16_t mode = 0;
  uint32_t nsec = 7;
  ASSERT_TRUE(r.Read(&mode));
  EXPECT_EQ(mode, 0x1234);
  EXPECT_FALSE(r.Read(&nsec));  // three bytes left
  EXPECT_EQ(nsec, 7u);
  EXPECT_EQ(r.pos(), 2u);
  uint8_t b = 0;
  ASSERT_TRUE(r.Read(&b));
  EXPECT_EQ(b, 0x56);
}

TEST(ByteReader, BytesPointIntoTheInput) {
  const std::vector<uint8_t> in = {1, 2, 3, 4, 5};
  ByteReader r(in);
  ASSERT_TRUE(r.Skip(1));
  auto b = r.Bytes(2);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->data(), in.data() + 1);
  EXPECT_EQ(b->size(), 2u);
  EXPECT_EQ(r.rest().data(), in.data() + 3);
  EXPECT_EQ(r.rest().size(), 2u);
  auto empty = r.Bytes(0);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(ByteWriter, AppendsWhatTheReaderReadsBack) {
  std::vector<uint8_t> out = {0xee};  // appends after what is there
  ByteWriter w(&out);
  w.U8(0x01);
  w.U16(0x0203);
  w.U32(0x04050607);
  w.U64(0x08090a0b0c0d0e0f);
  w.Zeros(2);
  w.String("hi");
  w.Bytes(std::array<uint8_t, 2>{0xfe, 0xff});
  EXPECT_EQ(w.written(), 21u);
  const std::vector<uint8_t> want = {0xee, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                     0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
                                     0x00, 0x00, 'h',  'i',  0xfe, 0xff};
  EXPECT_EQ(out, want);
}

TEST(ByteWriter, WritesIntoAFixedBufferFromItsStart) {
  std::array<uint8_t, 6> buf;
  buf.fill(0x55);
  ByteWriter w{std::span<uint8_t>(buf)};
  w.Uint(0x0a0b0c, 3);
  w.U16(0xbeef);
  EXPECT_EQ(w.written(), 5u);
  EXPECT_EQ(buf, (std::array<uint8_t, 6>{0x0a, 0x0b, 0x0c, 0xbe, 0xef, 0x55}));
}

}  // namespace
}  // namespace lcfs
