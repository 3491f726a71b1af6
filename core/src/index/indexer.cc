#include "lcfs/index/indexer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "index/index_cache.h"
#include "lcfs/byte_size.h"
#include "lcfs/full_io.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/mutex.h"
#include "lcfs/object.h"
#include "lcfs/parallel.h"
#include "lcfs/unique_fd.h"

namespace lcfs::index {
namespace {

// Hashing work is cut into segments of about this many bytes so that one
// large file keeps every thread busy.
constexpr uint64_t kSegmentBytes = 16u << 20;
// How often the progress callback runs.
constexpr std::chrono::milliseconds kProgressPeriod{100};
// Read granularity: small enough for the buffer to stay in L2 while hashed.
constexpr size_t kReadPiece = 256u << 10;

// A regular file found by the walk.
struct FileJob {
  std::string path;
  uint64_t size = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  bool is_inline = false;
  FileStamp stamp;            // as the walk saw it
  bool reused = false;        // leaves or data came from the index cache
  std::vector<Hash> leaves;   // chunk hashes, filled by the segments
  std::vector<uint8_t> data;  // inline content
  std::atomic<bool> failed{false};
  Mutex error_mu;
  Status error GUARDED_BY(error_mu);  // why it failed (the first error only)
  size_t dir = 0, entry = 0;          // where its DirEntry is
  Hash file_hash;
};

struct DirJob {
  std::string path;
  std::vector<DirEntry> entries;
  std::vector<bool> drop;  // entries to leave out (a child that failed)
  struct Child {
    size_t entry, dir;
  };
  std::vector<Child> subdirs;
  bool failed = false;
  Status error;  // why it failed, for the root
  Hash hash;
  uint64_t encoded_size = 0;
  std::vector<uint8_t> encoded;  // the directory object, until it goes into the mdex
  Status build_error;            // why its object could not be encoded

