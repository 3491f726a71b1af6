#include "index/index_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "lcfs/byte_reader.h"
#include "lcfs/full_io.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"
#include "lcfs/unique_fd.h"

namespace lcfs::index {
namespace {

// docs/protocol.md section 13.
constexpr uint8_t kMagic[4] = {'L', 'C', 'I', 'C'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr size_t kStampSize = 48;
constexpr size_t kTrailerSize = Hash::kSize;
// A cache file larger than this is refused before it is read.
constexpr uint64_t kMaxCacheFileSize = uint64_t{1} << 32;

auto Key(const FileStamp& s) { return std::tie(s.dev, s.ino); }

Status Bad(const std::string& why) { return Status::Error(EINVAL, "index cache: " + why); }

bool IsInline(const FileStamp& s, uint32_t inline_max) { return s.size <= inline_max; }

}  // namespace

FileStamp FileStamp::Of(const struct stat& st) {
  FileStamp s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_sec = st.st_mtim.tv_sec;
  s.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  s.ctime_sec = st.st_ctim.tv_sec;
  s.ctime_nsec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
  return s;
}

const CachedFile* IndexCache::Find(const FileStamp& stamp) const {
  auto it = std::lower_bound(
      files.begin(), files.end(), stamp,
      [](const CachedFile& f, const FileStamp& s) { return Key(f.stamp) < Key(s); });
  return it != files.end() && it->stamp == stamp ? &*it : nullptr;
}

void IndexCache::Sort() {
  auto less = [](const CachedFile& a, const CachedFile& b) { return Key(a.stamp) < Key(b.stamp); };
  auto same = [](const CachedFile& a, const CachedFile& b) { return Key(a.stamp) == Key(b.stamp); };
  std::sort(files.begin(), files.end(), less);
  files.erase(std::unique(files.begin(), files.end(), same), files.end());
}

Result<std::vector<uint8_t>> EncodeIndexCache(const IndexCache& cache) {
  LCFS_RETURN_IF_ERROR(ValidateChunkSize(cache.chunk_size));
  if (cache.inline_max > kMaxInlineSize) return Bad("inline maximum above 4096");
  size_t total = kHeaderSize + kTrailerSize;
  for (const CachedFile& f : cache.files)
    total += kStampSize + f.data.size() + f.leaves.size() * Hash::kSize;
  std::vector<uint8_t> out;
  out.reserve(total);
  ByteWriter w(&out);
  w.Bytes(kMagic);
  w.U8(kVersion);
  w.U8(ChunkSizeLog2(cache.chunk_size));
  w.U16(static_cast<uint16_t>(cache.inline_max));
  w.U64(cache.files.size());
  for (size_t i = 0; i < cache.files.size(); ++i) {
    const CachedFile& f = cache.files[i];
    const FileStamp& s = f.stamp;
    if (i > 0 && !(Key(cache.files[i - 1].stamp) < Key(s))) return Bad("files not sorted");
    if (s.mtime_nsec >= 1'000'000'000 || s.ctime_nsec >= 1'000'000'000)
      return Bad("nanoseconds out of range");
    const bool is_inline = IsInline(s, cache.inline_max);
    if (is_inline ? f.data.size() != s.size || !f.leaves.empty()
                  : f.leaves.size() != ChunkCount(s.size, cache.chunk_size) || !f.data.empty())
      return Bad("file content does not match its size");
    w.U64(s.dev);
    w.U64(s.ino);
    w.U64(s.size);
    w.U64(static_cast<uint64_t>(s.mtime_sec));
    w.U32(s.mtime_nsec);
    w.U64(static_cast<uint64_t>(s.ctime_sec));
    w.U32(s.ctime_nsec);
    if (is_inline) w.Bytes(f.data);
    for (const Hash& leaf : f.leaves) w.Bytes(leaf.bytes);
  }
  const Hash sum = Sha256Of(out);
  w.Bytes(sum.bytes);
  return out;
}

Result<IndexCache> DecodeIndexCache(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize + kTrailerSize)
    return Bad("truncated (" + std::to_string(bytes.size()) + " bytes)");
  const auto body = bytes.first(bytes.size() - kTrailerSize);
  if (Sha256Of(body) != Hash::FromBytes(bytes.last<kTrailerSize>()))
    return Status::Error(EBADMSG, "index cache: checksum mismatch");
  ByteReader r(body);
  std::array<uint8_t, 4> magic{};
  r.Array(&magic);
  if (!std::equal(magic.begin(), magic.end(), kMagic)) return Bad("not an index cache");
  const uint8_t version = r.U8().value_or(0);
  if (version != kVersion) return Bad("unknown version " + std::to_string(version));
  IndexCache cache;
  const uint8_t log2 = r.U8().value_or(0);
  if (log2 >= 32 || !ValidateChunkSize(uint64_t{1} << log2).ok())
    return Bad("bad chunk size 2^" + std::to_string(log2));
  cache.chunk_size = uint32_t{1} << log2;
  cache.inline_max = r.U16().value_or(0);
  if (cache.inline_max > kMaxInlineSize) return Bad("inline maximum above 4096");
  const uint64_t count = r.U64().value_or(0);
  // Bound the allocation by the input: every file takes a stamp at least.
  if (count > r.left() / kStampSize)
    return Bad(std::to_string(count) + " files cannot fit in " + std::to_string(r.left()) +
               " bytes");
  cache.files.resize(count);
  for (size_t i = 0; i < count; ++i) {
    CachedFile& f = cache.files[i];
    FileStamp& s = f.stamp;
    const std::string at = "file " + std::to_string(i) + ": ";
    const auto dev = r.U64(), ino = r.U64(), size = r.U64(), mtime = r.U64();
    const auto mtime_nsec = r.U32();
    const auto ctime = r.U64();
    const auto ctime_nsec = r.U32();
    if (!dev || !ino || !size || !mtime || !mtime_nsec || !ctime || !ctime_nsec)
      return Bad(at + "truncated stamp");
    s = {*dev,        *ino,
         *size,       static_cast<int64_t>(*mtime),
         *mtime_nsec, static_cast<int64_t>(*ctime),
         *ctime_nsec};
    if (i > 0 && !(Key(cache.files[i - 1].stamp) < Key(s))) return Bad(at + "not sorted");
    if (s.mtime_nsec >= 1'000'000'000 || s.ctime_nsec >= 1'000'000'000)
      return Bad(at + "nanoseconds out of range");
    if (s.size > kMaxFileSize) return Bad(at + "size above 2^63-1");
    if (IsInline(s, cache.inline_max)) {
      auto data = r.Bytes(s.size);
      if (!data) return Bad(at + "truncated inline content");
      f.data.assign(data->begin(), data->end());
      continue;
    }
    const uint64_t chunks = ChunkCount(s.size, cache.chunk_size);
    if (chunks > r.left() / Hash::kSize) return Bad(at + "truncated chunk hashes");
    f.leaves.resize(chunks);
    for (Hash& leaf : f.leaves) r.Array(&leaf.bytes);
  }
  if (r.left() != 0) return Bad(std::to_string(r.left()) + " trailing bytes");
  return cache;
}

Result<IndexCache> LoadIndexCache(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, path);
  if (!S_ISREG(st.st_mode)) return Bad(path + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxCacheFileSize) return Bad(path + " is too large");
  if (size == 0) return Bad(path + " is empty");
  // Mapped rather than read: the decoder copies what it keeps, so the file's
  // bytes need no buffer of their own (the restart path is all overhead).
  // Writers replace the file by rename, never truncate it, so the mapping
  // cannot lose its pages under us.
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
  if (map == MAP_FAILED) return Status::FromErrno(errno, "mmap " + path);
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  auto cache = DecodeIndexCache(std::span(static_cast<const uint8_t*>(map), size));
  if (!cache.ok()) return cache.status().WithContext(path);
  return cache;
}

Status SaveIndexCache(const std::string& path, const IndexCache& cache) {
  auto bytes = EncodeIndexCache(cache);
  if (!bytes.ok()) return bytes.status();
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Status::Error(ec.value(), "create " + parent.string() + ": " + ec.message());
  }
  std::string tmp = path + ".XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "create " + tmp);
  Status written = WriteFull(fd.get(), *bytes);
  if (written.ok() && ::close(fd.release()) != 0) written = Status::FromErrno(errno, "close");
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    written = Status::FromErrno(errno, "rename to " + path);
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written.WithContext("write " + tmp);
  }
  return Status::Ok();
}

}  // namespace lcfs::index
