#include "lcfs/channel/signing_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "channel_test_util.h"

namespace lcfs::channel {
namespace {

using testing::NewKey;
using testing::TempDir;

TEST(SigningKey, WritesAPrivateFileAndLoadsItBack) {
  TempDir dir;
  const std::string path = dir.Path("key");
  const SigningKey key = NewKey();
  ASSERT_TRUE(key.WriteNew(path).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = SigningKey::Load(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->channel(), key.channel());
  const uint8_t msg[] = {9};
  EXPECT_EQ(back->Sign(msg), key.Sign(msg));  // RFC 8032 signatures are deterministic
}

TEST(SigningKey, NeverOverwrites) {
  TempDir dir;
  const std::string path = dir.Path("key");
  const SigningKey first = NewKey();
  ASSERT_TRUE(first.WriteNew(path).ok());
  Status again = NewKey().WriteNew(path);
  EXPECT_EQ(again.code(), EEXIST);
  EXPECT_EQ(SigningKey::Load(path)->channel(), first.channel());
}

TEST(SigningKey, LoadRefusesWhatIsNotAnEd25519Key) {
  TempDir dir;
  const std::string path = dir.Path("key");
  std::ofstream(path) << "not a key\n";
  EXPECT_EQ(SigningKey::Load(path).status().code(), EINVAL);
  EXPECT_EQ(SigningKey::Load(dir.Path("missing")).status().code(), ENOENT);
}

}  // namespace
}  // namespace lcfs::channel
