// SHA-256 throughput through OpenSSL EVP: the ceiling for indexing and
// verification.
#include <benchmark/benchmark.h>

#include <vector>

#include "lcfs/hash.h"

static void BM_Sha256(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(lcfs::Sha256Of(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(4096)->Arg(1 << 20);
