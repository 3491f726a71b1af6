// Helpers shared by the fec unit tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "common/random_bytes.h"
#include "lcfs/fec/decoder.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"

namespace lcfs::fec::testing {

using lcfs::testing::RandomBytes;

// `size` random bytes (from `seed`) in symbols of `symbol_size` bytes: the
// bytes, their OTI, an encoder of them and an empty decoder. A step that
// fails fails the test and leaves its member empty (check enc and dec).
struct Codec {
  Oti oti;
  std::vector<uint8_t> data;
  std::optional<ObjectEncoder> enc;
  std::optional<ObjectDecoder> dec;
  std::vector<uint8_t> symbol;  // a buffer of one symbol

  Codec(uint64_t size, uint16_t symbol_size, uint64_t seed) : symbol(symbol_size) {
    auto o = Oti::ForObject(size, symbol_size);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (!o.ok()) return;
    oti = *o;
    data = RandomBytes(size, seed);
    auto e = ObjectEncoder::Create(oti, data);
    auto d = ObjectDecoder::Create(oti);
    EXPECT_TRUE(e.ok() && d.ok());
    if (e.ok()) enc.emplace(std::move(*e));
    if (d.ok()) dec.emplace(std::move(*d));
  }
  // Whether the decoder holds exactly the original bytes.
  bool Decoded() const {
    return dec && dec->complete() && std::equal(data.begin(), data.end(), dec->object().begin());
  }
};

struct Sym {
  uint8_t sbn;
  uint32_t esi;
};

// Encodes `object`, drops each source symbol with probability `loss`, adds
// `repair_extra` repair symbols per block beyond what replaces the losses
// (or, with repair_only, sends only repair symbols), shuffles, and feeds the
// decoder until it says complete. Returns whether it decoded correctly.
inline bool RoundTrip(const Oti& oti, const std::vector<uint8_t>& object, double loss,
                      bool repair_only, uint32_t repair_extra, uint64_t seed) {
  auto enc = ObjectEncoder::Create(oti, object);
  if (!enc.ok()) return false;
  auto dec = ObjectDecoder::Create(oti);
  if (!dec.ok()) return false;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0, 1);
  std::vector<Sym> order;
  for (uint32_t sbn = 0; sbn < enc->block_count(); ++sbn) {
    uint32_t k = enc->SourceSymbols(static_cast<uint8_t>(sbn));
    uint32_t kept = 0;
    if (!repair_only) {
      for (uint32_t esi = 0; esi < k; ++esi) {
        if (u01(rng) >= loss) {
          order.push_back({static_cast<uint8_t>(sbn), esi});
          ++kept;
        }
      }
    }
    uint32_t repairs = k - kept + repair_extra;
    // Repair ESIs spread out a little, as after losses on the wire.
    uint32_t esi = k;
    for (uint32_t r = 0; r < repairs; ++r) {
      order.push_back({static_cast<uint8_t>(sbn), esi});
      esi += 1 + static_cast<uint32_t>(rng() % 3);
    }
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<uint8_t> buf(oti.symbol_size);
  for (const Sym& s : order) {
    if (!enc->Symbol(s.sbn, s.esi, buf).ok()) return false;
    auto progress = dec->Add(s.sbn, s.esi, buf);
    if (!progress.ok()) return false;
    if (*progress == DecodeProgress::kComplete) break;
  }
  if (!dec->complete()) return false;
  return std::equal(object.begin(), object.end(), dec->object().begin(), dec->object().end());
}

}  // namespace lcfs::fec::testing
