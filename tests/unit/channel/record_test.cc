#include "lcfs/channel/record.h"

#include <gtest/gtest.h>

#include <vector>

#include "channel_test_util.h"

namespace lcfs::channel {
namespace {

using testing::NewKey;
using testing::RootOf;
using testing::Signed;

TEST(Record, EncodesParsesAndVerifies) {
  const SigningKey key = NewKey();
  const Record r = Signed(key, RootOf("a"), 42, 1'800'000'000, 600);
  const RecordBytes bytes = EncodeRecord(r);
  Record back;
  ASSERT_EQ(ParseRecord(bytes, &back), RecordDrop::kNone);
  EXPECT_EQ(back, r);
  EXPECT_TRUE(VerifyRecord(back));
  EXPECT_EQ(back.channel, key.channel());
}

TEST(Record, EveryFieldIsCoveredByTheSignature) {
  const SigningKey key = NewKey();
  const RecordBytes good = EncodeRecord(Signed(key, RootOf("a"), 7, 1'800'000'000));
  // Flipping any bit of the signed part (past the header checks) or of the
  // signature itself must break verification.
  for (size_t i = 8; i < kRecordSize; ++i) {
    RecordBytes bad = good;
    bad[i] ^= 0x10;
    Record r;
    const RecordDrop parsed = ParseRecord(bad, &r);
    if (parsed != RecordDrop::kNone) {
      EXPECT_EQ(parsed, RecordDrop::kZeroValidity) << i;  // never reached for 0x10 flips
      continue;
    }
    EXPECT_FALSE(VerifyRecord(r)) << "byte " << i;
  }
}

TEST(Record, ParserRefusesMalformedDatagramsByReason) {
  const RecordBytes good = EncodeRecord(Signed(NewKey(), RootOf("a"), 1, 1'800'000'000));
  Record r;
  auto with = [&](size_t at, uint8_t v) {
    RecordBytes b = good;
    b[at] = v;
    return ParseRecord(b, &r);
  };
  EXPECT_EQ(ParseRecord(std::span(good).first(kRecordSize - 1), &r), RecordDrop::kBadSize);
  std::vector<uint8_t> longer(good.begin(), good.end());
  longer.push_back(0);
  EXPECT_EQ(ParseRecord(longer, &r), RecordDrop::kBadSize);
  EXPECT_EQ(ParseRecord({}, &r), RecordDrop::kBadSize);
  EXPECT_EQ(with(0, 'X'), RecordDrop::kBadMagic);
  EXPECT_EQ(with(2, 2), RecordDrop::kBadVersion);
  EXPECT_EQ(with(3, 1), RecordDrop::kBadType);  // an object symbol's type
  EXPECT_EQ(with(5, 1), RecordDrop::kReservedNotZero);
  RecordBytes zero = good;
  for (size_t i = 88; i < 92; ++i) zero[i] = 0;
  EXPECT_EQ(ParseRecord(zero, &r), RecordDrop::kZeroValidity);
}

TEST(Record, DropNamesAreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kRecordDropReasons; ++i)
    names.insert(RecordDropName(static_cast<RecordDrop>(i)));
  EXPECT_EQ(names.size(), kRecordDropReasons);
}

}  // namespace
}  // namespace lcfs::channel
