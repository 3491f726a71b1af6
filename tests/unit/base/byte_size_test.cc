#include "lcfs/byte_size.h"

#include <gtest/gtest.h>

namespace lcfs {
namespace {

TEST(ParseByteSize, BareNumbersAreBytes) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("4096B"), 4096u);
  EXPECT_EQ(*ParseByteSize("18446744073709551615"), UINT64_MAX);
}

TEST(ParseByteSize, UnitsArePowersOf1024InEitherCaseWithOptionalIB) {
  for (const char* text : {"64K", "64k", "64KiB", "64KB", "64kB", "64Ki"})
    EXPECT_EQ(*ParseByteSize(text), 64u << 10) << text;
  EXPECT_EQ(*ParseByteSize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("16MiB"), 16ull << 20);
  EXPECT_EQ(*ParseByteSize("10G"), 10ull << 30);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("3t"), 3ull << 40);
  EXPECT_EQ(*ParseByteSize("1P"), 1ull << 50);
}

TEST(ParseByteSize, FractionsRoundDownToAWholeByte) {
  EXPECT_EQ(*ParseByteSize("1.5k"), 1536u);
  EXPECT_EQ(*ParseByteSize("0.5G"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("1.1K"), 1126u);  // 1126.4
  EXPECT_EQ(*ParseByteSize("2.75"), 2u);
  EXPECT_EQ(*ParseByteSize(".5M"), 512u << 10);
}

TEST(ParseByteSize, RejectsGarbageWithTheText) {
  for (const char* bad : {"", "abc", "M", ".", "10Q", "-5M", "+5M", " 5", "5 M", "5MB ", "1Mx",
                          "5b", "5KiBB", "5iB", "1e3", "0x10"}) {
    auto r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), EINVAL) << bad;
    EXPECT_NE(r.status().message().find("'" + std::string(bad) + "'"), std::string::npos)
        << r.status().message();
  }
}

TEST(ParseByteSize, RejectsWhatDoesNotFitIn64Bits) {
  for (const char* big :
       {"18446744073709551616", "99999999999P", "16384P", "99999999999999999999"}) {
    auto r = ParseByteSize(big);
    ASSERT_FALSE(r.ok()) << big;
    EXPECT_EQ(r.status().code(), ERANGE) << big;
  }
  EXPECT_EQ(*ParseByteSize("16383P"), 16383ull << 50);
}

TEST(FormatByteSize, UsesTheLargestUnitBelowTheValue) {
  EXPECT_EQ(FormatByteSize(0), "0 B");
  EXPECT_EQ(FormatByteSize(1023), "1023 B");
  EXPECT_EQ(FormatByteSize(1024), "1.0 KiB");
  EXPECT_EQ(FormatByteSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatByteSize(3ull << 30), "3.0 GiB");
}

}  // namespace
}  // namespace lcfs
