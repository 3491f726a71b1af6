#include "replica/hello.h"

#include <gtest/gtest.h>

#include <vector>

namespace lcfs::replica {
namespace {

// docs/protocol.md section 14.5.
constexpr char kVector[] =
    "4c430103010002bc0102030405060708"
    "8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe00000007";

Hello VectorHello() {
  Hello h;
  h.active = true;
  h.hold_ms = 700;
  h.instance = 0x0102030405060708;
  h.root = *Hash::FromHex("8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe");
  h.sequence = 7;
  return h;
}

TEST(HelloTest, EncodesTheVectorOfTheSpecAndParsesItBack) {
  const HelloBytes bytes = EncodeHello(VectorHello());
  EXPECT_EQ(ToHex(bytes), kVector);
  Hello parsed;
  ASSERT_EQ(ParseHello(bytes, &parsed), HelloDrop::kNone);
  EXPECT_EQ(parsed, VectorHello());
}

TEST(HelloTest, EveryMalformedFieldHasItsReasonAndLeavesTheOutputAlone) {
  const HelloBytes good = EncodeHello(VectorHello());
  auto with = [&](size_t at, uint8_t value) {
    std::vector<uint8_t> b(good.begin(), good.end());
    b[at] = value;
    return b;
  };
  const Hello untouched;
  struct Case {
    std::vector<uint8_t> bytes;
    HelloDrop drop;
  };
  std::vector<uint8_t> longer(good.begin(), good.end());
  longer.push_back(0);
  const std::vector<Case> cases = {
      {std::vector<uint8_t>(good.begin(), good.end() - 1), HelloDrop::kWrongSize},
      {longer, HelloDrop::kWrongSize},
      {{}, HelloDrop::kWrongSize},
      {with(0, 0x4d), HelloDrop::kBadMagic},
      {with(1, 0x00), HelloDrop::kBadMagic},
      {with(2, 2), HelloDrop::kBadVersion},
      {with(3, 1), HelloDrop::kNotHello},  // a symbol's type
      {with(3, 2), HelloDrop::kNotHello},  // a channel record's
      {with(4, 2), HelloDrop::kBadState},
      {with(5, 1), HelloDrop::kReserved},
  };
  for (const Case& c : cases) {
    Hello out;
    EXPECT_EQ(ParseHello(c.bytes, &out), c.drop) << HelloDropName(c.drop);
    EXPECT_EQ(out, untouched);
    EXPECT_NE(HelloDropName(c.drop), "unknown");
  }
}

TEST(HelloTest, StandbyAndLeavingHellosRoundTrip) {
  Hello h = VectorHello();
  h.active = false;
  h.hold_ms = 0;
  h.sequence = 0xffffffff;
  Hello parsed;
  ASSERT_EQ(ParseHello(EncodeHello(h), &parsed), HelloDrop::kNone);
  EXPECT_EQ(parsed, h);
}

TEST(HelloTest, GroupIsTheLinkScopeVectorOfTheSpec) {
  EXPECT_EQ(ReplicaGroup().ToString(), "ff12:c063:d71b:efb9:f013:b299:2e03:f83b");
  EXPECT_EQ(ReplicaGroup().MulticastScope(), 0x2);
}

}  // namespace
}  // namespace lcfs::replica
