#include "lcfs/full_io.h"

#include <unistd.h>

#include <cerrno>

namespace lcfs {
namespace {

// One loop for all four: `io(done)` transfers from position `done` of the
// buffer; a 0 return is end of file for reads (writes never return 0 for a
// non-empty buffer on the files lcfs writes, so it stops the loop rather
// than spinning).
template <typename Io>
Result<size_t> Loop(size_t size, const char* call, Io io) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = io(done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, call);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteResult(Result<size_t> r, size_t size, const char* call) {
  if (!r.ok()) return r.status();
  if (*r < size) return Status::Error(EIO, std::string(call) + ": no progress");
  return Status::Ok();
}

}  // namespace

Result<size_t> ReadFull(int fd, std::span<uint8_t> buf) {
  return Loop(buf.size(), "read",
              [&](size_t done) { return ::read(fd, buf.data() + done, buf.size() - done); });
}

Result<size_t> PreadFull(int fd, std::span<uint8_t> buf, uint64_t offset) {
  return Loop(buf.size(), "pread", [&](size_t done) {
    return ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
  });
}

Status PreadExact(int fd, std::span<uint8_t> buf, uint64_t offset) {
  auto n = PreadFull(fd, buf, offset);
  if (!n.ok()) return n.status();
  if (*n < buf.size()) return Status::Error(EIO, "pread: unexpected end of file");
  return Status::Ok();
}

Status WriteFull(int fd, std::span<const uint8_t> bytes) {
  return WriteResult(
      Loop(bytes.size(), "write",
           [&](size_t done) { return ::write(fd, bytes.data() + done, bytes.size() - done); }),
      bytes.size(), "write");
}

Status PwriteFull(int fd, std::span<const uint8_t> bytes, uint64_t offset) {
  return WriteResult(Loop(bytes.size(), "pwrite",
                          [&](size_t done) {
                            return ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                                            static_cast<off_t>(offset + done));
                          }),
                     bytes.size(), "pwrite");
}

}  // namespace lcfs
