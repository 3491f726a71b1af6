#include "lcfs/full_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/random_bytes.h"
#include "lcfs/unique_fd.h"

namespace lcfs {
namespace {

using testing::RandomBytes;

class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/lcfs-full-io-XXXXXX";
    fd_.reset(::mkstemp(tmpl));
    path_ = tmpl;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::string path_;
};

TEST(FullIo, PwriteThenPreadRoundTripsAtAnOffset) {
  TempFile f;
  ASSERT_GE(f.fd(), 0);
  const auto data = RandomBytes(100000, 1);
  ASSERT_TRUE(PwriteFull(f.fd(), data, 4096).ok());
  std::vector<uint8_t> back(data.size());
  auto n = PreadFull(f.fd(), back, 4096);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(back, data);
  EXPECT_TRUE(PreadExact(f.fd(), back, 4096).ok());
}

TEST(FullIo, PreadStopsAtEndOfFileAndSaysHowFarItGot) {
  TempFile f;
  const auto data = RandomBytes(1000, 2);
  ASSERT_TRUE(WriteFull(f.fd(), data).ok());
  std::vector<uint8_t> back(4000);
  auto n = PreadFull(f.fd(), back, 600);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 400u);
  EXPECT_TRUE(std::equal(back.begin(), back.begin() + 400, data.begin() + 600));
  Status exact = PreadExact(f.fd(), back, 600);
  EXPECT_EQ(exact.code(), EIO);
}

// A pipe hands a reader whatever the writer has written so far: ReadFull
// must keep going across the short reads until the buffer is full.
TEST(FullIo, ReadFullGathersShortReadsFromAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  const auto data = RandomBytes(1 << 20, 3);  // more than a pipe buffer
  std::thread writer([&] {
    for (size_t off = 0; off < data.size(); off += 777) {
      const size_t len = std::min<size_t>(777, data.size() - off);
      ASSERT_TRUE(WriteFull(w.get(), std::span(data).subspan(off, len)).ok());
    }
    w.reset();
  });
  std::vector<uint8_t> back(data.size() + 10);
  auto n = ReadFull(r.get(), back);
  writer.join();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, data.size());  // the writer closed: end of file
  back.resize(*n);
  EXPECT_EQ(back, data);
}

TEST(FullIo, ErrorsNameTheCall) {
  std::vector<uint8_t> buf(10);
  auto n = PreadFull(-1, buf, 0);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), EBADF);
  EXPECT_EQ(n.status().message().rfind("pread", 0), 0u) << n.status().message();
  Status s = WriteFull(-1, buf);
  EXPECT_EQ(s.code(), EBADF);
}

}  // namespace
}  // namespace lcfs
