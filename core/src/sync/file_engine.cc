#include "file_engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "lcfs/full_io.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/parallel.h"

namespace lcfs::sync {
namespace {

// Copies the first `len` bytes of `from` into `to` (in the kernel; a reflink
// where the filesystem can).
Status CopyPrefix(int from, int to, uint64_t len, const std::string& what) {
  loff_t in = 0, out = 0;
  while (static_cast<uint64_t>(in) < len) {
    ssize_t n = copy_file_range(from, &in, to, &out, len - static_cast<uint64_t>(in), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "copy local data into " + what);
    if (n == 0) return Status::Error(EIO, "copy local data into " + what + ": source shrank");
  }
  return Status::Ok();
}

}  // namespace

SyncContext::SyncContext(ObjectSource& source, const SyncOptions& options)
    : source_(source), options_(options) {}

unsigned SyncContext::hash_threads() const {
  return options_.hash_threads != 0 ? options_.hash_threads : DefaultThreads();
}

Result<std::vector<uint8_t>> SyncContext::Fetch(const Hash& hash, ObjectKind kind,
                                                uint64_t expected_size) {
  if (cancelled()) return Status::Error(ECANCELED, "sync interrupted");
  FetchRequest request;
  request.hash = hash;
  request.kind = kind;
  request.expected_size = expected_size;
  request.timeout = options_.timeout;
  request.cancel = options_.cancel;
  Result<std::vector<uint8_t>> bytes = source_.Fetch(request);
  if (!bytes.ok()) {
    if (cancelled()) return Status::Error(ECANCELED, "sync interrupted");
    return bytes;
  }
  // Every source promises the length, but a wrong one must never be written.
  LCFS_RETURN_IF_ERROR(CheckExpectedSize(request, bytes->size()));
  received_ += bytes->size();
  ++objects_;
  if (kind == ObjectKind::kChunk) chunk_received_ += bytes->size();
  ReportProgress();
  return bytes;
}

void SyncContext::ReportProgress(bool force) {
  if (!options_.progress) return;
  MutexLock lock(&progress_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(100)) return;
  last_progress_ = now;
  SyncProgress p;
  p.bytes_received = received_.load();
  p.chunk_bytes_received = chunk_received_.load();
  p.bytes_reused = reused_.load();
  p.bytes_to_fetch = to_fetch_.load();
  p.planned = planned_.load();
  options_.progress(p);
}

SyncStats SyncContext::Snapshot() const {
  SyncStats s = stats_;
  s.bytes_received = received_.load();
  s.bytes_reused = reused_.load();
  s.objects_fetched = objects_.load();
  return s;
}

Result<std::vector<Hash>> HashChunks(std::span<const uint8_t> data, uint32_t chunk_size,
                                     unsigned threads) {
  const uint64_t n = index::ChunkCount(data.size(), chunk_size);
  std::vector<Hash> leaves(n);
  Status s = ParallelFor(n, threads != 0 ? threads : DefaultThreads(), [&](size_t i) {
    const uint64_t off = uint64_t{i} * chunk_size;
    leaves[i] = ObjectHash(ObjectKind::kChunk,
                           data.subspan(off, index::ChunkLength(data.size(), chunk_size, i)));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return leaves;
}

Result<std::vector<ChangedChunk>> FindChangedChunks(SyncContext& ctx, const RemoteFile& remote,
                                                    std::span<const Hash> local_leaves,
                                                    uint64_t local_size) {
  auto shape = index::FileShape::Make(remote.size, remote.chunk_size);
  if (!shape.ok()) return shape.status().WithContext("remote file " + remote.hash.ToHex());
  std::vector<ChangedChunk> changed;
  if (shape->chunk_count() == 0) return changed;

  // The local tree, to skip remote subtrees whose hash we already have.
  index::FileTree local;
  bool have_local_tree = false;
  if (!local_leaves.empty()) {
    auto local_shape = index::FileShape::Make(local_size, remote.chunk_size);
    if (local_shape.ok()) {
      auto t =
          index::FileTree::FromLeaves(*local_shape, {local_leaves.begin(), local_leaves.end()});
      if (t.ok()) {
        local = std::move(t).value();
        have_local_tree = true;
      }
    }
  }
  auto have = [&](int level, uint64_t index, const Hash& h) {
    if (!have_local_tree || level > local.shape().depth()) return false;
    auto nodes = local.level(level);
    return index < nodes.size() && nodes[index] == h;
  };

  struct Node {
    uint64_t index;
    Hash hash;
  };
  std::vector<Node> frontier = {{0, remote.hash}};
  for (int level = shape->depth(); level > 0; --level) {
    std::vector<Node> next;
    for (const Node& node : frontier) {
      if (have(level, node.index, node.hash)) continue;
      const uint32_t children = shape->ChildCount(level, node.index);
      auto bytes = ctx.Fetch(node.hash, ObjectKind::kTreeNode, uint64_t{children} * Hash::kSize);
      if (!bytes.ok()) return bytes.status();
      auto hashes = index::DecodeTreeNode(*bytes, children);
      if (!hashes.ok()) return hashes.status().WithContext("tree node " + node.hash.ToHex());
      for (uint32_t c = 0; c < children; ++c)
        next.push_back({node.index * shape->fanout() + c, (*hashes)[c]});
    }
    frontier = std::move(next);
  }
  for (const Node& leaf : frontier) {
    if (!have(0, leaf.index, leaf.hash)) changed.push_back({leaf.index, leaf.hash});
  }
  return changed;
}

Result<UniqueFd> CreateTempNextTo(const std::string& path, std::string* temp_path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.size() > 200) base.resize(200);  // leave room within NAME_MAX
  std::string tmpl = dir + "/" + kTempPrefix + base + ".XXXXXX";
  int fd = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "create temporary file for " + path);
  *temp_path = tmpl;
  return UniqueFd(fd);
}

Status SetFileAttributes(int fd, uint16_t mode, int64_t mtime_sec, uint32_t mtime_nsec,
                         const std::string& what) {
  if (fchmod(fd, mode & 07777) != 0) return Status::FromErrno(errno, "chmod " + what);
  timespec times[2] = {{0, UTIME_OMIT},
                       {static_cast<time_t>(mtime_sec), static_cast<long>(mtime_nsec)}};
  if (futimens(fd, times) != 0) return Status::FromErrno(errno, "set mtime of " + what);
  return Status::Ok();
}

namespace {

// Opens the local copy of a job for reading; it must still be a regular file.
Result<UniqueFd> OpenLocal(const FileSyncJob& job) {
  UniqueFd fd(open(job.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open " + job.path);
  return fd;
}

// Hashes the local copies of every job, all chunks of all files in one pool.
// Files are opened per chunk, not held open: a tree may have more files
// than the process may have descriptors.
Status HashLocalCopies(SyncContext& ctx, std::vector<std::unique_ptr<FileSyncJob>>& jobs) {
  std::vector<uint64_t> first_chunk(jobs.size() + 1, 0);  // prefix sums over jobs
  for (size_t j = 0; j < jobs.size(); ++j) {
    FileSyncJob& job = *jobs[j];
    uint64_t chunks = 0;
    struct stat st;
    if (lstat(job.path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      job.has_local = true;
      job.local_size = static_cast<uint64_t>(st.st_size);
      job.local_mode = st.st_mode & 07777;
      chunks = index::ChunkCount(job.local_size, job.remote.chunk_size);
      job.local_leaves.resize(chunks);
    }
    first_chunk[j + 1] = first_chunk[j] + chunks;
  }
  return ParallelFor(
      first_chunk.back(), ctx.hash_threads(),
      [&](size_t i) {
        const size_t j =
            std::upper_bound(first_chunk.begin(), first_chunk.end(), i) - first_chunk.begin() - 1;
        FileSyncJob& job = *jobs[j];
        const uint64_t c = i - first_chunk[j];
        const uint32_t len = index::ChunkLength(job.local_size, job.remote.chunk_size, c);
        thread_local std::vector<uint8_t> buf;
        buf.resize(len);
        auto fd = OpenLocal(job);
        if (!fd.ok()) return fd.status();
        LCFS_RETURN_IF_ERROR(
            PreadExact(fd->get(), buf, c * job.remote.chunk_size).WithContext("read " + job.path));
        job.local_leaves[c] = ObjectHash(ObjectKind::kChunk, buf);
        return Status::Ok();
      },
      ctx.options().cancel);
}

// Where a chunk's bytes can be had locally.
struct LocalChunk {
  FileSyncJob* job;
  uint64_t index;
};

class FileWriter {
 public:
  FileWriter(SyncContext& ctx, std::unordered_map<Hash, LocalChunk> local)
      : ctx_(ctx), local_(std::move(local)) {}

  // Gets chunk `c` of `job` (locally if we hold its bytes, else fetched) and
  // writes it into the job's temporary file; the last one renames the file.
  Status WriteChunk(FileSyncJob& job, const ChangedChunk& c) {
    const uint32_t len = index::ChunkLength(job.remote.size, job.remote.chunk_size, c.index);
    std::vector<uint8_t> bytes;
    bool reused = false;
    if (auto it = local_.find(c.hash); it != local_.end()) {
      const LocalChunk& l = it->second;
      bytes.resize(len);
      auto fd = OpenLocal(*l.job);
      Status s =
          fd.ok() ? PreadExact(fd->get(), bytes, l.index * l.job->remote.chunk_size) : fd.status();
      // The local file may have changed since it was hashed: then fetch.
      reused = s.ok() && ObjectHash(ObjectKind::kChunk, bytes) == c.hash;
    }
    if (reused) {
      ctx_.AddReused(len);
    } else {
      auto fetched = ctx_.Fetch(c.hash, ObjectKind::kChunk, len);
      if (!fetched.ok()) return fetched.status().WithContext(job.path);
      bytes = std::move(fetched).value();
    }
    MutexLock lock(&job.mu);
    LCFS_RETURN_IF_ERROR(EnsureTemp(job));
    LCFS_RETURN_IF_ERROR(PwriteFull(job.temp.get(), bytes, c.index * job.remote.chunk_size)
                             .WithContext("write " + job.temp_path));
    if (--job.remaining == 0) return Finish(job);
    return Status::Ok();
  }

  // A job with nothing to fetch that still needs rewriting (size changed).
  Status Rewrite(FileSyncJob& job) {
    MutexLock lock(&job.mu);
    LCFS_RETURN_IF_ERROR(EnsureTemp(job));
    return Finish(job);
  }

 private:
  Status EnsureTemp(FileSyncJob& job) REQUIRES(job.mu) {
    if (job.temp) return Status::Ok();
    auto fd = CreateTempNextTo(job.path, &job.temp_path);
    if (!fd.ok()) return fd.status();
    job.temp = std::move(fd).value();
    if (job.has_local) {
      auto local = OpenLocal(job);
      if (!local.ok()) return local.status();
      LCFS_RETURN_IF_ERROR(CopyPrefix(local->get(), job.temp.get(),
                                      std::min(job.local_size, job.remote.size), job.temp_path));
    }
    if (ftruncate(job.temp.get(), static_cast<off_t>(job.remote.size)) != 0)
      return Status::FromErrno(errno, "set size of " + job.temp_path);
    return Status::Ok();
  }

  Status Finish(FileSyncJob& job) REQUIRES(job.mu) {
    if (job.set_attributes) {
      LCFS_RETURN_IF_ERROR(
          SetFileAttributes(job.temp.get(), job.mode, job.mtime_sec, job.mtime_nsec, job.path));
    } else if (fchmod(job.temp.get(), job.has_local ? job.local_mode : 0644) != 0) {
      return Status::FromErrno(errno, "chmod " + job.temp_path);
    }
    if (rename(job.temp_path.c_str(), job.path.c_str()) != 0)
      return Status::FromErrno(errno, "rename " + job.temp_path + " to " + job.path);
    job.temp.reset();
    job.finished = true;
    return Status::Ok();
  }

  SyncContext& ctx_;
  std::unordered_map<Hash, LocalChunk> local_;
};

}  // namespace

Status SyncFiles(SyncContext& ctx, std::vector<std::unique_ptr<FileSyncJob>>& jobs) {
  LCFS_RETURN_IF_ERROR(HashLocalCopies(ctx, jobs));

  // Remote trees, several files at once (each walk is a few round trips).
  LCFS_RETURN_IF_ERROR(ParallelFor(
      jobs.size(), ctx.options().window,
      [&](size_t j) {
        FileSyncJob& job = *jobs[j];
        auto changed = FindChangedChunks(ctx, job.remote, job.local_leaves, job.local_size);
        if (!changed.ok()) return changed.status().WithContext(job.path);
        job.changed = std::move(changed).value();
        return Status::Ok();
      },
      ctx.options().cancel));

  // Plan: what to fetch, what is reused, which files need a temporary copy.
  std::unordered_map<Hash, LocalChunk> local;
  for (auto& job : jobs) {
    for (uint64_t c = 0; c < job->local_leaves.size(); ++c)
      local.emplace(job->local_leaves[c], LocalChunk{job.get(), c});
  }
  struct Task {
    FileSyncJob* job;
    size_t changed;  // index into job->changed, or SIZE_MAX for a bare rewrite
  };
  std::vector<Task> tasks;
  for (auto& job : jobs) {
    uint64_t changed_bytes = 0;
    for (const auto& c : job->changed) {
      const uint32_t len = index::ChunkLength(job->remote.size, job->remote.chunk_size, c.index);
      changed_bytes += len;
      if (!local.contains(c.hash)) ctx.AddToFetch(len);
    }
    ctx.AddReused(job->remote.size - changed_bytes);
    job->rewrite = !job->changed.empty() || !job->has_local || job->local_size != job->remote.size;
    {
      MutexLock lock(&job->mu);  // before the writers start: uncontended
      job->remaining = job->changed.size();
    }
    if (!job->rewrite) {
      ++ctx.stats().files_unchanged;
      if (job->set_attributes) {
        auto fd = OpenLocal(*job);
        if (!fd.ok()) return fd.status();
        LCFS_RETURN_IF_ERROR(
            SetFileAttributes(fd->get(), job->mode, job->mtime_sec, job->mtime_nsec, job->path));
      }
      continue;
    }
    ++ctx.stats().files_written;
    if (job->changed.empty()) tasks.push_back({job.get(), SIZE_MAX});
    for (size_t k = 0; k < job->changed.size(); ++k) tasks.push_back({job.get(), k});
  }
  ctx.SetPlanned();
  ctx.ReportProgress(true);

  FileWriter writer(ctx, std::move(local));
  Status s = ParallelFor(
      tasks.size(), ctx.options().window,
      [&](size_t i) {
        const Task& t = tasks[i];
        if (t.changed == SIZE_MAX) return writer.Rewrite(*t.job);
        return writer.WriteChunk(*t.job, t.job->changed[t.changed]);
      },
      ctx.options().cancel);
  ctx.ReportProgress(true);
  if (!s.ok()) {
    for (auto& job : jobs) {
      MutexLock lock(&job->mu);  // the writers are done: uncontended
      if (!job->finished && !job->temp_path.empty()) unlink(job->temp_path.c_str());
    }
  }
  return s;
}

}  // namespace lcfs::sync
