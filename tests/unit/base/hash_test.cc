#include "lcfs/hash.h"

#include <gtest/gtest.h>

namespace lcfs {
namespace {

TEST(Hash, Sha256KnownVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256Of("").ToHex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of("abc").ToHex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, IncrementalMatchesOneShotAndResets) {
  Sha256 s;
  s.Update("a").Update("bc");
  EXPECT_EQ(s.Finish(), Sha256Of("abc"));
  s.Update("abc");
  EXPECT_EQ(s.Finish(), Sha256Of("abc"));
}

TEST(Hash, HexRoundTrip) {
  Hash h = Sha256Of("x");
  auto parsed = Hash::FromHex(h.ToHex());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, h);
}

TEST(Hash, FromHexRejectsUpperCaseAndSaysSo) {
  std::string s(64, 'a');
  s[3] = 'A';
  auto r = Hash::FromHex(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("uppercase character at position 4"), std::string::npos)
      << r.status().message();
}

TEST(Hash, FromHexRejectsWrongLength) {
  auto r = Hash::FromHex("abcd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EINVAL);
  EXPECT_NE(r.status().message().find("64 hex digits"), std::string::npos);
}

TEST(Hash, FromHexNamesTheBadCharacter) {
  std::string s(64, '0');
  s[10] = 'g';
  auto r = Hash::FromHex(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("position 11"), std::string::npos) << r.status().message();
}

TEST(Status, CarriesCodeAndContext) {
  Status s = Status::Error(ENOENT, "no such object").WithContext("fetch");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ENOENT);
  EXPECT_EQ(s.message(), "fetch: no such object");
  EXPECT_EQ(s.ToString(), "fetch: no such object [ENOENT]");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Status, ResultHoldsValueOrError) {
  Result<int> good = 5;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);
  Result<int> bad = Status::Error(EIO, "boom");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), EIO);
}

}  // namespace
}  // namespace lcfs
