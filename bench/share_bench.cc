// Share engine micro-benchmarks: how fast packets of one object are made
// (source symbols are copies, repair symbols need the RaptorQ encoder), and
// how long a join's group lookup takes. The exporter's default rate, 100
// Mbit/s, is ~8'600 packets/s: packet making must stay far above that.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "share/group_map.h"
#include "share/object_stream.h"

namespace lcfs::share {
namespace {

// A 1 MiB file in a scratch directory, indexed.
struct OneChunkExport {
  OneChunkExport() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lcfs-bench-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
    std::vector<char> bytes(1 << 20);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + (i >> 9));
    std::ofstream(dir + "/f", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    index = std::move(*index::IndexPath(dir + "/f"));
  }
  ~OneChunkExport() { std::filesystem::remove_all(dir); }
  std::string dir;
  index::IndexResult index;
};

// Packets of a 1 MiB chunk, from the first (all source, then repair).
void BM_ObjectStreamPackets(benchmark::State& state) {
  OneChunkExport e;
  std::vector<uint8_t> out(2048);
  uint64_t bytes = 0;
  for (auto _ : state) {
    ObjectStream s(e.index.root, ObjectKind::kChunk);
    if (!s.Load(*e.index.mdex).ok()) state.SkipWithError("load");
    const uint64_t n = s.source_symbols() * static_cast<uint64_t>(state.range(0)) / 100;
    for (uint64_t i = 0; i < n; ++i) benchmark::DoNotOptimize(s.NextPacket(out));
    bytes += n * s.packet_size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
// 100: source symbols only; 200: as many repair symbols again (one solve).
BENCHMARK(BM_ObjectStreamPackets)->Arg(100)->Arg(200)->Unit(benchmark::kMillisecond);

// Repair symbols only, encoder already solved: the fountain's steady state.
void BM_RepairPackets(benchmark::State& state) {
  OneChunkExport e;
  ObjectStream s(e.index.root, ObjectKind::kChunk);
  if (!s.Load(*e.index.mdex).ok()) state.SkipWithError("load");
  std::vector<uint8_t> out(2048);
  for (uint64_t i = 0; i <= s.source_symbols(); ++i) (void)s.NextPacket(out);
  for (auto _ : state) benchmark::DoNotOptimize(s.NextPacket(out));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.packet_size()));
}
BENCHMARK(BM_RepairPackets);

// A join's lookup in the group map of an index of `n` objects.
void BM_GroupMapFind(benchmark::State& state) {
  std::vector<Hash> hashes;
  for (int64_t i = 0; i < state.range(0); ++i) hashes.push_back(Sha256Of(std::to_string(i)));
  const GroupMap map = GroupMap::FromHashes(hashes, net::GroupScheme{});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.Find(net::GroupAddress(hashes[i++ % hashes.size()])));
  }
}
BENCHMARK(BM_GroupMapFind)->Arg(1000)->Arg(1'000'000);

}  // namespace
}  // namespace lcfs::share
