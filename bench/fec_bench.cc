// RaptorQ throughput on one core: encoding an object (all source symbols
// plus K repair symbols per block) and decoding it from repair symbols only
// (the expensive path), plus the GF(256) kernels. Bytes processed = object
// size (kernels: symbol bytes). The elimination plan for encoding is cached
// per K' after the first iteration, as in a long-running exporter; decoding
// plans afresh every time (its ESIs differ), so it shows the planning cost.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "lcfs/fec/decoder.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/symbol_ops.h"

namespace {

using namespace lcfs::fec;

std::vector<uint8_t> Bytes(size_t n) {
  std::mt19937_64 rng(n);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct Packet {
  uint8_t sbn;
  uint32_t esi;
  std::vector<uint8_t> symbol;
};

void BM_Encode(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const auto t = static_cast<uint16_t>(state.range(1));
  auto oti = *Oti::ForObject(size, t);
  auto data = Bytes(size);
  std::vector<uint8_t> out(t);
  for (auto _ : state) {
    auto enc = ObjectEncoder::Create(oti, data).value();
    for (uint32_t sbn = 0; sbn < enc.block_count(); ++sbn) {
      uint32_t k = enc.SourceSymbols(static_cast<uint8_t>(sbn));
      for (uint32_t esi = 0; esi < 2 * k; ++esi) {
        (void)enc.Symbol(static_cast<uint8_t>(sbn), esi, out);
        benchmark::DoNotOptimize(out.data());
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.counters["K"] = static_cast<double>((size + t - 1) / t / oti.source_blocks);
  state.counters["N"] = oti.sub_blocks;
}

void BM_DecodeRepairOnly(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const auto t = static_cast<uint16_t>(state.range(1));
  auto oti = *Oti::ForObject(size, t);
  auto data = Bytes(size);
  std::vector<Packet> packets;
  {
    auto enc = ObjectEncoder::Create(oti, data).value();
    for (uint32_t sbn = 0; sbn < enc.block_count(); ++sbn) {
      uint32_t k = enc.SourceSymbols(static_cast<uint8_t>(sbn));
      for (uint32_t esi = k; esi < 2 * k + 10; ++esi) {
        Packet p{static_cast<uint8_t>(sbn), esi, std::vector<uint8_t>(t)};
        (void)enc.Symbol(p.sbn, esi, p.symbol);
        packets.push_back(std::move(p));
      }
    }
  }
  for (auto _ : state) {
    auto dec = ObjectDecoder::Create(oti).value();
    for (const Packet& p : packets) {
      if (*dec.Add(p.sbn, p.esi, p.symbol) == DecodeProgress::kComplete) break;
    }
    if (!dec.complete()) state.SkipWithError("did not decode");
    benchmark::DoNotOptimize(dec.object().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_Kernel(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SetKernelImpl(state.range(1) ? KernelImpl::kAvx2 : KernelImpl::kPortable);
  const bool mul = state.range(2) != 0;
  auto a = Bytes(n), b = Bytes(n + 1);
  for (auto _ : state) {
    if (mul) {
      MulAddInto(a.data(), b.data(), 0x53, n);
    } else {
      XorInto(a.data(), b.data(), n);
    }
    benchmark::DoNotOptimize(a.data());
  }
  state.SetLabel(std::string(ActiveKernelName()) + (mul ? " muladd" : " xor"));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  SetKernelImpl(KernelImpl::kAuto);
}

BENCHMARK(BM_Encode)
    ->Args({1 << 20, 1024})
    ->Args({1 << 20, 1280})
    ->Args({64 << 20, 1280})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeRepairOnly)
    ->Args({1 << 20, 1024})
    ->Args({1 << 20, 1280})
    ->Args({64 << 20, 1280})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Kernel)->ArgsProduct({{1280}, {0, 1}, {0, 1}});

}  // namespace
