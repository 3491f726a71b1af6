#include "object_source_factory.h"

#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"

namespace lcfs::fs {

Result<std::unique_ptr<ObjectSource>> MakeLocalObjectSource(const std::string& dir,
                                                            ObjectSourceInfo* info) {
  IndexOptions options;
  options.warn = [](const std::string&) {};  // skipped files are simply absent
  Result<IndexResult> indexed = IndexPath(dir, options);
  if (!indexed.ok()) return indexed.status().WithContext("index " + dir);
  if (info) info->description = "local index of " + dir + " (root " + indexed->root.ToHex() + ")";
  return std::unique_ptr<ObjectSource>(
      std::make_unique<MdexObjectSource>(std::shared_ptr<const Mdex>(indexed->mdex)));
}

Result<std::unique_ptr<ObjectSource>> MakeObjectSource(const MountOptions& options,
                                                       ObjectSourceInfo* info) {
  if (!options.local_dir.empty()) return MakeLocalObjectSource(options.local_dir, info);
  return Status::Error(ENOSYS,
                       "network source not built yet: use -o local=DIR to serve a local directory");
}

}  // namespace lcfs::fs
