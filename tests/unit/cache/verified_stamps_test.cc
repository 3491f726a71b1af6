#include "lcfs/cache/verified_stamps.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"

namespace lcfs::cache {
namespace {

using namespace std::chrono_literals;

class VerifiedStampsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(file_) << "the bytes of an object";
    hash_ = Sha256Of(std::string_view("stands for the object's hash"));
  }
  struct stat Stat() const {
    struct stat st {};
    EXPECT_EQ(::stat(file_.c_str(), &st), 0);
    return st;
  }

  lcfs::testing::TempDir tmp_{"lcfs-stamps-test"};
  std::string dir_ = tmp_.path(), log_ = tmp_.Path("verified"), file_ = tmp_.Path("object");
  Hash hash_;
};

TEST_F(VerifiedStampsTest, AnUnchangedFileIsKnownToALaterProcess) {
  VerifiedStamps(log_, 0ns).Record(hash_, Stat());
  VerifiedStamps later(log_, 0ns);
  EXPECT_TRUE(later.Unchanged(hash_, Stat()));
  EXPECT_FALSE(later.Unchanged(Sha256Of(std::string_view("another")), Stat()));
}

TEST_F(VerifiedStampsTest, AFileChangedOrReplacedIsNotUnchanged) {
  VerifiedStamps(log_, 0ns).Record(hash_, Stat());
  // Replaced by a copy (another inode), same bytes.
  std::filesystem::copy_file(file_, file_ + ".copy");
  std::filesystem::rename(file_ + ".copy", file_);
  EXPECT_FALSE(VerifiedStamps(log_, 0ns).Unchanged(hash_, Stat()));
  // Grown in place.
  VerifiedStamps(log_, 0ns).Record(hash_, Stat());
  std::ofstream(file_, std::ios::app) << "!";
  EXPECT_FALSE(VerifiedStamps(log_, 0ns).Unchanged(hash_, Stat()));
}

TEST_F(VerifiedStampsTest, AFileWithinTheRacyWindowIsNeverRecorded) {
  // Just written: a change in the same clock tick would keep its stamp.
  VerifiedStamps stamps(log_);
  stamps.Record(hash_, Stat());
  EXPECT_FALSE(stamps.Unchanged(hash_, Stat()));
  EXPECT_FALSE(VerifiedStamps(log_).Unchanged(hash_, Stat()));
}

TEST_F(VerifiedStampsTest, ATornLogCostsOnlyARecheck) {
  VerifiedStamps(log_, 0ns).Record(hash_, Stat());
  std::ofstream(log_, std::ios::app) << "torn";  // a crash mid-append
  VerifiedStamps stamps(log_, 0ns);
  EXPECT_TRUE(stamps.Unchanged(hash_, Stat()));
  // Recording still works after the garbage (the log was rewritten).
  const Hash other = Sha256Of(std::string_view("other"));
  stamps.Record(other, Stat());
  EXPECT_TRUE(VerifiedStamps(log_, 0ns).Unchanged(other, Stat()));
}

}  // namespace
}  // namespace lcfs::cache
