// The index cache: what the indexer learnt about each regular file, kept
// between runs so that indexing the same tree again reads only the files
// that changed (docs/protocol.md section 13 gives every byte).
//
// A file is identified as git's index identifies it: device, inode, size,
// mtime and ctime (FileStamp). Writing a file, truncating it, renaming over
// it or restoring its mtime with `touch -d` all change its ctime, which no
// unprivileged call sets back, so a stamp that still matches means the bytes
// hashed last time are the bytes there now. Two limits, as in git:
//  - a file changed within one timestamp tick of the stamp being taken could
//    keep its stamp; the indexer therefore caches only files whose times are
//    older than the walk by a margin (IndexOptions::cache_min_age);
//  - a file system whose ctime is not maintained (some network or FUSE file
//    systems) defeats the check; such trees should run without a cache.
// Even then no wrong chunk is sent: the exporter checks every chunk it reads
// against its hash. Inline content comes from the cache as it was read.
//
// The cache is local state, never received from the network; still, its
// parser is strict and a cache that fails any check (checksum, structure,
// parameters) is ignored as a whole, never partly trusted.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/status.h"

namespace lcfs::index {

// What identifies an unchanged file.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  int64_t ctime_sec = 0;
  uint32_t ctime_nsec = 0;

  static FileStamp Of(const struct stat& st);
  bool operator==(const FileStamp&) const = default;
};

struct CachedFile {
  FileStamp stamp;
  std::vector<Hash> leaves;   // a chunked file: its chunk hashes, in order
  std::vector<uint8_t> data;  // an inline file (size <= inline_max): its content
};

struct IndexCache {
  uint32_t chunk_size = 0;
  uint32_t inline_max = 0;
  // Sorted by (dev, ino), each at most once.
  std::vector<CachedFile> files;

  // The entry for `stamp`'s file if its stamp is exactly `stamp`, else null.
  const CachedFile* Find(const FileStamp& stamp) const;
  CachedFile* Find(const FileStamp& stamp) {
    return const_cast<CachedFile*>(std::as_const(*this).Find(stamp));
  }
  // Sorts `files` (the encoder and Find need it); drops repeated inodes
  // (hard links indexed twice).
  void Sort();
};

// Encodes a sorted cache. EINVAL if it breaks a rule the decoder checks.
Result<std::vector<uint8_t>> EncodeIndexCache(const IndexCache& cache);
// EINVAL (EBADMSG for a checksum mismatch) naming what is wrong.
Result<IndexCache> DecodeIndexCache(std::span<const uint8_t> bytes);

// The cache file at `path`: ENOENT if there is none, other errors with the
// reason it cannot be used.
Result<IndexCache> LoadIndexCache(const std::string& path);
// Replaces the file at `path` atomically (a temporary file renamed over it),
// creating its directory if needed.
Status SaveIndexCache(const std::string& path, const IndexCache& cache);

}  // namespace lcfs::index
