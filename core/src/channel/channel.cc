#include "lcfs/channel/channel.h"

#include <openssl/evp.h>

#include <memory>

#include "lcfs/hash.h"

namespace lcfs::channel {

namespace {

constexpr char kNameDomain[] = "lcfs-channel-name-v1";
constexpr char kGroupDomain[] = "lcfs-channel-group-v1";
constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr size_t kCheckSize = 3;
constexpr size_t kNameBytes = kPublicKeySize + kCheckSize;  // 35 bytes = 56 base32 digits
constexpr size_t kPrefixLength = sizeof kChannelPrefix - 1;

std::array<uint8_t, kCheckSize> Check(const ChannelId& c) {
  Sha256 s;
  s.Update(kNameDomain);
  s.Update(c.key);
  const Hash d = s.Finish();
  return {d.bytes[0], d.bytes[1], d.bytes[2]};
}

int Base32Value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

bool ChannelId::LooksLikeName(std::string_view text) {
  return text.size() == kChannelNameLength && text.starts_with(kChannelPrefix);
}

Result<ChannelId> ChannelId::Parse(std::string_view name) {
  if (!name.starts_with(kChannelPrefix))
    return Status::Error(EINVAL, "a CHANNEL starts with \"lcfs-\"");
  if (name.size() != kChannelNameLength)
    return Status::Error(EINVAL, "a CHANNEL has " + std::to_string(kChannelNameLength) +
                                     " characters, not " + std::to_string(name.size()));
  std::array<uint8_t, kNameBytes> bytes{};
  uint32_t acc = 0;
  int bits = 0;
  size_t out = 0;
  for (size_t i = kPrefixLength; i < name.size(); ++i) {
    const int v = Base32Value(name[i]);
    if (v < 0)
      return Status::Error(EINVAL,
                           "CHANNEL character " + std::to_string(i + 1) + " is not one of a-z 2-7");
    acc = acc << 5 | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  // 56 digits carry exactly 280 bits = 35 bytes: nothing is left over.
  ChannelId c;
  std::copy_n(bytes.begin(), kPublicKeySize, c.key.begin());
  const auto check = Check(c);
  if (!std::equal(check.begin(), check.end(), bytes.begin() + kPublicKeySize))
    return Status::Error(EINVAL, "CHANNEL check digits do not match: mistyped?");
  return c;
}

std::string ChannelId::ToString() const {
  std::array<uint8_t, kNameBytes> bytes{};
  std::copy(key.begin(), key.end(), bytes.begin());
  const auto check = Check(*this);
  std::copy(check.begin(), check.end(), bytes.begin() + kPublicKeySize);
  std::string s = kChannelPrefix;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      s += kBase32[(acc >> bits) & 31];
    }
    acc &= (1u << bits) - 1;
  }
  return s;
}

net::Ipv6Address ChannelGroup(const ChannelId& channel, const net::GroupScheme& scheme) {
  Sha256 s;
  s.Update(kGroupDomain);
  s.Update(channel.key);
  const Hash d = s.Finish();
  net::Ipv6Address g;
  g.bytes[0] = 0xff;
  g.bytes[1] = static_cast<uint8_t>((scheme.flags & 0xf) << 4 | (scheme.scope & 0xf));
  for (size_t i = 0; i < 14; ++i) g.bytes[2 + i] = d.bytes[i];
  return g;
}

bool VerifySignature(const ChannelId& channel, std::span<const uint8_t> message,
                     std::span<const uint8_t, kSignatureSize> signature) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, channel.key.data(),
                                  channel.key.size()),
      &EVP_PKEY_free);
  if (!pkey) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

}  // namespace lcfs::channel
