// Fuzzes the parsing of mount options (from fstab lines and mount.fuse3) and
// of cache sizes: any input gives a clear error or a value, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lcfs/byte_size.h"
#include "mount_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  lcfs::fs::MountOptions opts;
  (void)lcfs::fs::ParseMountOptionList(text, &opts);
  (void)lcfs::ParseByteSize(text);
  // The same bytes as a command line split at NULs.
  std::vector<std::string> args = {"lcfs"};
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\0') {
      args.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  (void)lcfs::fs::ParseCommandLine(args);
  return 0;
}
