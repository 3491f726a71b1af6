#include "lcfs/share/units.h"

#include <gtest/gtest.h>

namespace lcfs::share {
namespace {

TEST(ParseRate, AcceptsSuffixesAndUnits) {
  EXPECT_EQ(*ParseRate("64000"), 64'000u);
  EXPECT_EQ(*ParseRate("800k"), 800'000u);
  EXPECT_EQ(*ParseRate("800K"), 800'000u);
  EXPECT_EQ(*ParseRate("100M"), 100'000'000u);
  EXPECT_EQ(*ParseRate("1.5G"), 1'500'000'000u);
  EXPECT_EQ(*ParseRate("20Mbit/s"), 20'000'000u);
  EXPECT_EQ(*ParseRate("20Mbps"), 20'000'000u);
}

TEST(ParseRate, RejectsWithTheReason) {
  for (const char* bad : {"", "M", "-5M", "10X", "10 M", "1e9", "0", "999", "2000G", "1.5.5M"}) {
    auto r = ParseRate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), EINVAL);
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << r.status().message();
  }
}

TEST(FormatRate, UsesTheLargestUnit) {
  EXPECT_EQ(FormatRate(100'000'000), "100 Mbit/s");
  EXPECT_EQ(FormatRate(1'500'000'000), "1.5 Gbit/s");
  EXPECT_EQ(FormatRate(800'000), "800 kbit/s");
  EXPECT_EQ(FormatRate(12), "12 bit/s");
}

TEST(ParseDuration, Units) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("2"), milliseconds(2000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("3m"), milliseconds(180'000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(ParseDuration, Rejects) {
  for (const char* bad : {"", "s", "5d", "-1s", "8000h", "1 s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lcfs::share
