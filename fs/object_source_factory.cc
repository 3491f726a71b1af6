#include "object_source_factory.h"

#include <filesystem>

#include "lcfs/index/chunking.h"
#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"
#include "lcfs/net/address.h"
#include "lcfs/sync/network_object_source.h"

namespace lcfs::fs {

Result<std::unique_ptr<ObjectSource>> MakeLocalObjectSource(const std::string& dir,
                                                            ObjectSourceInfo* info) {
  // Absolute: the mdex keeps file paths, and a daemon changes to "/".
  std::error_code ec;
  const std::string path = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec) return Status::Error(ec.value(), "local directory " + dir + ": " + ec.message());
  index::IndexOptions options;
  options.warn = [](const std::string&) {};  // skipped files are simply absent
  Result<index::IndexResult> indexed = index::IndexPath(path, options);
  if (!indexed.ok()) return indexed.status().WithContext("index " + dir);
  if (info) info->description = "local index of " + dir + " (root " + indexed->root.ToHex() + ")";
  return std::unique_ptr<ObjectSource>(
      std::make_unique<index::MdexObjectSource>(std::shared_ptr<const index::Mdex>(indexed->mdex)));
}

Result<std::unique_ptr<ObjectSource>> MakeNetworkObjectSource(const MountOptions& options,
                                                              ObjectSourceInfo* info) {
  sync::NetworkSourceOptions net;
  net.iface = options.iface;
  for (const std::string& text : options.sources) {
    auto address = net::Ipv6Address::Parse(text);
    if (!address.ok()) return address.status().WithContext("source=" + text);
    net.sources.push_back(*address);
  }
  if (options.port != 0) net.port = options.port;
  // Chunks of the default size use the pool; other sizes the heap.
  net.window = kMountObjectBuffers;
  net.buffers = std::make_shared<BufferPool>(kMountObjectBuffers, index::kDefaultChunkSize);
  auto source = sync::NetworkObjectSource::Create(net);
  if (!source.ok()) return source.status().WithContext("network source");
  if (info) {
    info->description = "the network (iface " + (net.iface.empty() ? "any" : net.iface) +
                        ", port " + std::to_string(net.port) + ")";
    info->network_fetcher = &(*source)->fetcher();
    info->buffers = net.buffers;
  }
  return std::unique_ptr<ObjectSource>(std::move(*source));
}

Result<std::unique_ptr<ObjectSource>> MakeObjectSource(const MountOptions& options,
                                                       ObjectSourceInfo* info) {
  if (!options.local_dir.empty()) return MakeLocalObjectSource(options.local_dir, info);
  return MakeNetworkObjectSource(options, info);
}

}  // namespace lcfs::fs
