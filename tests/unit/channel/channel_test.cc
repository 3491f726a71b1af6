#include "lcfs/channel/channel.h"

#include <gtest/gtest.h>

#include <set>

#include "lcfs/channel/signing_key.h"
#include "lcfs/hash.h"
#include "lcfs/net/group.h"

namespace lcfs::channel {
namespace {

ChannelId NewChannel() {
  auto key = SigningKey::Generate();
  EXPECT_TRUE(key.ok());
  return key->channel();
}

TEST(ChannelId, RoundTripsAndNeverLooksLikeAHash) {
  for (int i = 0; i < 20; ++i) {
    const ChannelId c = NewChannel();
    const std::string name = c.ToString();
    EXPECT_EQ(name.size(), kChannelNameLength);
    EXPECT_TRUE(ChannelId::LooksLikeName(name));
    EXPECT_FALSE(Hash::FromHex(name).ok());
    auto back = ChannelId::Parse(name);
    ASSERT_TRUE(back.ok()) << name;
    EXPECT_EQ(*back, c);
  }
  EXPECT_FALSE(ChannelId::LooksLikeName(std::string(64, 'a')));
}

TEST(ChannelId, RefusesEveryOneCharacterTypo) {
  const std::string name = NewChannel().ToString();
  int refused = 0, tried = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    std::string typo = name;
    typo[i] = typo[i] == 'a' ? 'b' : 'a';
    ++tried;
    if (!ChannelId::Parse(typo).ok()) ++refused;
  }
  // A 24-bit check misses a given typo with probability 2^-24.
  EXPECT_EQ(refused, tried);
}

TEST(ChannelId, ErrorsSayWhatIsWrong) {
  const std::string name = NewChannel().ToString();
  auto no_prefix = ChannelId::Parse("xcfs-" + name.substr(5));
  ASSERT_FALSE(no_prefix.ok());
  EXPECT_NE(no_prefix.status().message().find("lcfs-"), std::string::npos);
  auto short_name = ChannelId::Parse(name.substr(0, 60));
  ASSERT_FALSE(short_name.ok());
  EXPECT_NE(short_name.status().message().find("61"), std::string::npos);
  std::string upper = name;
  upper[10] = '1';
  auto bad_char = ChannelId::Parse(upper);
  ASSERT_FALSE(bad_char.ok());
  EXPECT_NE(bad_char.status().message().find("character 11"), std::string::npos);
}

TEST(ChannelGroup, DiffersFromTheObjectGroupOfTheSameBytes) {
  const ChannelId c = NewChannel();
  Hash same_bytes;
  same_bytes.bytes = c.key;
  EXPECT_NE(ChannelGroup(c), net::GroupAddress(same_bytes));
  EXPECT_TRUE(net::HasGroupPrefix(ChannelGroup(c)));
  EXPECT_NE(ChannelGroup(c), ChannelGroup(NewChannel()));
}

TEST(VerifySignature, AcceptsOnlyTheKeysSignatureOfTheMessage) {
  auto key = SigningKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::array<uint8_t, 3> msg = {1, 2, 3};
  auto sig = key->Sign(msg);
  EXPECT_TRUE(VerifySignature(key->channel(), msg, sig));
  const std::array<uint8_t, 3> other = {1, 2, 4};
  EXPECT_FALSE(VerifySignature(key->channel(), other, sig));
  EXPECT_FALSE(VerifySignature(NewChannel(), msg, sig));
  sig[0] ^= 1;
  EXPECT_FALSE(VerifySignature(key->channel(), msg, sig));
}

}  // namespace
}  // namespace lcfs::channel
