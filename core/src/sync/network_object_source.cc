#include "lcfs/sync/network_object_source.h"

#include <net/if.h>

#include <charconv>

namespace lcfs::sync {

Result<int> ResolveInterface(const std::string& iface) {
  if (iface.empty()) return 0;
  int index = 0;
  auto [end, ec] = std::from_chars(iface.data(), iface.data() + iface.size(), index);
  if (ec == std::errc() && end == iface.data() + iface.size() && index > 0) {
    char name[IF_NAMESIZE];
    if (if_indextoname(static_cast<unsigned>(index), name) == nullptr)
      return Status::Error(ENODEV, "interface index " + iface + ": no such interface");
    return index;
  }
  const unsigned found = if_nametoindex(iface.c_str());
  if (found == 0) return Status::Error(ENODEV, "interface \"" + iface + "\": no such interface");
  return static_cast<int>(found);
}

Result<std::unique_ptr<NetworkObjectSource>> NetworkObjectSource::Create(
    const NetworkSourceOptions& options) {
  auto ifindex = ResolveInterface(options.iface);
  if (!ifindex.ok()) return ifindex.status();
  FetcherOptions fo;
  fo.ifindex = *ifindex;
  fo.sources = options.sources;
  fo.scheme.port = options.port;
  fo.window = options.window;
  fo.buffers = options.buffers;
  fo.notice = options.notice;
  auto fetcher = Fetcher::Start(fo);
  if (!fetcher.ok()) return fetcher.status();
  return std::make_unique<NetworkObjectSource>(std::move(fetcher).value());
}

Result<std::vector<uint8_t>> NetworkObjectSource::Fetch(const FetchRequest& request) {
  return fetcher_->Fetch(request);
}

FetchTicket NetworkObjectSource::FetchAsync(const FetchRequest& request, FetchCallback done) {
  return fetcher_->FetchAsync(request, std::move(done));
}

void NetworkObjectSource::Cancel(FetchTicket ticket) { fetcher_->Cancel(ticket); }

}  // namespace lcfs::sync
