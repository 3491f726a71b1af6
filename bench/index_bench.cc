// Content index micro-benchmarks: chunk hashing by chunk size (the choice of
// the default chunk size), indexing a file from page cache, tree building,
// directory encode/decode and mdex lookups.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "lcfs/index/directory.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/index/indexer.h"
#include "lcfs/index/mdex.h"

namespace {

using namespace lcfs;

// Chunk object hashing: SHA-256 with the tag byte, by chunk size.
void BM_ChunkHash(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(ObjectHash(ObjectKind::kChunk, data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ChunkHash)->RangeMultiplier(4)->Range(4 << 10, 16 << 20);

// A 256 MiB file in page cache, indexed with 1 and 2 threads, by chunk size: the
// per-chunk costs (syscalls, tree, mdex) against the hashing.
class IndexFile : public benchmark::Fixture {
 public:
  void SetUp(const benchmark::State&) override {
    if (!path_.empty()) return;
    path_ = (std::filesystem::temp_directory_path() / "lcfs-index-bench.bin").string();
    std::vector<char> block(1 << 20);
    std::mt19937 rng(1);
    for (auto& c : block) c = static_cast<char>(rng());
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    for (int i = 0; i < 256; ++i) {
      block[0] = static_cast<char>(i);
      if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()))
        std::abort();
    }
    ::close(fd);
    std::atexit([] { std::filesystem::remove(path_); });
  }
  static inline std::string path_;
};

BENCHMARK_DEFINE_F(IndexFile, Index)(benchmark::State& state) {
  index::IndexOptions o;
  o.chunk_size = static_cast<uint32_t>(state.range(0));
  o.threads = static_cast<unsigned>(state.range(1));
  for (auto _ : state) {
    auto r = index::IndexPath(path_, o);
    if (!r.ok()) state.SkipWithError(r.status().message().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (256 << 20));
}
BENCHMARK_REGISTER_F(IndexFile, Index)
    ->ArgsProduct({{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}, {1, 2}})
    ->ArgNames({"chunk", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Building the tree of a 1 TiB file (1 Mi leaves of 1 MiB chunks).
void BM_TreeFromLeaves(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  std::vector<Hash> leaves(n);
  for (uint64_t i = 0; i < n; ++i) leaves[i].bytes[0] = static_cast<uint8_t>(i);
  auto shape = index::FileShape::Make(n << 20, 1u << 20);
  for (auto _ : state) benchmark::DoNotOptimize(index::FileTree::FromLeaves(*shape, leaves));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_TreeFromLeaves)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

index::Directory SampleDirectory(int n) {
  index::Directory d;
  d.chunk_size = 1u << 20;
  for (int i = 0; i < n; ++i) {
    index::DirEntry e;
    e.name = "file-" + std::to_string(i * 7919 % n) + ".dat";
    e.mode = 0644;
    e.size = 5000 + static_cast<uint64_t>(i);
    e.hash = Sha256Of(e.name);
    d.entries.push_back(std::move(e));
  }
  return d;
}

void BM_DirectoryEncode(benchmark::State& state) {
  index::Directory d = SampleDirectory(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(index::EncodeDirectory(d));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_DirectoryEncode)->Arg(1000);

void BM_DirectoryDecode(benchmark::State& state) {
  auto bytes = index::EncodeDirectory(SampleDirectory(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(index::DecodeDirectory(*bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes->size()));
}
BENCHMARK(BM_DirectoryDecode)->Arg(1000);

// Mdex with 1 Mi chunk entries: lookups by hash and by a 16-byte prefix.
class MdexFixture : public benchmark::Fixture {
 public:
  void SetUp(const benchmark::State&) override {
    if (!hashes_.empty()) return;
    std::mt19937_64 rng(5);
    mdex_.AddFile("/bench");
    for (int i = 0; i < (1 << 20); ++i) {
      Hash h;
      for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
      mdex_.Add(h, ObjectKind::kChunk, 0, static_cast<uint64_t>(i) << 20, 1 << 20);
      hashes_.push_back(h);
    }
  }
  static inline index::Mdex mdex_;
  static inline std::vector<Hash> hashes_;
};

BENCHMARK_DEFINE_F(MdexFixture, Get)(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(mdex_.Get(hashes_[i++ & (hashes_.size() - 1)]));
  state.counters["bytes_per_entry"] =
      static_cast<double>(mdex_.MemoryUsage()) / static_cast<double>(mdex_.size());
}
BENCHMARK_REGISTER_F(MdexFixture, Get);

BENCHMARK_DEFINE_F(MdexFixture, FindByPrefix16)(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    const Hash& h = hashes_[i++ & (hashes_.size() - 1)];
    benchmark::DoNotOptimize(mdex_.FindByPrefix(std::span(h.bytes).first(16)));
  }
}
BENCHMARK_REGISTER_F(MdexFixture, FindByPrefix16);

void BM_MdexInsert(benchmark::State& state) {
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    index::Mdex m;
    m.AddFile("/bench");
    for (int i = 0; i < state.range(0); ++i) {
      Hash h;
      for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
      m.Add(h, ObjectKind::kChunk, 0, 0, 1);
    }
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_MdexInsert)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

}  // namespace
