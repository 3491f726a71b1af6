// A hostile publisher's "path bomb" (issue 18 point 6): a root directory
// whose 100,000 entries all name one directory of 20,000 entries. Served by
// a fake publisher (objects built as docs/protocol.md section 3 says, no
// network). The sync must cost memory per distinct object, not per path:
// the shared directory is fetched and decoded once, files are written while
// the walk goes on, and the process's peak resident memory stays under a
// fixed bound. (Before, every path held its own decoded copy: 3.1 GB
// resident for 3,000 paths, nothing written yet.)
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "lcfs/index/directory.h"
#include "lcfs/mutex.h"
#include "lcfs/sync/tree_sync.h"
#include "tree_listing.h"

namespace lcfs::sync {
namespace {

using testing::ScratchDir;

// Serves fixed objects by hash and counts each fetch.
class FakePublisher : public ObjectSource {
 public:
  Hash Add(const index::Directory& dir) {
    auto bytes = index::EncodeDirectory(dir).value();
    const Hash h = ObjectHash(ObjectKind::kDirectory, bytes);
    objects_[h] = std::move(bytes);
    return h;
  }
  size_t size(const Hash& h) const { return objects_.at(h).size(); }

  Result<std::vector<uint8_t>> Fetch(const FetchRequest& request) override {
    auto it = objects_.find(request.hash);
    if (it == objects_.end()) return Status::Error(ENOENT, "no such object");
    LCFS_RETURN_IF_ERROR(CheckExpectedSize(request, it->second.size()));
    MutexLock lock(&mu_);
    ++fetches_[request.hash];
    return it->second;
  }
  int fetches(const Hash& h) {
    MutexLock lock(&mu_);
    return fetches_[h];
  }

 private:
  std::map<Hash, std::vector<uint8_t>> objects_;  // written before the sync starts
  Mutex mu_;
  std::map<Hash, int> fetches_ GUARDED_BY(mu_);
};

// Peak resident memory of this process (VmHWM), bytes.
uint64_t PeakResident() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string Name(const char* prefix, int i) {
  char buf[32];
  snprintf(buf, sizeof buf, "%s%06d", prefix, i);
  return buf;
}

TEST(PathBomb, OneDirectoryNamedByManyPathsCostsOneCopy) {
  FakePublisher publisher;
  index::Directory inner;
  inner.chunk_size = 1 << 20;
  for (int i = 0; i < 20000; ++i) {
    index::DirEntry e;
    e.name = Name("file-with-a-longish-name-", i);
    e.mode = 0644;
    e.is_inline = true;  // empty files: the bytes on disk stay small
    inner.entries.push_back(e);
  }
  const Hash inner_hash = publisher.Add(inner);
  index::Directory root;
  root.chunk_size = 1 << 20;
  for (int i = 0; i < 100000; ++i) {
    index::DirEntry e;
    e.name = Name("d", i);
    e.type = index::EntryType::kDirectory;
    e.mode = 0755;
    e.hash = inner_hash;
    e.size = publisher.size(inner_hash);
    root.entries.push_back(e);
  }
  const Hash root_hash = publisher.Add(root);

  // The whole tree is 2 billion files: stop once the walk has written one
  // whole copy of the directory and started the next.
  ScratchDir dst;
  std::atomic<bool> cancel{false};
  std::thread watch([&] {
    while (!cancel && !std::filesystem::exists(dst / ("out/" + Name("d", 1)))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the disk, not a sync
    }
    cancel = true;
  });
  const uint64_t before = PeakResident();
  SyncOptions options;
  options.cancel = &cancel;
  auto got = SyncTree(publisher, root_hash, dst / "out", options);
  cancel = true;
  watch.join();
  const uint64_t growth = PeakResident() - before;

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ECANCELED) << got.status().ToString();
  // A whole copy was written while the walk went on.
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dst / ("out/" + Name("d", 0)))) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, inner.entries.size());
  EXPECT_EQ(publisher.fetches(root_hash), 1);
  EXPECT_EQ(publisher.fetches(inner_hash), 1);  // one fetch, one decoded copy, for every path
  // One decoded copy of each (a few MB) plus the batch of pending files: the
  // old walk held a copy per path (100,000 x about 2 MB) before writing.
  EXPECT_LT(growth, uint64_t{128} << 20) << "peak resident grew by " << growth << " bytes";
  printf("figure: path bomb (100,000 paths x 20,000 entries): peak resident grew by %llu bytes\n",
         static_cast<unsigned long long>(growth));
}

}  // namespace
}  // namespace lcfs::sync