  // What walking (or building) it found, kept here by the worker thread that
  // did it and merged by the calling thread in directory order, so that the
  // result and the warnings do not depend on the threads.
  std::vector<std::unique_ptr<FileJob>> found_files;
  std::vector<std::pair<size_t, std::string>> found_subdirs;  // entry, path
  std::vector<std::string> warnings;
  uint64_t symlinks = 0;
};

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirStream = std::unique_ptr<DIR, DirCloser>;

struct Segment {
  size_t file;
  uint64_t first_chunk, chunks;
};

void Fail(FileJob& f, Status why) {
  MutexLock lock(&f.error_mu);
  if (!f.failed.exchange(true)) f.error = std::move(why);
}

// Read once the hashing threads are done.
Status ErrorOf(FileJob& f) {
  MutexLock lock(&f.error_mu);
  return f.error;
}

// Opens a file found by the walk, checking that it is still the same regular
// file of the same size (O_NONBLOCK: a FIFO swapped in must not hang us).
Result<UniqueFd> OpenChecked(const FileJob& f) {
  UniqueFd fd(::open(f.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return Status::FromErrno(errno, "open " + f.path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + f.path);
  if (!S_ISREG(st.st_mode) || st.st_dev != f.dev || st.st_ino != f.ino ||
      static_cast<uint64_t>(st.st_size) != f.size) {
    return Status::Error(EAGAIN, f.path + " changed while being indexed");
  }
  return fd;
}

// Reads exactly `buf.size()` bytes at `offset`; a short file changed under us.
Status ReadChecked(int fd, std::span<uint8_t> buf, uint64_t offset, const std::string& path) {
  auto n = PreadFull(fd, buf, offset);
  if (!n.ok()) return n.status().WithContext("read " + path);
  if (*n < buf.size()) return Status::Error(EAGAIN, path + " shrank while being indexed");
  return Status::Ok();
}

class Hasher {
 public:
  Hasher(std::vector<std::unique_ptr<FileJob>>& files, uint32_t chunk_size,
         std::atomic<uint64_t>& bytes_done, std::atomic<uint64_t>& files_done)
      : files_(files), chunk_size_(chunk_size), bytes_done_(bytes_done), files_done_(files_done) {}

  void Run(const Segment& seg, std::vector<uint8_t>& buf, Sha256& sha) {
    FileJob& f = *files_[seg.file];
    if (f.failed.load()) return;
    auto fd = OpenChecked(f);
    if (!fd.ok()) return Fail(f, fd.status());
    if (f.is_inline) {
      Status s = ReadChecked(fd->get(), f.data, 0, f.path);
      if (!s.ok()) return Fail(f, s);
      bytes_done_ += f.size;
      ++files_done_;
      return;
    }
    ::posix_fadvise(fd->get(), static_cast<off_t>(seg.first_chunk * chunk_size_),
                    static_cast<off_t>(seg.chunks * chunk_size_), POSIX_FADV_SEQUENTIAL);
    const uint8_t tag = static_cast<uint8_t>(ObjectKind::kChunk);
    for (uint64_t c = seg.first_chunk; c < seg.first_chunk + seg.chunks; ++c) {
      const uint64_t start = c * chunk_size_;
      const uint32_t length = ChunkLength(f.size, chunk_size_, c);
      sha.Update(std::span(&tag, 1));
      for (uint32_t off = 0; off < length;) {
        const size_t n = std::min<size_t>(buf.size(), length - off);
        Status s = ReadChecked(fd->get(), std::span(buf).first(n), start + off, f.path);
        if (!s.ok()) {
          sha.Finish();
          return Fail(f, s);
        }
        sha.Update(std::span(buf).first(n));
        off += static_cast<uint32_t>(n);
        bytes_done_ += n;
      }
      f.leaves[c] = sha.Finish();
    }
    if (seg.first_chunk + seg.chunks == f.leaves.size()) ++files_done_;
  }

 private:
  std::vector<std::unique_ptr<FileJob>>& files_;
  uint32_t chunk_size_;
  std::atomic<uint64_t>& bytes_done_;
  std::atomic<uint64_t>& files_done_;
};

class IndexRun {
 public:
  IndexRun(const IndexOptions& opt) : opt_(opt) {}

  Result<IndexResult> Run(const std::string& path);

 private:
  void Warn(const std::string& msg) {
    ++stats_.skipped;
    if (opt_.warn) {
      opt_.warn(msg);
    } else {
      std::fprintf(stderr, "lcfs: warning: %s\n", msg.c_str());
    }
  }
  void Note(const std::string& msg) {
    if (opt_.note) {
      opt_.note(msg);
    } else {
      std::fprintf(stderr, "lcfs: note: %s\n", msg.c_str());
    }
  }
  // On a thread of its own: touches only the cache members and cache_note_.
  void LoadCache();
  void SaveCache();
  bool OldEnough(const FileStamp& s) const {
    return std::pair<int64_t, int64_t>(s.mtime_sec, s.mtime_nsec) < racy_after_ &&
           std::pair<int64_t, int64_t>(s.ctime_sec, s.ctime_nsec) < racy_after_;
  }
  std::unique_ptr<FileJob> NewFile(const std::string& path, const struct stat& st, size_t dir,
                                   size_t entry) const;
  void TakeFromCache(FileJob& f);
  void Walk(size_t dir);
  Status WalkTree();
  void MergeWalked(size_t dir);
  void HashAll();
  void FinishFiles();
  void BuildDirectory(size_t dir);
  Status BuildDirectories();

  const IndexOptions& opt_;
  IndexStats stats_;
  dev_t root_dev_ = 0;
  uint64_t walked_bytes_ = 0;  // sizes of the files found so far
  std::vector<std::unique_ptr<FileJob>> files_;
  std::vector<DirJob> dirs_;
  std::shared_ptr<Mdex> mdex_ = std::make_shared<Mdex>();
  bool use_cache_ = false;
  IndexCache cache_;         // what the last run left (empty if unusable)
  std::vector<bool> taken_;  // cache_ entries moved into a FileJob
  // dirs_[levels_[i]..levels_[i+1]) are the directories i levels below the
  // root: walked, then built, one level at a time in parallel.
  std::vector<size_t> levels_;
  std::string cache_note_;        // LoadCache's notice, given once the walk is done
  bool cache_unchanged_ = false;  // every cached file reused, nothing else: no rewrite
  IndexCache next_;               // what this run leaves
  // Files with a time at or after this are not cached (cache_min_age).
  std::pair<int64_t, int64_t> racy_after_{0, 0};  // seconds, nanoseconds
};

void IndexRun::LoadCache() {
  use_cache_ = true;
  next_.chunk_size = opt_.chunk_size;
  next_.inline_max = static_cast<uint32_t>(opt_.inline_max);
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  const int64_t age_ns = opt_.cache_min_age.count();
  int64_t sec = now.tv_sec - age_ns / 1'000'000'000, nsec = now.tv_nsec - age_ns % 1'000'000'000;
  if (nsec < 0) {
    nsec += 1'000'000'000;
    --sec;
  }
  racy_after_ = {sec, nsec};
  auto loaded = LoadIndexCache(opt_.cache_path);
  if (!loaded.ok()) {
    if (loaded.status().code() == ENOENT) {
      cache_note_ = "no index cache at " + opt_.cache_path + " yet: reading every file";
    } else {
      cache_note_ = "ignoring the index cache: " + loaded.status().message();
    }
    return;
  }
  if (loaded->chunk_size != next_.chunk_size || loaded->inline_max != next_.inline_max) {
    cache_note_ = "ignoring the index cache " + opt_.cache_path + ": made for chunk size " +
                  std::to_string(loaded->chunk_size) + " and inline maximum " +
                  std::to_string(loaded->inline_max);
    return;
  }
  cache_ = std::move(loaded).value();
  taken_.assign(cache_.files.size(), false);
}

void IndexRun::SaveCache() {
  if (cache_unchanged_) return;  // the file already says all of it
  next_.Sort();
  Status saved = SaveIndexCache(opt_.cache_path, next_);
  if (!saved.ok()) Note("cannot write the index cache: " + saved.message());
}

// A regular file found by the walk; safe on any thread (reads only opt_).
std::unique_ptr<FileJob> IndexRun::NewFile(const std::string& path, const struct stat& st,
                                           size_t dir, size_t entry) const {
  auto f = std::make_unique<FileJob>();
  f->path = path;
  f->size = static_cast<uint64_t>(st.st_size);
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->stamp = FileStamp::Of(st);
  f->dir = dir;
  f->entry = entry;
  f->is_inline = dir != SIZE_MAX && f->size <= opt_.inline_max;
  return f;
}

// Gives `f` its hashes from the cache when its stamp is there, else room for
// the hasher to fill.
void IndexRun::TakeFromCache(FileJob& f) {
  CachedFile* cached = use_cache_ ? cache_.Find(f.stamp) : nullptr;
  if (cached && !taken_[cached - cache_.files.data()]) {
    // Same size and parameters: the cache holds the content in the same form.
    // Moved, not copied: a second path to the same inode (a hard link) is
    // read as any file.
    taken_[cached - cache_.files.data()] = true;
    f.reused = true;
    f.data = std::move(cached->data);
    f.leaves = std::move(cached->leaves);
  } else if (f.is_inline) {
    f.data.resize(f.size);
  } else {
    f.leaves.resize(ChunkCount(f.size, opt_.chunk_size));
  }
}

// Reads directory d: its entries, and the files and subdirectories found in
// it, into dirs_[d] only (so directories of one level can be walked at once).
void IndexRun::Walk(size_t d) {
  DirJob& dir = dirs_[d];
  const std::string& dir_path = dir.path;
  // The root itself may be a symlink the user named; nothing below it is followed.
  const int nofollow = d == 0 ? 0 : O_NOFOLLOW;
  UniqueFd dfd(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC));
  DirStream dp(dfd ? ::fdopendir(dfd.get()) : nullptr);
  if (!dp) {
    dir.failed = true;
    dir.error = Status::FromErrno(errno, "open directory " + dir_path);
    if (d > 0) dir.warnings.push_back("skipping: " + dir.error.message());
    return;
  }
  dfd.release();  // now owned by dp
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(dp.get())) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  const int read_errno = errno;
  const int fd = ::dirfd(dp.get());
  // Sort so that the file order (and warnings) do not depend on read order.
  std::sort(names.begin(), names.end());
  if (read_errno != 0) {
    dir.failed = true;
    dir.error = Status::FromErrno(read_errno, "read directory " + dir_path);
    if (d > 0) dir.warnings.push_back("skipping: " + dir.error.message());
    return;
  }
  dir.entries.reserve(names.size());
  for (const std::string& name : names) {
    const std::string path = dir_path == "/" ? "/" + name : dir_path + "/" + name;
    if (!ValidateEntryName(name).ok()) {
      dir.warnings.push_back("skipping " + path + ": " + ValidateEntryName(name).message());
      continue;
    }
    struct stat st;
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      dir.warnings.push_back("skipping " + Status::FromErrno(errno, path + ": stat").message());
      continue;
    }
    DirEntry e;
    e.name = name;
    e.mode = static_cast<uint16_t>(st.st_mode & 07777);
    e.mtime_sec = st.st_mtim.tv_sec;
    e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    const size_t entry = dir.entries.size();
    if (S_ISREG(st.st_mode)) {
      e.type = EntryType::kFile;
      e.size = static_cast<uint64_t>(st.st_size);
      dir.found_files.push_back(NewFile(path, st, d, entry));
      e.is_inline = dir.found_files.back()->is_inline;
    } else if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != root_dev_) {
        dir.warnings.push_back("skipping " + path + ": a mount point (not crossing file systems)");
        continue;
      }
      e.type = EntryType::kDirectory;
      dir.found_subdirs.emplace_back(entry, path);
    } else if (S_ISLNK(st.st_mode)) {
      // One byte more than the longest target allowed tells a longer one.
      char buf[kMaxSymlinkTargetLength + 1];
      ssize_t n = ::readlinkat(fd, name.c_str(), buf, sizeof buf);
      if (n < 0) {
        dir.warnings.push_back("skipping symlink " + Status::FromErrno(errno, path).message());
        continue;
      }
      if (n == 0 || static_cast<size_t>(n) > kMaxSymlinkTargetLength) {
        dir.warnings.push_back("skipping symlink " + path + ": target length out of range");
        continue;
      }
      std::string target(buf, static_cast<size_t>(n));
      e.type = EntryType::kSymlink;
      e.size = target.size();
      e.symlink_target = std::move(target);
      ++dir.symlinks;
    } else {
      dir.warnings.push_back("skipping special file " + path);
      continue;
    }
    dir.entries.push_back(std::move(e));
  }
  dir.drop.assign(dir.entries.size(), false);
}

