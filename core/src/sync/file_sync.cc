#include "lcfs/sync/file_sync.h"

#include <cstring>

#include "file_engine.h"
#include "lcfs/index/chunking.h"
#include "lcfs/parallel.h"

namespace lcfs::sync {

Result<uint64_t> SyncFile(ObjectSource& source, const RemoteFile& remote, const std::string& path,
                          const SyncOptions& options, SyncStats* stats) {
  LCFS_RETURN_IF_ERROR(index::ValidateChunkSize(remote.chunk_size));
  SyncContext ctx(source, options);
  std::vector<std::unique_ptr<FileSyncJob>> jobs;
  jobs.push_back(std::make_unique<FileSyncJob>());
  jobs.back()->path = path;
  jobs.back()->remote = remote;
  Status s = SyncFiles(ctx, jobs);
  if (stats != nullptr) *stats = ctx.Snapshot();
  if (!s.ok()) return s.WithContext("sync " + path);
  return ctx.Snapshot().bytes_received;
}

Result<uint64_t> SyncMemory(ObjectSource& source, const RemoteFile& remote,
                            std::span<uint8_t> memory, const SyncOptions& options,
                            SyncStats* stats) {
  LCFS_RETURN_IF_ERROR(index::ValidateChunkSize(remote.chunk_size));
  if (memory.size() != remote.size) {
    return Status::Error(EINVAL, "sync into memory: buffer is " + std::to_string(memory.size()) +
                                     " bytes, the file " + std::to_string(remote.size));
  }
  SyncContext ctx(source, options);
  auto leaves = HashChunks(memory, remote.chunk_size, ctx.hash_threads());
  if (!leaves.ok()) return leaves.status();
  auto changed = FindChangedChunks(ctx, remote, *leaves, memory.size());
  if (!changed.ok()) return changed.status();
  uint64_t changed_bytes = 0;
  for (const auto& c : *changed)
    changed_bytes += index::ChunkLength(remote.size, remote.chunk_size, c.index);
  ctx.AddToFetch(changed_bytes);
  ctx.AddReused(remote.size - changed_bytes);
  ctx.SetPlanned();
  Status s = ParallelFor(
      changed->size(), options.window,
      [&](size_t i) {
        const ChangedChunk& c = (*changed)[i];
        const uint32_t len = index::ChunkLength(remote.size, remote.chunk_size, c.index);
        auto bytes = ctx.Fetch(c.hash, ObjectKind::kChunk, len);
        if (!bytes.ok()) return bytes.status();
        std::memcpy(memory.data() + c.index * remote.chunk_size, bytes->data(), len);
        return Status::Ok();
      },
      options.cancel);
  ctx.ReportProgress(true);
  if (stats != nullptr) *stats = ctx.Snapshot();
  if (!s.ok()) return s.WithContext("sync into memory");
  return ctx.Snapshot().bytes_received;
}

}  // namespace lcfs::sync
