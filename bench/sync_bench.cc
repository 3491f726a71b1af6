// Receive-side CPU costs of the sync engine, per object: what one receive
// thread can absorb (ObjectAssembler: decode + verify), and how fast a local
// copy is hashed (the worker pool of a sync).
#include <benchmark/benchmark.h>

#include <random>

#include "lcfs/fec/encoder.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/net/packet.h"
#include "sync/local_chunks.h"
#include "sync/object_assembler.h"

namespace lcfs::sync {
namespace {

std::vector<uint8_t> Random(size_t n) {
  std::mt19937 rng(1);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Assembling a 1 MiB chunk from packets: source symbols only (no loss), or
// with a tenth of them replaced by repair symbols (loss).
void BM_AssembleChunk(benchmark::State& state) {
  const bool loss = state.range(0) != 0;
  const std::vector<uint8_t> object = Random(1 << 20);
  const Hash hash = ObjectHash(ObjectKind::kChunk, object);
  const auto oti = fec::Oti::ForObject(object.size(), 1412).value();
  auto encoder = fec::ObjectEncoder::Create(oti, object).value();
  const uint32_t k = static_cast<uint32_t>((object.size() + 1411) / 1412);
  net::PacketHeader header;
  header.object_id = net::ObjectIdOf(hash);
  header.oti = oti.Encode();
  std::vector<std::vector<uint8_t>> packets;
  std::vector<uint8_t> symbol(1412);
  for (uint32_t esi = 0; esi < k + 20; ++esi) {
    const uint32_t e = loss && esi % 10 == 0 ? k + 1000 + esi : esi;  // every 10th lost
    (void)encoder.Symbol(0, e, symbol);
    header.payload_id = fec::PayloadId{0, e}.Encode();
    packets.push_back(net::EncodePacket(header, symbol).value());
  }
  const auto source = net::Ipv6Address::Parse("fe80::1").value();
  for (auto _ : state) {
    ObjectAssembler a(hash, ObjectKind::kChunk, 0, 1 << 24);
    for (const auto& p : packets) {
      net::PacketView view;
      net::ParsePacket(p, &view);
      if (a.Add(view, source)) break;
    }
    if (!a.complete()) state.SkipWithError("did not decode");
    benchmark::DoNotOptimize(a.TakeObject());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_AssembleChunk)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_HashLocalChunks(benchmark::State& state) {
  const std::vector<uint8_t> data = Random(64 << 20);
  for (auto _ : state) {
    auto leaves = HashChunks(data, 1 << 20, static_cast<unsigned>(state.range(0)));
    benchmark::DoNotOptimize(leaves);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (64 << 20));
}
BENCHMARK(BM_HashLocalChunks)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lcfs::sync
