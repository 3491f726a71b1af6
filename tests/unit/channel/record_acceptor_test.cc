#include "lcfs/channel/record_acceptor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "channel_test_util.h"

namespace lcfs::channel {
namespace {

using testing::NewKey;
using testing::RootOf;
using testing::Signed;
using testing::TempDir;

constexpr uint64_t kNow = 1'800'000'000;

RecordDrop Offer(RecordAcceptor& a, const Record& r, uint64_t now = kNow) {
  const RecordBytes b = EncodeRecord(r);
  return a.Offer(b, now);
}

TEST(RecordAcceptor, AcceptsIncreasingSequencesOnly) {
  const SigningKey key = NewKey();
  RecordAcceptor a(key.channel());
  EXPECT_FALSE(a.current());
  const Record r1 = Signed(key, RootOf("v1"), 10, kNow);
  EXPECT_EQ(Offer(a, r1), RecordDrop::kNone);
  EXPECT_EQ(a.current()->root, RootOf("v1"));
  EXPECT_EQ(Offer(a, r1), RecordDrop::kRepeat);
  // Replay of an older record, and a new one reusing the current number.
  EXPECT_EQ(Offer(a, Signed(key, RootOf("v0"), 9, kNow)), RecordDrop::kOldSequence);
  EXPECT_EQ(Offer(a, Signed(key, RootOf("other"), 10, kNow)), RecordDrop::kOldSequence);
  EXPECT_EQ(a.current()->root, RootOf("v1"));
  EXPECT_EQ(Offer(a, Signed(key, RootOf("v2"), 11, kNow)), RecordDrop::kNone);
  EXPECT_EQ(a.current()->root, RootOf("v2"));
  EXPECT_EQ(a.counters().accepted(), 2u);
  EXPECT_EQ(a.counters()[RecordDrop::kRepeat], 1u);
  EXPECT_EQ(a.counters()[RecordDrop::kOldSequence], 2u);
  EXPECT_EQ(a.counters().dropped(), 2u);
}

TEST(RecordAcceptor, RefusesAnotherChannelsRecord) {
  const SigningKey mine = NewKey(), theirs = NewKey();
  RecordAcceptor a(mine.channel());
  EXPECT_EQ(Offer(a, Signed(theirs, RootOf("x"), 5, kNow)), RecordDrop::kWrongChannel);
  // Their signature over a record claiming to be ours.
  Record forged = Signed(theirs, RootOf("x"), 5, kNow);
  forged.channel = mine.channel();
  EXPECT_EQ(Offer(a, forged), RecordDrop::kBadSignature);
  EXPECT_FALSE(a.current());
}

TEST(RecordAcceptor, RefusesAlteredRootWithAHigherSequence) {
  const SigningKey key = NewKey();
  RecordAcceptor a(key.channel());
  ASSERT_EQ(Offer(a, Signed(key, RootOf("v1"), 1, kNow)), RecordDrop::kNone);
  Record forged = Signed(key, RootOf("v1"), 2, kNow);
  forged.root = RootOf("evil");
  EXPECT_EQ(Offer(a, forged), RecordDrop::kBadSignature);
  forged = Signed(key, RootOf("v1"), 2, kNow);
  forged.sequence = 1000;  // rolling a signed record forward
  EXPECT_EQ(Offer(a, forged), RecordDrop::kBadSignature);
  EXPECT_EQ(a.current()->root, RootOf("v1"));
  EXPECT_EQ(a.current()->sequence, 1u);
}

TEST(RecordAcceptor, ExpiryAndClockSkew) {
  const SigningKey key = NewKey();
  RecordAcceptor a(key.channel());
  const Record r = Signed(key, RootOf("v"), 1, kNow - 100, 100);
  EXPECT_EQ(Offer(a, r), RecordDrop::kExpired);  // expires at exactly time + validity
  EXPECT_EQ(Offer(a, r, kNow - 1), RecordDrop::kNone);
  a.set_clock_skew(60);
  EXPECT_EQ(Offer(a, Signed(key, RootOf("w"), 2, kNow + 61)), RecordDrop::kFuture);
  EXPECT_EQ(Offer(a, Signed(key, RootOf("w"), 3, kNow + 60)), RecordDrop::kNone);
  EXPECT_EQ(Offer(a, Signed(key, RootOf("z"), 4, 0, 1000)), RecordDrop::kExpired);
  // The largest validity and time still compare without overflowing.
  EXPECT_EQ(Offer(a, Signed(key, RootOf("z"), 5, UINT64_MAX, UINT32_MAX)), RecordDrop::kFuture);
  EXPECT_EQ(Offer(a, Signed(key, RootOf("z"), 6, kNow, UINT32_MAX)), RecordDrop::kNone);
}

TEST(RecordAcceptor, GarbageChangesNothing) {
  const SigningKey key = NewKey();
  RecordAcceptor a(key.channel());
  ASSERT_EQ(Offer(a, Signed(key, RootOf("v1"), 1, kNow)), RecordDrop::kNone);
  const uint8_t junk[] = {'L', 'C', 1, 2, 0, 0};
  EXPECT_EQ(a.Offer(junk, kNow), RecordDrop::kBadSize);
  EXPECT_EQ(a.current()->root, RootOf("v1"));
  EXPECT_EQ(a.counters()[RecordDrop::kBadSize], 1u);
}

TEST(RecordAcceptor, RemembersTheLastRecordAcrossRestarts) {
  TempDir dir;
  const SigningKey key = NewKey();
  const std::string state = dir.Path("state");
  {
    auto a = RecordAcceptor::Open(key.channel(), state);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_FALSE(a->current());
    ASSERT_EQ(Offer(*a, Signed(key, RootOf("v5"), 5, kNow)), RecordDrop::kNone);
    EXPECT_EQ(a->save_errors(), 0u);
  }
  auto b = RecordAcceptor::Open(key.channel(), state);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->current());
  EXPECT_EQ(b->current()->sequence, 5u);
  EXPECT_EQ(Offer(*b, Signed(key, RootOf("v4"), 4, kNow)), RecordDrop::kOldSequence);
  EXPECT_EQ(Offer(*b, Signed(key, RootOf("v6"), 6, kNow)), RecordDrop::kNone);
  // Another channel cannot use this state file.
  auto other = RecordAcceptor::Open(NewKey().channel(), state);
  EXPECT_FALSE(other.ok());
}

TEST(RecordAcceptor, RefusesACorruptStateFile) {
  TempDir dir;
  const std::string state = dir.Path("state");
  const int fd = ::open(state.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "garbage", 7), 7);
  ::close(fd);
  auto a = RecordAcceptor::Open(NewKey().channel(), state);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), EINVAL);
  EXPECT_NE(a.status().message().find("remove it"), std::string::npos);
}

}  // namespace
}  // namespace lcfs::channel
