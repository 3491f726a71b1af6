// Ipv6Address: a 16-byte IPv6 address as a value type (ordered, hashable,
// printable), so tables and tests need not juggle in6_addr and memcmp.
#pragma once

#include <netinet/in.h>

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "lcfs/status.h"

namespace lcfs::net {

struct Ipv6Address {
  std::array<uint8_t, 16> bytes{};

  static Ipv6Address FromIn6(const in6_addr& a) {
    Ipv6Address r;
    std::memcpy(r.bytes.data(), &a, 16);
    return r;
  }
  // Text form ("fe80::1", "ff1e::2"); EINVAL with the text otherwise.
  static Result<Ipv6Address> Parse(std::string_view text);

  in6_addr ToIn6() const {
    in6_addr a;
    std::memcpy(&a, bytes.data(), 16);
    return a;
  }
  std::string ToString() const;

  bool IsUnspecified() const;
  bool IsMulticast() const { return bytes[0] == 0xff; }
  bool IsLinkLocalUnicast() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
  // Multicast scope nibble (RFC 4291 2.7); 0 for unicast addresses.
  uint8_t MulticastScope() const { return IsMulticast() ? bytes[1] & 0x0f : 0; }

  auto operator<=>(const Ipv6Address&) const = default;
  bool operator==(const Ipv6Address&) const = default;
};

}  // namespace lcfs::net

template <>
struct std::hash<lcfs::net::Ipv6Address> {
  size_t operator()(const lcfs::net::Ipv6Address& a) const noexcept {
    // Group addresses end in hash bits, link-local ones in an interface ID:
    // mixing both halves spreads either kind.
    uint64_t hi, lo;
    std::memcpy(&hi, a.bytes.data(), 8);
    std::memcpy(&lo, a.bytes.data() + 8, 8);
    return static_cast<size_t>((hi * 0x9e3779b97f4a7c15ULL) ^ lo);
  }
};
