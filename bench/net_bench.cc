// Costs on the hot paths of the network layer: deriving a group, encoding and
// parsing a packet, parsing an MLD report, and the membership table's
// per-report work with many live groups.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "lcfs/net/group.h"
#include "lcfs/net/packet.h"
#include "net/membership_table.h"
#include "net/mld_message.h"

namespace lcfs::net {
namespace {

void BM_GroupAddress(benchmark::State& state) {
  Hash h;
  for (auto _ : state) {
    h.bytes[0]++;
    benchmark::DoNotOptimize(GroupAddress(h));
  }
}
BENCHMARK(BM_GroupAddress);

PacketHeader Header(size_t t) {
  PacketHeader h;
  h.oti[6] = static_cast<uint8_t>(t >> 8);
  h.oti[7] = static_cast<uint8_t>(t);
  return h;
}

void BM_EncodePacket(benchmark::State& state) {
  const size_t t = 1400;
  std::vector<uint8_t> symbol(t, 7), out(kPacketHeaderSize + t);
  const PacketHeader h = Header(t);
  for (auto _ : state) benchmark::DoNotOptimize(EncodePacket(h, symbol, out));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodePacket);

void BM_ParsePacketFor(benchmark::State& state) {
  const size_t t = 1400;
  std::vector<uint8_t> symbol(t, 7);
  const auto bytes = *EncodePacket(Header(t), symbol);
  PacketCounters counters;
  PacketView v;
  for (auto _ : state)
    benchmark::DoNotOptimize(ParsePacketFor(bytes, Hash{}, ObjectKind::kChunk, &v, &counters));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParsePacketFor);

void BM_ParseMldv2Report(benchmark::State& state) {
  std::vector<MldRecord> records;
  for (int i = 0; i < 10; ++i) {
    Hash h;
    h.bytes[0] = static_cast<uint8_t>(i);
    records.push_back({RecordType::kModeIsExclude, GroupAddress(h), {}});
  }
  const auto bytes = EncodeMldv2Report(records);
  for (auto _ : state) benchmark::DoNotOptimize(ParseMldMessage(bytes));
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_ParseMldv2Report);

// A report refreshing one of `groups` live groups (the common case).
void BM_MembershipRefresh(benchmark::State& state) {
  const int groups = static_cast<int>(state.range(0));
  MembershipTable table(MldTimers{});
  MldTime now = MldTime{} + std::chrono::hours(1);
  std::vector<MldRecord> records;
  for (int i = 0; i < groups; ++i) {
    Hash h;
    std::memcpy(h.bytes.data(), &i, sizeof i);
    records.push_back({RecordType::kModeIsExclude, GroupAddress(h), {}});
    table.Apply(1, records.back(), now);
  }
  size_t i = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    table.Apply(1, records[i], now);
    if (++i == records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["timer_entries_per_group"] =
      static_cast<double>(table.timer_entries()) / static_cast<double>(table.size());
}
BENCHMARK(BM_MembershipRefresh)->Arg(1000)->Arg(100'000);

void BM_MembershipLookup(benchmark::State& state) {
  const int groups = 100'000;
  MembershipTable table(MldTimers{});
  const MldTime now = MldTime{} + std::chrono::hours(1);
  std::vector<Ipv6Address> addrs;
  for (int i = 0; i < groups; ++i) {
    Hash h;
    std::memcpy(h.bytes.data(), &i, sizeof i);
    addrs.push_back(GroupAddress(h));
    table.Apply(1, {RecordType::kModeIsExclude, addrs.back(), {}}, now);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.HasListeners(1, addrs[i]));
    if (++i == addrs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MembershipLookup);

}  // namespace
}  // namespace lcfs::net