// Moves what walking directory d found into the run, in directory order:
// its files, its subdirectories (the next level), its warnings.
void IndexRun::MergeWalked(size_t d) {
  for (std::string& w : dirs_[d].warnings) Warn(w);
  dirs_[d].warnings.clear();
  stats_.symlinks += dirs_[d].symlinks;
  for (auto& f : dirs_[d].found_files) {
    walked_bytes_ += f->size;
    files_.push_back(std::move(f));
  }
  dirs_[d].found_files.clear();
  auto subdirs = std::move(dirs_[d].found_subdirs);
  for (auto& [entry, path] : subdirs) {
    dirs_[d].subdirs.push_back({entry, dirs_.size()});
    dirs_.push_back(DirJob{});
    dirs_.back().path = std::move(path);
  }
}

// Walks the tree breadth-first, the directories of each level in parallel,
// while the index cache loads on a thread of its own; then gives each file
// its cached hashes, if any.
Status IndexRun::WalkTree() {
  std::thread loader;
  if (!opt_.cache_path.empty()) loader = std::thread([this] { LoadCache(); });
  const unsigned threads = opt_.threads ? opt_.threads : DefaultThreads();
  auto last_report = std::chrono::steady_clock::now();
  Status root_error;
  levels_ = {0};
  for (size_t begin = 0, end = dirs_.size(); begin < end; begin = end, end = dirs_.size()) {
    (void)ParallelFor(end - begin, threads, [&](size_t i) {
      Walk(begin + i);
      return Status::Ok();
    });
    if (begin == 0 && dirs_[0].failed) {
      root_error = dirs_[0].error.WithContext("index");
      break;
    }
    for (size_t d = begin; d < end; ++d) MergeWalked(d);
    levels_.push_back(end);
    // While walking, the totals grow and nothing is hashed yet.
    if (opt_.progress && std::chrono::steady_clock::now() - last_report > kProgressPeriod) {
      last_report = std::chrono::steady_clock::now();
      IndexProgress p;
      p.files_total = files_.size();
      p.bytes_total = walked_bytes_;
      opt_.progress(p);
    }
  }
  if (loader.joinable()) loader.join();
  if (!cache_note_.empty()) Note(cache_note_);
  LCFS_RETURN_IF_ERROR(root_error);
  for (auto& f : files_) TakeFromCache(*f);
  return Status::Ok();
}

