// The vectors of docs/protocol.md section 11, derived by an independent
// implementation (tests/interop/channel/make_vectors.py, Python's
// cryptography): names, groups and a signed record must match byte for byte.
#include <gtest/gtest.h>

#include <array>

#include "lcfs/channel/channel.h"
#include "lcfs/channel/record.h"
#include "lcfs/channel/signing_key.h"

namespace lcfs::channel {
namespace {

constexpr char kPublicKey[] = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
constexpr char kChannel[] = "lcfs-aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4o2i3s";
constexpr char kRoot[] = "8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe";
constexpr char kRecord[] =
    "4c4301020000000003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    "8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe0000019adc5be000"
    "00000000692e2c0000000e10321157f74e5f86cd42f51f1d3ac4259c8953cc14f86239b21ec86fba"
    "e91913317998a4a1b98294446bdfbcad673f36205df16b227fbc7a4cc0589bb3e3f4060c";

SigningKey VectorKey() {
  std::array<uint8_t, 32> seed;
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(i);
  auto key = SigningKey::FromSeed(seed);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(*key);
}

TEST(ChannelVectors, PublicKeyAndName) {
  const SigningKey key = VectorKey();
  EXPECT_EQ(ToHex(key.channel().key), kPublicKey);
  EXPECT_EQ(key.channel().ToString(), kChannel);
  auto parsed = ChannelId::Parse(kChannel);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, key.channel());
}

TEST(ChannelVectors, Group) {
  const ChannelId c = VectorKey().channel();
  EXPECT_EQ(ChannelGroup(c).ToString(), "ff1e:1bab:ce36:686:dcca:8f0:97ab:1642");
  net::GroupScheme link;
  link.scope = 0x2;
  EXPECT_EQ(ChannelGroup(c, link).ToString(), "ff12:1bab:ce36:686:dcca:8f0:97ab:1642");
}

TEST(ChannelVectors, SignedRecord) {
  const SigningKey key = VectorKey();
  Record r;
  r.root = *Hash::FromHex(kRoot);
  r.sequence = 1764633600000;
  r.time = 1764633600;
  r.validity = 3600;
  SignRecord(key, &r);
  EXPECT_EQ(ToHex(EncodeRecord(r)), kRecord);
  EXPECT_TRUE(VerifyRecord(r));
}

}  // namespace
}  // namespace lcfs::channel
