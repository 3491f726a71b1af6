#include "lcfs/net/group.h"

#include <string>

namespace lcfs::net {

namespace {
constexpr char kGroupDomain[] = "lcfs-group-v1";
}

Status GroupScheme::Validate() const {
  if (flags > 0xf || scope > 0xf)
    return Status::Error(EINVAL, "multicast flags and scope are 4-bit values");
  if (scope == 0x0 || scope == 0xf)
    return Status::Error(EINVAL, "multicast scope " + std::to_string(scope) + " is reserved");
  if ((flags & 0x1) == 0)
    return Status::Error(EINVAL,
                         "multicast flags must have T (0x1) set: lcfs groups are transient");
  if (flags & 0x6)
    return Status::Error(EINVAL,
                         "multicast flags R and P must be clear: lcfs groups embed no prefix");
  return Status::Ok();
}

Ipv6Address GroupAddress(const Hash& object, const GroupScheme& scheme) {
  Sha256 s;
  s.Update(kGroupDomain);
  s.Update(object.bytes);
  const Hash d = s.Finish();
  Ipv6Address g;
  g.bytes[0] = 0xff;
  g.bytes[1] = static_cast<uint8_t>((scheme.flags & 0xf) << 4 | (scheme.scope & 0xf));
  for (size_t i = 0; i < 14; ++i) g.bytes[2 + i] = d.bytes[i];
  return g;
}

bool HasGroupPrefix(const Ipv6Address& group, const GroupScheme& scheme) {
  const uint16_t p = scheme.prefix();
  return group.bytes[0] == (p >> 8) && group.bytes[1] == (p & 0xff);
}

}  // namespace lcfs::net