void IndexRun::HashAll() {
  std::vector<Segment> segments;
  IndexProgress total;
  uint64_t reused_bytes = 0, reused_files = 0;
  const uint64_t per_segment = std::max<uint64_t>(1, kSegmentBytes / opt_.chunk_size);
  for (size_t i = 0; i < files_.size(); ++i) {
    const FileJob& f = *files_[i];
    total.bytes_total += f.size;
    ++total.files_total;
    if (f.reused) {
      reused_bytes += f.size;
      ++reused_files;
      continue;
    }
    if (f.is_inline) {
      if (f.size > 0) segments.push_back({i, 0, 0});
      continue;
    }
    for (uint64_t c = 0; c < f.leaves.size(); c += per_segment) {
      segments.push_back({i, c, std::min<uint64_t>(per_segment, f.leaves.size() - c)});
    }
  }
  std::atomic<uint64_t> bytes_done{reused_bytes}, files_done{reused_files};
  Hasher hasher(files_, opt_.chunk_size, bytes_done, files_done);
  ParallelOptions parallel;
  parallel.threads = opt_.threads;
  parallel.tick_period = kProgressPeriod;
  if (opt_.progress) {
    parallel.tick = [&] {
      IndexProgress p = total;
      p.bytes_done = bytes_done.load();
      p.files_done = files_done.load();
      opt_.progress(p);
    };
  }
  // Per thread: a read buffer and a hasher, reused across segments.
  struct Scratch {
    std::vector<uint8_t> buf;
    Sha256 sha;
  };
  std::vector<Scratch> scratch(opt_.threads ? opt_.threads : DefaultThreads());
  (void)ParallelFor(segments.size(), parallel, [&](size_t s, unsigned worker) {
    Scratch& w = scratch[worker];
    if (w.buf.empty()) w.buf.resize(std::min<size_t>(kReadPiece, opt_.chunk_size));
    hasher.Run(segments[s], w.buf, w.sha);
    return Status::Ok();  // a file that fails is marked in its FileJob, never fatal
  });
  // Files with nothing to read (empty, or inline with 0 bytes) count as done.
  if (opt_.progress) {
    IndexProgress p = total;
    p.bytes_done = total.bytes_total;
    p.files_done = total.files_total;
    opt_.progress(p);
  }
}

