// Fuzzes the rtnetlink parser of the link monitor: any bytes yield events
// (or none) without reading past the buffer; every event names a kind it
// knows.
#include <cstdint>
#include <cstdlib>

#include "lcfs/net/link_monitor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lcfs::net;
  std::vector<LinkEvent> events;
  uint64_t malformed = 0;
  ParseLinkMessages(std::span<const uint8_t>(data, size), &events, &malformed);
  for (const auto& e : events) {
    if (e.kind > LinkEvent::Kind::kAddressGone || e.name.size() > size) abort();
  }
  return 0;
}
