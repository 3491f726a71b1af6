// Encode / lose / decode round trips over sizes, loss rates and parameter
// shapes (several source blocks, sub-blocking, K' at table boundaries).
#include <gtest/gtest.h>

#include "fec_test_util.h"

namespace lcfs::fec {
namespace {

using testing::RandomBytes;
using testing::RoundTrip;

struct Case {
  uint64_t size;
  uint16_t t;
  uint8_t al;
};

class RoundTripTest : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTripTest, DecodesUnderLoss) {
  const Case c = GetParam();
  auto oti = Oti::ForObject(c.size, c.t, c.al);
  ASSERT_TRUE(oti.ok()) << oti.status().ToString();
  auto object = RandomBytes(c.size, c.size * 31 + c.t);
  EXPECT_TRUE(RoundTrip(*oti, object, 0.0, false, 0, 1)) << "no loss";
  EXPECT_TRUE(RoundTrip(*oti, object, 0.1, false, 2, 2)) << "10% loss";
  EXPECT_TRUE(RoundTrip(*oti, object, 0.3, false, 2, 3)) << "30% loss";
  EXPECT_TRUE(RoundTrip(*oti, object, 0.0, true, 2, 4)) << "repair only";
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTripTest,
                         ::testing::Values(Case{1, 16, 4}, Case{15, 16, 4}, Case{1000, 64, 4},
                                           Case{10 * 1024, 128, 4}, Case{100 * 1000, 1280, 4},
                                           Case{1 << 20, 1280, 4}, Case{1 << 20, 1024, 8},
                                           Case{(1 << 20) + 1, 1400, 4}));

}  // namespace
}  // namespace lcfs::fec