// Turns each hashed file into a tree, registers its chunks and nodes in the
// mdex and completes its directory entry; failed files are dropped.
void IndexRun::FinishFiles() {
  if (use_cache_) {
    size_t reused = 0;
    for (const auto& f : files_) reused += f->reused && !f->failed.load();
    cache_unchanged_ = reused == files_.size() && reused == cache_.files.size();
  }
  size_t objects = dirs_.size();
  for (const auto& f : files_) objects += f->leaves.size() + f->leaves.size() / 64 + 1;
  mdex_->Reserve(objects);
  for (auto& fp : files_) {
    FileJob& f = *fp;
    if (f.failed.load()) {
      Warn("skipping " + ErrorOf(f).message());
      if (f.dir != SIZE_MAX) dirs_[f.dir].drop[f.entry] = true;
      continue;
    }
    ++stats_.files;
    stats_.bytes += f.size;
    if (f.reused) ++stats_.reused;
    if (use_cache_ && !cache_unchanged_ && OldEnough(f.stamp)) {
      next_.files.push_back({f.stamp, f.is_inline ? std::vector<Hash>{} : f.leaves,
                             f.is_inline ? f.data : std::vector<uint8_t>{}});
    }
    if (f.is_inline) {
      ++stats_.inlined;
      dirs_[f.dir].entries[f.entry].inline_data = std::move(f.data);
      continue;
    }
    stats_.chunks += f.leaves.size();
    const Mdex::FileId id = mdex_->AddFile(f.path);
    for (uint64_t c = 0; c < f.leaves.size(); ++c) {
      mdex_->Add(f.leaves[c], ObjectKind::kChunk, id, c * opt_.chunk_size,
                 ChunkLength(f.size, opt_.chunk_size, c));
    }
    auto shape = FileShape::Make(f.size, opt_.chunk_size);
    auto tree = FileTree::FromLeaves(*shape, std::move(f.leaves));
    tree->ForEachNode([&](const Hash& h, std::vector<uint8_t> bytes) {
      mdex_->Put(h, ObjectKind::kTreeNode, std::move(bytes));
    });
    f.file_hash = tree->root();
    if (f.dir != SIZE_MAX) dirs_[f.dir].entries[f.entry].hash = f.file_hash;
  }
}

// Builds directory d's object from its entries and its children's results;
// touches only dirs_[d] (and reads its children, built one level before).
void IndexRun::BuildDirectory(size_t d) {
  DirJob& dir = dirs_[d];
  if (dir.failed) return;
  for (const DirJob::Child& c : dir.subdirs) {
    const DirJob& child = dirs_[c.dir];
    if (child.failed) {
      dir.drop[c.entry] = true;
    } else {
      dir.entries[c.entry].hash = child.hash;
      dir.entries[c.entry].size = child.encoded_size;
    }
  }
  Directory obj;
  obj.chunk_size = opt_.chunk_size;
  for (size_t i = 0; i < dir.entries.size(); ++i) {
    if (!dir.drop[i]) obj.entries.push_back(std::move(dir.entries[i]));
  }
  dir.entries.clear();
  auto bytes = EncodeDirectory(obj);
  if (!bytes.ok()) {
    dir.build_error = bytes.status().WithContext(dir.path);
    dir.failed = true;
    return;
  }
  dir.encoded_size = bytes->size();
  dir.hash = DirectoryHash(*bytes);
  dir.encoded = std::move(bytes).value();
}

