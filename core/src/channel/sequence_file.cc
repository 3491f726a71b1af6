#include "lcfs/channel/sequence_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "lcfs/full_io.h"

namespace lcfs::channel {

namespace {

constexpr size_t kDigits = 20;  // UINT64_MAX has 20 digits

// Holds an flock for the life of a scope.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() { flock(fd_, LOCK_UN); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

Result<uint64_t> SequenceFile::ReadNumber(int fd, const std::string& path) {
  uint8_t buf[64];
  auto read = PreadFull(fd, buf, 0);
  if (!read.ok()) return read.status().WithContext(path);
  const size_t n = *read;
  if (n == 0) return uint64_t{0};  // created, never written
  uint64_t v = 0;
  size_t i = 0;
  for (; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(buf[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return Status::Error(EINVAL, path + ": number too large");
    v = v * 10 + d;
  }
  if (i == 0 || i + 1 != n || buf[i] != '\n')
    return Status::Error(EINVAL, path + ": not a sequence file (one decimal number expected)");
  return v;
}

Result<SequenceFile> SequenceFile::Open(const std::string& path) {
  SequenceFile f;
  f.path_ = path;
  f.fd_.reset(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!f.fd_) return Status::FromErrno(errno, path);
  FileLock lock(f.fd_.get());
  auto v = ReadNumber(f.fd_.get(), path);
  if (!v.ok()) return v.status();
  f.last_ = *v;
  return f;
}

Result<uint64_t> SequenceFile::Next(uint64_t floor) {
  FileLock lock(fd_.get());
  // Another exporter sharing the file may have moved it on.
  auto on_disk = ReadNumber(fd_.get(), path_);
  if (!on_disk.ok()) return on_disk.status();
  const uint64_t last = std::max(last_, *on_disk);
  if (last == UINT64_MAX) return Status::Error(EOVERFLOW, path_ + ": sequence numbers exhausted");
  const uint64_t next = std::max(last + 1, floor);
  char buf[kDigits + 2];
  snprintf(buf, sizeof buf, "%020" PRIu64 "\n", next);
  LCFS_RETURN_IF_ERROR(
      PwriteFull(fd_.get(), std::span(reinterpret_cast<const uint8_t*>(buf), kDigits + 1), 0)
          .WithContext(path_));
  if (fdatasync(fd_.get()) != 0) return Status::FromErrno(errno, path_ + ": fdatasync");
  last_ = next;
  return next;
}

}  // namespace lcfs::channel
