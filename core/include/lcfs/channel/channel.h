// Channels: a publisher's Ed25519 public key names a stream of signed
// records, each naming the current root HASH of what it publishes
// (docs/protocol.md section 11). A reader that knows the channel name can
// follow the publisher's updates without trusting anyone on the link.
//
//   CHANNEL = "lcfs-" || base32(public key || check)       ; 61 characters
//   check   = SHA-256("lcfs-channel-name-v1" || public key)[0..3)
//
// base32 is RFC 4648's alphabet in lower case without padding, so a CHANNEL
// never looks like a HASH (64 hex digits) and a mistyped one is refused
// instead of being followed in vain. Records travel on a group derived from
// the key with a domain string of its own, unrelated to any object's group.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/status.h"

namespace lcfs::channel {

inline constexpr size_t kPublicKeySize = 32;  // Ed25519
inline constexpr size_t kSignatureSize = 64;  // Ed25519
inline constexpr char kChannelPrefix[] = "lcfs-";
inline constexpr size_t kChannelNameLength = 5 + 56;

// A channel: the publisher's Ed25519 public key.
struct ChannelId {
  std::array<uint8_t, kPublicKeySize> key{};

  // Parses a CHANNEL name; the error says what is wrong (prefix, length, a
  // character outside the alphabet, or a check that fails: a typo).
  static Result<ChannelId> Parse(std::string_view name);
  // True if `text` has the shape of a CHANNEL name (prefix and length), for
  // callers that accept a CHANNEL or a HASH and must tell them apart.
  static bool LooksLikeName(std::string_view text);
  std::string ToString() const;

  bool operator==(const ChannelId&) const = default;
};

// The group on which the channel's records are announced.
net::Ipv6Address ChannelGroup(const ChannelId& channel, const net::GroupScheme& scheme = {});

// True if `signature` is the channel key's Ed25519 signature of `message`.
bool VerifySignature(const ChannelId& channel, std::span<const uint8_t> message,
                     std::span<const uint8_t, kSignatureSize> signature);

}  // namespace lcfs::channel
