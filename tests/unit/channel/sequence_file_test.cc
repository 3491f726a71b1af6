#include "lcfs/channel/sequence_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "channel_test_util.h"

namespace lcfs::channel {
namespace {

using testing::TempDir;

std::string Contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SequenceFile, GrowsAndSurvivesReopening) {
  TempDir dir;
  const std::string path = dir.Path("key.seq");
  {
    auto f = SequenceFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(*f->Next(), 1u);
    EXPECT_EQ(*f->Next(), 2u);
    EXPECT_EQ(*f->Next(100), 100u);
    EXPECT_EQ(*f->Next(50), 101u);  // never back, whatever the floor
  }
  EXPECT_EQ(Contents(path), "00000000000000000101\n");
  auto g = SequenceFile::Open(path);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->last(), 101u);
  EXPECT_EQ(*g->Next(), 102u);
}

TEST(SequenceFile, TwoWritersSharingTheFileNeverRepeatANumber) {
  TempDir dir;
  const std::string path = dir.Path("key.seq");
  auto a = SequenceFile::Open(path);
  auto b = SequenceFile::Open(path);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a->Next(), 1u);
  EXPECT_EQ(*b->Next(), 2u);
  EXPECT_EQ(*a->Next(), 3u);
}

TEST(SequenceFile, RefusesAFileThatIsNotANumber) {
  TempDir dir;
  const std::string path = dir.Path("key.seq");
  std::ofstream(path) << "12x\n";
  EXPECT_EQ(SequenceFile::Open(path).status().code(), EINVAL);
  std::ofstream(path) << "99999999999999999999999\n";
  EXPECT_FALSE(SequenceFile::Open(path).ok());
  std::ofstream(path) << "7\n";
  auto ok = SequenceFile::Open(path);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok->Next(), 8u);
}

}  // namespace
}  // namespace lcfs::channel
