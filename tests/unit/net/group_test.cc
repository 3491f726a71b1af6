#include "lcfs/net/group.h"

#include <gtest/gtest.h>

#include "lcfs/object.h"

namespace lcfs::net {
namespace {

Hash Counting() {
  Hash h;
  for (size_t i = 0; i < Hash::kSize; ++i) h.bytes[i] = static_cast<uint8_t>(i);
  return h;
}

// Vectors of docs/protocol.md section 6.
TEST(GroupAddress, MatchesProtocolVectors) {
  EXPECT_EQ(GroupAddress(Hash{}).ToString(), "ff1e:eeeb:3b77:1e4:e4c4:27a2:d0de:edab");
  EXPECT_EQ(GroupAddress(Counting()).ToString(), "ff1e:53a6:c22a:d049:91d1:117d:321e:eb10");
  const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
  const Hash chunk = ObjectHash(ObjectKind::kChunk, hello);
  EXPECT_EQ(chunk.ToHex(), "8a2a5c9b768827de5a9552c38a044c66959c68f6d2f21b5260af54d2f87db827");
  EXPECT_EQ(GroupAddress(chunk).ToString(), "ff1e:f7b0:9c8:f771:190d:f119:2c29:1c72");
  GroupScheme link_scope;
  link_scope.scope = 0x2;
  EXPECT_EQ(GroupAddress(chunk, link_scope).ToString(), "ff12:f7b0:9c8:f771:190d:f119:2c29:1c72");
}

TEST(GroupAddress, DependsOnEveryHashByteAndKeepsPrefix) {
  const Hash base = Counting();
  const Ipv6Address g = GroupAddress(base);
  EXPECT_TRUE(HasGroupPrefix(g));
  EXPECT_EQ(g.MulticastScope(), 0xe);
  for (size_t i = 0; i < Hash::kSize; ++i) {
    Hash h = base;
    h.bytes[i] ^= 1;
    const Ipv6Address other = GroupAddress(h);
    EXPECT_NE(other, g) << "byte " << i;
    EXPECT_TRUE(HasGroupPrefix(other));
  }
  GroupScheme s;
  s.scope = 5;
  EXPECT_FALSE(HasGroupPrefix(g, s));
  EXPECT_EQ(s.prefix(), 0xff15);
}

TEST(GroupScheme, RejectsReservedScopesAndFlags) {
  EXPECT_TRUE(GroupScheme{}.Validate().ok());
  EXPECT_TRUE((GroupScheme{.flags = 1, .scope = 2}).Validate().ok());
  EXPECT_EQ((GroupScheme{.flags = 1, .scope = 0}).Validate().code(), EINVAL);
  EXPECT_EQ((GroupScheme{.flags = 1, .scope = 0xf}).Validate().code(), EINVAL);
  EXPECT_EQ((GroupScheme{.flags = 0, .scope = 0xe}).Validate().code(), EINVAL);
  EXPECT_EQ((GroupScheme{.flags = 3, .scope = 0xe}).Validate().code(), EINVAL);
  EXPECT_EQ((GroupScheme{.flags = 0x11, .scope = 0xe}).Validate().code(), EINVAL);
}

TEST(Ipv6Address, ParsesAndPrints) {
  auto a = Ipv6Address::Parse("fe80::1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->IsLinkLocalUnicast());
  EXPECT_FALSE(a->IsMulticast());
  EXPECT_EQ(a->ToString(), "fe80::1");
  EXPECT_EQ(Ipv6Address::Parse("nonsense").status().code(), EINVAL);
  EXPECT_EQ(Ipv6Address::Parse(std::string(100, '1')).status().code(), EINVAL);
  EXPECT_TRUE(Ipv6Address{}.IsUnspecified());
}

}  // namespace
}  // namespace lcfs::net
