#include "lcfs/net/address.h"

#include <arpa/inet.h>

namespace lcfs::net {

Result<Ipv6Address> Ipv6Address::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  if (text.size() >= INET6_ADDRSTRLEN)
    return Status::Error(EINVAL, "not an IPv6 address (too long): " + std::string(text));
  char buf[INET6_ADDRSTRLEN];
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  in6_addr a;
  if (inet_pton(AF_INET6, buf, &a) != 1)
    return Status::Error(EINVAL, "not an IPv6 address: '" + std::string(text) + "'");
  return FromIn6(a);
}

std::string Ipv6Address::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  in6_addr a = ToIn6();
  return inet_ntop(AF_INET6, &a, buf, sizeof buf) ? buf : "?";
}

bool Ipv6Address::IsUnspecified() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

}  // namespace lcfs::net
