// Prompt MLD reports on a real link: a reader's PromptReporter tells the
// exporter's host of its joins itself, in the form any MLDv2 listener
// accepts (hop limit 1, link-local source, records a snooper understands),
// without waiting for the kernel's own report.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/net/group.h"
#include "lcfs/net/prompt_reporter.h"
#include "net/mld_message.h"
#include "net/mld_socket.h"
#include "testbed/testbed.h"

namespace lcfs::net {
namespace {

Ipv6Address TestGroup(int n) {
  Hash h;
  h.bytes[0] = static_cast<uint8_t>(n);
  h.bytes[1] = static_cast<uint8_t>(n >> 8);
  return GroupAddress(h);
}

TEST(PromptReporterTest, JoinsReachTheLinkAsMldv2ReportsFromTheReadersLinkLocalAddress) {
  LCFS_REQUIRE_TESTBED();
  auto bed = testbed::Testbed::Create({.hosts = 2});
  ASSERT_TRUE(bed.ok()) << bed.status().ToString();
  testbed::Host& exporter = (*bed)->host(0);
  testbed::Host& reader = (*bed)->host(1);

  // The exporter's side: the raw socket its snooper reads.
  std::optional<MldSocket> listen;
  {
    auto in = exporter.Enter();
    ASSERT_TRUE(in.ok());
    auto s = MldSocket::Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(s->AddInterface(exporter.ifindex()).ok());
    listen.emplace(std::move(*s));
  }

  // 100 plain joins (more than one report holds) and one with a source filter.
  std::vector<Ipv6Address> groups;
  for (int i = 0; i < 100; ++i) groups.push_back(TestGroup(i));
  const Ipv6Address filtered = TestGroup(1000);
  const Ipv6Address exporter_address = Ipv6Address::FromIn6(exporter.link_local());
  {
    auto in = reader.Enter();
    ASSERT_TRUE(in.ok());
    auto reporter = PromptReporter::Open();
    ASSERT_TRUE(reporter.ok()) << reporter.status().ToString();
    ASSERT_TRUE(reporter->ReportJoins(reader.ifindex(), groups).ok());
    const Ipv6Address one[] = {filtered};
    ASSERT_TRUE(
        reporter->ReportJoins(reader.ifindex(), one, SourceFilter::Include({exporter_address}))
            .ok());
    EXPECT_EQ(reporter->reports_sent(), 3u);  // 61 records fit one report
  }

  // What arrives from the reader, by group.
  std::map<Ipv6Address, MldRecord> heard;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<uint8_t> buffer(65536);
  while (heard.size() < groups.size() + 1 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{listen->fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    MldSocket::Received r;
    auto got = listen->Receive(buffer, &r);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (!*got || r.source != Ipv6Address::FromIn6(reader.link_local())) continue;
    EXPECT_EQ(r.hop_limit, 1);
    auto message = ParseMldMessage(r.message);
    ASSERT_TRUE(message.ok()) << message.status().ToString();
    ASSERT_EQ(message->type, MldType::kV2Report);
    for (const MldRecord& record : message->records) heard[record.group] = record;
  }
  for (const Ipv6Address& g : groups) {
    ASSERT_TRUE(heard.count(g)) << g.ToString();
    EXPECT_EQ(heard[g].type, RecordType::kChangeToExclude) << g.ToString();
    EXPECT_TRUE(heard[g].sources.empty());
  }
  ASSERT_TRUE(heard.count(filtered));
  EXPECT_EQ(heard[filtered].type, RecordType::kAllowNewSources);
  EXPECT_EQ(heard[filtered].sources, std::vector<Ipv6Address>{exporter_address});
}

}  // namespace
}  // namespace lcfs::net
