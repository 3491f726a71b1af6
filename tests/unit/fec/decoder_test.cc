// Decoder behaviour: streaming completion, duplicates, bad input, failure
// probabilities, K' at table boundaries, and the Z/N shapes the default
// parameters produce.
#include "lcfs/fec/decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "fec_test_util.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/payload_id.h"

namespace lcfs::fec {
namespace {

using testing::Codec;
using testing::RandomBytes;
using testing::RoundTrip;

TEST(DecoderTest, CompletesExactlyWhenSourceSymbolsArrive) {
  Codec c(1000, 100, 7);
  ASSERT_TRUE(c.enc && c.dec);
  for (uint32_t esi = 0; esi < 10; ++esi) {
    ASSERT_TRUE(c.enc->Symbol(0, esi, c.symbol).ok());
    auto p = c.dec->Add(0, esi, c.symbol);
    ASSERT_TRUE(p.ok());
    // Duplicates change nothing.
    auto again = c.dec->Add(0, esi, c.symbol);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*p, esi == 9 ? DecodeProgress::kComplete : DecodeProgress::kNeedMore);
    EXPECT_EQ(*again, *p);
  }
  EXPECT_TRUE(c.Decoded());
}

TEST(DecoderTest, TooFewSymbolsNeedMore) {
  Codec c(100000, 1000, 8);
  ASSERT_TRUE(c.enc && c.dec);
  // 99 distinct repair symbols for K = 100, plus each one again.
  for (uint32_t esi = 100; esi < 199; ++esi) {
    ASSERT_TRUE(c.enc->Symbol(0, esi, c.symbol).ok());
    for (int twice = 0; twice < 2; ++twice) {
      auto p = c.dec->Add(0, esi, c.symbol);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(*p, DecodeProgress::kNeedMore);
    }
  }
  EXPECT_FALSE(c.dec->complete());
  EXPECT_EQ(c.dec->PendingSymbols(0), 99u);
  // Repair ESIs near the top of the 24-bit range work too.
  for (uint32_t esi = kMaxEsi; esi > kMaxEsi - 5 && !c.dec->complete(); --esi) {
    ASSERT_TRUE(c.enc->Symbol(0, esi, c.symbol).ok());
    ASSERT_TRUE(c.dec->Add(0, esi, c.symbol).ok());
  }
  EXPECT_TRUE(c.Decoded());
}

TEST(DecoderTest, RejectsBadInputWithoutChangingState) {
  auto oti = Oti::ForObject(5000, 100);
  ASSERT_TRUE(oti.ok());
  auto dec = ObjectDecoder::Create(*oti);
  ASSERT_TRUE(dec.ok());
  std::vector<uint8_t> sym(100, 1), short_sym(99, 1), long_sym(101, 1);
  EXPECT_FALSE(dec->Add(1, 0, sym).ok());            // SBN out of range
  EXPECT_FALSE(dec->Add(0, kMaxEsi + 1, sym).ok());  // ESI beyond 24 bits
  EXPECT_FALSE(dec->Add(0, 0, short_sym).ok());
  EXPECT_FALSE(dec->Add(0, 0, long_sym).ok());
  EXPECT_FALSE(dec->Add(0, 0, {}).ok());
  EXPECT_EQ(dec->PendingSymbols(0), 0u);
  auto bad = *oti;
  bad.symbol_size = 102;  // not a multiple of Al = 4
  EXPECT_FALSE(ObjectDecoder::Create(bad).ok());
  bad = *oti;
  bad.transfer_length = 0;
  EXPECT_FALSE(ObjectDecoder::Create(bad).ok());
}

TEST(DecoderTest, CorruptSymbolsGiveWrongBytesNotCrashes) {
  Codec c(20000, 200, 9);
  ASSERT_TRUE(c.enc && c.dec);
  for (uint32_t esi = 100; !c.dec->complete() && esi < 300; ++esi) {
    ASSERT_TRUE(c.enc->Symbol(0, esi, c.symbol).ok());
    c.symbol[esi % 200] ^= 0x5a;
    ASSERT_TRUE(c.dec->Add(0, esi, c.symbol).ok());
  }
  ASSERT_TRUE(c.dec->complete());
  EXPECT_FALSE(c.Decoded());
}

TEST(EncoderTest, RejectsBadRequests) {
  auto oti = Oti::ForObject(1000, 100);
  ASSERT_TRUE(oti.ok());
  std::vector<uint8_t> data(999);
  EXPECT_FALSE(ObjectEncoder::Create(*oti, data).ok());  // size differs from F
  data.resize(1000);
  auto enc = ObjectEncoder::Create(*oti, data);
  ASSERT_TRUE(enc.ok());
  std::vector<uint8_t> sym(100), small(99);
  EXPECT_FALSE(enc->Symbol(1, 0, sym).ok());
  EXPECT_FALSE(enc->Symbol(0, kMaxEsi + 1, sym).ok());
  EXPECT_FALSE(enc->Symbol(0, 0, small).ok());
  EXPECT_TRUE(enc->Symbol(0, kMaxEsi, sym).ok());
}

TEST(EncoderTest, ConcurrentSymbolRequestsAgree) {
  auto oti = Oti::ForObject(3 << 20, 1280);
  ASSERT_TRUE(oti.ok());
  auto data = RandomBytes(3 << 20, 13);
  auto reference = ObjectEncoder::Create(*oti, data);
  auto shared = ObjectEncoder::Create(*oti, data);
  ASSERT_TRUE(reference.ok() && shared.ok());
  const uint32_t k = shared->SourceSymbols(0);
  std::vector<std::vector<uint8_t>> got(4, std::vector<uint8_t>(size_t{k} * 1280));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (uint32_t r = 0; r < k; ++r) {
        std::span<uint8_t> out(got[i].data() + size_t{r} * 1280, 1280);
        if (!shared->Symbol(0, k + r, out).ok()) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<uint8_t> want(1280);
  for (uint32_t r = 0; r < k; r += 17) {
    ASSERT_TRUE(reference->Symbol(0, k + r, want).ok());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(std::equal(want.begin(), want.end(), got[i].begin() + size_t{r} * 1280));
    }
  }
}

// RFC 6330 section 5.6: with K received symbols decoding fails in at most
// about 1% of cases, with K+2 in at most about 1 in 10^6. Random ESI sets
// (half source, half repair) for a few block sizes, fixed seed.
TEST(DecoderTest, FailureProbabilityMatchesRfc) {
  std::mt19937_64 rng(20110801);
  int trials = 0, fail_at_k = 0, fail_at_k2 = 0;
  for (uint32_t k : {10u, 26u, 101u, 300u}) {
    const uint16_t t = 4;
    auto oti = Oti::ForObject(uint64_t{k} * t, t);
    ASSERT_TRUE(oti.ok());
    auto data = RandomBytes(size_t{k} * t, k);
    auto enc = ObjectEncoder::Create(*oti, data);
    ASSERT_TRUE(enc.ok());
    ASSERT_EQ(enc->SourceSymbols(0), k);
    std::vector<uint8_t> sym(t);
    int runs = k >= 300 ? 100 : 250;
    for (int run = 0; run < runs; ++run) {
      auto dec = ObjectDecoder::Create(*oti);
      ASSERT_TRUE(dec.ok());
      std::set<uint32_t> esis;
      while (esis.size() < k + 2) {
        uint32_t esi = static_cast<uint32_t>(rng() % 2 == 0 ? rng() % k : k + rng() % (4 * k));
        esis.insert(esi);
      }
      std::vector<uint32_t> order(esis.begin(), esis.end());
      std::shuffle(order.begin(), order.end(), rng);
      for (uint32_t i = 0; i < order.size(); ++i) {
        ASSERT_TRUE(enc->Symbol(0, order[i], sym).ok());
        ASSERT_TRUE(dec->Add(0, order[i], sym).ok());
        if (i + 1 == k && !dec->complete()) ++fail_at_k;
      }
      if (!dec->complete()) {
        ++fail_at_k2;
      } else {
        ASSERT_TRUE(std::equal(data.begin(), data.end(), dec->object().begin()));
      }
      ++trials;
    }
  }
  RecordProperty("trials", trials);
  RecordProperty("failures_at_k", fail_at_k);
  // Expected about 0.01 * 850 = 8.5 failures at K; allow the binomial tail.
  EXPECT_LE(fail_at_k, trials * 3 / 100) << fail_at_k << " of " << trials;
  EXPECT_EQ(fail_at_k2, 0) << "of " << trials;
}

// Block sizes at and around entries of RFC 6330's Table 2, repair only.
TEST(DecoderTest, KPrimeTableBoundaries) {
  for (uint32_t start : {10u, 12u, 55u, 101u, 1002u, 8000u}) {
    uint32_t kp = ExtendedBlockSize(start);
    for (uint32_t k : {kp - 1, kp, kp + 1}) {
      const uint16_t t = 8;
      auto oti = Oti::ForObject(uint64_t{k} * t, t);
      ASSERT_TRUE(oti.ok());
      ASSERT_EQ(oti->source_blocks, 1);
      auto data = RandomBytes(size_t{k} * t, k);
      EXPECT_TRUE(RoundTrip(*oti, data, 0.0, true, 2, k)) << "K=" << k;
      EXPECT_TRUE(RoundTrip(*oti, data, 0.3, false, 2, k + 1)) << "K=" << k;
    }
  }
  // The largest block.
  auto oti = Oti::ForObject(uint64_t{kMaxSourceSymbols} * 4, 4);
  ASSERT_TRUE(oti.ok());
  auto data = RandomBytes(size_t{kMaxSourceSymbols} * 4, 1);
  EXPECT_TRUE(RoundTrip(*oti, data, 0.0, true, 2, 5));
}

// Every (Z, N) the defaults give for objects from 1 byte to 100 MiB at
// T = 1280, each decoded after 10% loss (100 MiB repair only).
TEST(DecoderTest, DefaultShapesRoundTrip) {
  struct Shape {
    uint64_t size;
    int z, n;
  };
  const Shape shapes[] = {{1, 1, 1},        {1280, 1, 1},     {1 << 20, 1, 1},
                          {10 << 20, 1, 2}, {64 << 20, 1, 9}, {100 << 20, 2, 7}};
  for (const Shape& s : shapes) {
    auto oti = Oti::ForObject(s.size, 1280);
    ASSERT_TRUE(oti.ok());
    EXPECT_EQ(oti->source_blocks, s.z) << s.size;
    EXPECT_EQ(oti->sub_blocks, s.n) << s.size;
    auto data = RandomBytes(s.size, s.size);
    bool repair_only = s.size == (100 << 20);
    EXPECT_TRUE(RoundTrip(*oti, data, 0.1, repair_only, 1, 3)) << s.size;
  }
  // Unequal source blocks with sub-blocking, Al = 8.
  Oti odd{3000001, 1024, 5, 3, 8};
  ASSERT_TRUE(odd.Validate().ok());
  auto data = RandomBytes(odd.transfer_length, 11);
  EXPECT_TRUE(RoundTrip(odd, data, 0.3, false, 2, 12));
}

// With a pool, the object is decoded into a reused buffer that still holds
// an earlier object's bytes: every byte must be written, none read stale.
TEST(DecoderTest, DecodesIntoAReusedBufferAndGivesItBack) {
  constexpr size_t kObject = 100000;  // not a multiple of the symbol size
  BufferPool pool(1, kObject + 4096);
  const uint8_t* buffer = nullptr;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto oti = Oti::ForObject(kObject, 1000);
    ASSERT_TRUE(oti.ok());
    const std::vector<uint8_t> data = RandomBytes(kObject, seed);
    auto enc = ObjectEncoder::Create(*oti, data);
    auto dec = ObjectDecoder::Create(*oti, &pool);
    ASSERT_TRUE(enc.ok() && dec.ok());
    EXPECT_EQ(pool.stats().idle, 0u);  // the decoder holds the pool's buffer
    std::vector<uint8_t> symbol(1000);
    // Every third source symbol lost, repair symbols in their place.
    uint32_t esi = 0;
    while (!dec->complete()) {
      if (esi < 101 && esi % 3 == 0) {
        ++esi;
        continue;
      }
      ASSERT_TRUE(enc->Symbol(0, esi, symbol).ok());
      ASSERT_TRUE(dec->Add(0, esi, symbol).ok());
      ++esi;
    }
    std::vector<uint8_t> out = dec->TakeObject();
    EXPECT_EQ(out, data);
    if (buffer != nullptr) {
      EXPECT_EQ(out.data(), buffer);  // the same memory again
    }
    buffer = out.data();
    pool.Give(std::move(out));
  }
  EXPECT_EQ(pool.stats().allocations, 1u);
  EXPECT_EQ(pool.stats().reuses, 3u);
  // A decoder destroyed unfinished gives its buffer back.
  {
    auto dec = ObjectDecoder::Create(*Oti::ForObject(kObject, 1000), &pool);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(pool.stats().idle, 0u);
  }
  EXPECT_EQ(pool.stats().idle, 1u);
  EXPECT_EQ(pool.stats().allocations, 1u);
}

}  // namespace
}  // namespace lcfs::fec