// The deepest level first, so every directory is built after all of its
// subdirectories; the directories of one level in parallel.
Status IndexRun::BuildDirectories() {
  const unsigned threads = opt_.threads ? opt_.threads : DefaultThreads();
  for (size_t level = levels_.size() - 1; level-- > 0;) {
    const size_t begin = levels_[level], end = levels_[level + 1];
    (void)ParallelFor(end - begin, threads, [&](size_t i) {
      BuildDirectory(begin + i);
      return Status::Ok();
    });
    for (size_t d = begin; d < end; ++d) {
      DirJob& dir = dirs_[d];
      if (!dir.build_error.ok()) {
        if (d == 0) return dir.build_error;
        Warn("skipping directory " + dir.build_error.message());
      }
      if (dir.failed) continue;
      ++stats_.dirs;
      mdex_->Put(dir.hash, ObjectKind::kDirectory, std::move(dir.encoded));
    }
  }
  return Status::Ok();
}

Result<IndexResult> IndexRun::Run(const std::string& path) {
  LCFS_RETURN_IF_ERROR(ValidateChunkSize(opt_.chunk_size));
  if (opt_.inline_max > kMaxInlineSize) {
    return Status::Error(EINVAL, "inline threshold " + std::to_string(opt_.inline_max) +
                                     " exceeds " + std::to_string(kMaxInlineSize));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "index " + path);
  root_dev_ = st.st_dev;
  IndexResult result;
  result.chunk_size = opt_.chunk_size;
  if (S_ISREG(st.st_mode)) {
    files_.push_back(NewFile(path, st, SIZE_MAX, 0));
    TakeFromCache(*files_[0]);
    walked_bytes_ = files_[0]->size;
    HashAll();
    if (files_[0]->failed.load()) {
      return ErrorOf(*files_[0]).WithContext("index " + path);
    }
    FinishFiles();
    result.root = files_[0]->file_hash;
    result.root_is_directory = false;
    result.root_size = files_[0]->size;
  } else if (S_ISDIR(st.st_mode)) {
    dirs_.push_back(DirJob{});
    dirs_[0].path = path.size() > 1 && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
    LCFS_RETURN_IF_ERROR(WalkTree());
    HashAll();
    FinishFiles();
    LCFS_RETURN_IF_ERROR(BuildDirectories());
    if (use_cache_) SaveCache();
    result.root = dirs_[0].hash;
    result.root_size = dirs_[0].encoded_size;
  } else {
    return Status::Error(EINVAL, "index " + path + ": not a directory or regular file");
  }
  result.stats = stats_;
  result.mdex = std::move(mdex_);
  return result;
}

}  // namespace

std::string FormatIndexProgress(const IndexProgress& p, double seconds) {
  const int pct = p.bytes_total ? static_cast<int>(100 * p.bytes_done / p.bytes_total) : 100;
  const double rate = seconds > 0 ? static_cast<double>(p.bytes_done) / seconds : 0;
  return std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files, " +
         FormatByteSize(p.bytes_done) + "/" + FormatByteSize(p.bytes_total) + " (" +
         std::to_string(pct) + "%), " + FormatByteSize(static_cast<uint64_t>(rate)) + "/s";
}

std::string DefaultIndexCachePath(const std::string& dir) {
  std::string base;
  if (::geteuid() == 0) {
    base = "/var/cache/lcfs-export";
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') {
    base = std::string(xdg) + "/lcfs-export";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::string(home) + "/.cache/lcfs-export";
  } else {
    base = "/tmp/lcfs-export-" + std::to_string(::getuid());
  }
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::weakly_canonical(dir, ec);
  const std::string name = Sha256Of(ec ? dir : real.string()).ToHex().substr(0, 32);
  return base + "/" + name + ".index";
}

Result<IndexResult> IndexPath(const std::string& path, const IndexOptions& options) {
  IndexRun run(options);
  return run.Run(path);
}

}  // namespace lcfs::index
