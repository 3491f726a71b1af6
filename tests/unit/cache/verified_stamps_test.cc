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

// Every file counts as settled: the tests of stamps as such.
const StampOptions kNoWindow = [] {
  StampOptions o;
  o.racy = std::chrono::nanoseconds(0);
  return o;
}();

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
  VerifiedStamps(log_, kNoWindow).Record(hash_, Stat());
  VerifiedStamps later(log_, kNoWindow);
  EXPECT_TRUE(later.Unchanged(hash_, Stat()));
  EXPECT_FALSE(later.Unchanged(Sha256Of(std::string_view("another")), Stat()));
}

TEST_F(VerifiedStampsTest, AFileChangedOrReplacedIsNotUnchanged) {
  VerifiedStamps(log_, kNoWindow).Record(hash_, Stat());
  // Replaced by a copy (another inode), same bytes.
  std::filesystem::copy_file(file_, file_ + ".copy");
  std::filesystem::rename(file_ + ".copy", file_);
  EXPECT_FALSE(VerifiedStamps(log_, kNoWindow).Unchanged(hash_, Stat()));
  // Grown in place.
  VerifiedStamps(log_, kNoWindow).Record(hash_, Stat());
  std::ofstream(file_, std::ios::app) << "!";
  EXPECT_FALSE(VerifiedStamps(log_, kNoWindow).Unchanged(hash_, Stat()));
}

TEST_F(VerifiedStampsTest, AFileWithinTheRacyWindowIsNeverRecorded) {
  // Just written: a change in the same clock tick would keep its stamp.
  VerifiedStamps stamps(log_);
  stamps.Record(hash_, Stat());
  EXPECT_FALSE(stamps.Unchanged(hash_, Stat()));
  EXPECT_FALSE(VerifiedStamps(log_).Unchanged(hash_, Stat()));
}

TEST_F(VerifiedStampsTest, AFileIsRecordedOnceItsRacyWindowHasPassed) {
  const struct stat st = Stat();
  timespec now = st.st_ctim;  // the file just changed
  StampOptions options;
  options.now = [&now] { return now; };  // the window: 1 s
  VerifiedStamps stamps(log_, options);
  EXPECT_FALSE(stamps.Settled(st.st_ctim));
  EXPECT_FALSE(stamps.Record(hash_, st));
  now.tv_sec += 1;
  EXPECT_TRUE(stamps.Settled(st.st_ctim));
  EXPECT_TRUE(stamps.Record(hash_, st));
  EXPECT_TRUE(VerifiedStamps(log_).Unchanged(hash_, Stat()));
}

TEST_F(VerifiedStampsTest, ATornLogCostsOnlyARecheck) {
  VerifiedStamps(log_, kNoWindow).Record(hash_, Stat());
  std::ofstream(log_, std::ios::app) << "torn";  // a crash mid-append
  VerifiedStamps stamps(log_, kNoWindow);
  EXPECT_TRUE(stamps.Unchanged(hash_, Stat()));
  // Recording still works after the garbage (the log was rewritten).
  const Hash other = Sha256Of(std::string_view("other"));
  stamps.Record(other, Stat());
  EXPECT_TRUE(VerifiedStamps(log_, kNoWindow).Unchanged(other, Stat()));
}

}  // namespace
}  // namespace lcfs::cache
