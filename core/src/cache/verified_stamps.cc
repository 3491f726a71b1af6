#include "lcfs/cache/verified_stamps.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "lcfs/full_io.h"

namespace lcfs::cache {
namespace {

constexpr size_t kFields = 7;
constexpr size_t kRecordSize = Hash::kSize + kFields * sizeof(uint64_t);  // 88
// Compact when the log holds this many times more records than hashes.
constexpr size_t kBloat = 4;

using RecordBytes = std::array<uint8_t, kRecordSize>;

}  // namespace

VerifiedStamps::Stamp VerifiedStamps::Stamp::Of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev),          static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size),         static_cast<uint64_t>(st.st_mtim.tv_sec),
          static_cast<uint64_t>(st.st_mtim.tv_nsec), static_cast<uint64_t>(st.st_ctim.tv_sec),
          static_cast<uint64_t>(st.st_ctim.tv_nsec)};
}

VerifiedStamps::VerifiedStamps(const std::string& path, StampOptions options)
    : options_(std::move(options)) {
  log_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_.valid()) return;
  struct stat st;
  if (::fstat(log_.get(), &st) != 0) return;
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  if (!PreadExact(log_.get(), bytes, 0).ok()) return;
  const size_t records = bytes.size() / kRecordSize;  // a torn tail is ignored
  for (size_t i = 0; i < records; ++i) {
    const uint8_t* r = bytes.data() + i * kRecordSize;
    Stamp s;
    std::memcpy(&s, r + Hash::kSize, sizeof s);
    stamps_[Hash::FromBytes(std::span<const uint8_t, Hash::kSize>(r, Hash::kSize))] = s;
  }
  if (records <= kBloat * stamps_.size() + 1024 && bytes.size() % kRecordSize == 0) return;
  // Rewrite: one record per hash, through a temporary file renamed into place.
  const std::string tmp = path + "." + std::to_string(::getpid());
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return;
  std::vector<uint8_t> compact;
  compact.reserve(stamps_.size() * kRecordSize);
  for (const auto& [hash, s] : stamps_) {
    compact.insert(compact.end(), hash.bytes.begin(), hash.bytes.end());
    const auto* p = reinterpret_cast<const uint8_t*>(&s);
    compact.insert(compact.end(), p, p + sizeof s);
  }
  if (!WriteFull(out.get(), compact).ok() || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  log_ = UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
}

bool VerifiedStamps::Unchanged(const Hash& hash, const struct stat& st) const {
  std::lock_guard lock(mu_);
  auto it = stamps_.find(hash);
  return it != stamps_.end() && it->second == Stamp::Of(st);
}

bool VerifiedStamps::Settled(const timespec& ctime) const {
  timespec now;
  if (options_.now) {
    now = options_.now();
  } else {
    ::clock_gettime(CLOCK_REALTIME, &now);
  }
  const auto age = std::chrono::seconds(now.tv_sec - ctime.tv_sec) +
                   std::chrono::nanoseconds(now.tv_nsec - ctime.tv_nsec);
  return age >= options_.racy;
}

bool VerifiedStamps::Record(const Hash& hash, const struct stat& st) {
  if (!Settled(st.st_ctim)) return false;  // could still change without moving its stamp
  const Stamp s = Stamp::Of(st);
  static_assert(sizeof(Stamp) == kFields * sizeof(uint64_t));
  RecordBytes r;
  std::memcpy(r.data(), hash.bytes.data(), Hash::kSize);
  std::memcpy(r.data() + Hash::kSize, &s, sizeof s);
  std::lock_guard lock(mu_);
  if (auto it = stamps_.find(hash); it != stamps_.end() && it->second == s) return true;
  stamps_[hash] = s;
  // One write on an O_APPEND descriptor: records of processes sharing the
  // cache do not interleave. A failure only costs a later re-verification.
  if (log_.valid()) (void)!::write(log_.get(), r.data(), r.size());
  return true;
}

}  // namespace lcfs::cache
