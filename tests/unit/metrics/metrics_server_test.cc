#include "lcfs/metrics/metrics_server.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/http_get.h"
#include "lcfs/metrics/engine_metrics.h"
#include "lcfs/unique_fd.h"

namespace lcfs::metrics {
namespace {

std::string Get(int port) { return testing::HttpGetLoopback(port); }

TEST(ValidateMetricsAddress, NeedsAnAddressAndAPort) {
  for (const char* good : {"127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0", "[fe80::1]:1"})
    EXPECT_TRUE(ValidateMetricsAddress(good).ok()) << good;
  for (const char* bad : {"9464", ":9464", "localhost:9464", "::1:9464", "[::1]", "[::1:9464",
                          "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:9x", ""}) {
    Status st = ValidateMetricsAddress(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), EINVAL) << bad;
  }
}

TEST(Scrape, SamplesOfOneNameShareAFamilyAndPrintAsText) {
  Scrape s;
  s.Counter("x_total", "help", 3);
  s.Counter("drops_total", "why", 0, {{"reason", "a"}});
  s.Counter("drops_total", "why", 2, {{"reason", "b"}});
  s.Gauge("g", "gauge", 1.5);
  ASSERT_EQ(s.families().size(), 3u);
  EXPECT_EQ(s.families()[1].samples.size(), 2u);
  EXPECT_EQ(s.ToText(),
            "x_total 3\ndrops_total{reason=\"a\"} 0\ndrops_total{reason=\"b\"} 2\ng 1.5\n");
  EXPECT_EQ(s.ToText(true), "x_total 3\ndrops_total{reason=\"b\"} 2\ng 1.5\n");
}

TEST(MetricsServer, ServesCollectedValuesAtEachScrapeInTheExpositionFormat) {
  std::atomic<uint64_t> sent{0};
  MetricsServer server;
  Histogram& h = server.AddHistogram("lcfs_test_seconds", "test histogram", {0.1, 1});
  server.AddCollector([&](Scrape& s) { s.Counter("lcfs_test_sent_total", "sent", sent.load()); });
  ASSERT_TRUE(server.Serve("127.0.0.1:0").ok());
  ASSERT_GT(server.port(), 0);
  std::string first = Get(server.port());
  EXPECT_NE(first.find("200 OK"), std::string::npos) << first;
  EXPECT_NE(first.find("# TYPE lcfs_test_sent_total counter"), std::string::npos) << first;
  EXPECT_NE(first.find("\nlcfs_test_sent_total 0\n"), std::string::npos) << first;
  sent = 42;
  h.Observe(0.5);
  std::string second = Get(server.port());
  EXPECT_NE(second.find("\nlcfs_test_sent_total 42\n"), std::string::npos) << second;
  EXPECT_NE(second.find("lcfs_test_seconds_bucket{le=\"0.1\"} 0"), std::string::npos) << second;
  EXPECT_NE(second.find("lcfs_test_seconds_bucket{le=\"1\"} 1"), std::string::npos) << second;
  EXPECT_EQ(server.Serve("127.0.0.1:0").code(), EALREADY);
  const int port = server.port();
  server.Stop();
  EXPECT_EQ(Get(port), "");
}

TEST(MetricsServer, ABusyPortIsAnError) {
  MetricsServer a, b;
  ASSERT_TRUE(a.Serve("127.0.0.1:0").ok());
  Status st = b.Serve("127.0.0.1:" + std::to_string(a.port()));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot listen"), std::string::npos) << st.message();
}

TEST(EngineMetrics, DropReasonsAreLabelsOfOneFamily) {
  sync::FetcherStats stats;
  stats.packets.Count(net::PacketDrop::kBadMagic);
  stats.packets.Count(net::PacketDrop::kBadMagic);
  Scrape s;
  AddReceiverMetrics("lcfs_mount", stats, s);
  const std::string text = s.ToText();
  EXPECT_NE(text.find("lcfs_mount_dropped_packets_total{reason=\"bad_magic\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lcfs_mount_dropped_packets_total{reason=\"too_short\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(DropReasonLabel(net::PacketDrop::kReservedNotZero), "reserved_bytes_not_zero");
}

TEST(EngineMetrics, HostileHostCountersAreExported) {
  sync::FetcherStats stats;
  stats.wrong_oti_packets = 11;
  stats.no_decoder_packets = 12;
  stats.evicted_decoders = 13;
  stats.conflicting_symbols = 14;
  stats.retried_decodes = 15;
  stats.recovered_decodes = 16;
  stats.decoder_memory_peak = 17;
  stats.interface_changes = 18;
  stats.receive_errors = 19;
  stats.interfaces = 2;
  Scrape s;
  AddReceiverMetrics("lcfs_sync", stats, s);
  const std::string text = s.ToText();
  for (const char* line :
       {"lcfs_sync_wrong_oti_packets_total 11\n", "lcfs_sync_no_decoder_packets_total 12\n",
        "lcfs_sync_evicted_decoders_total 13\n", "lcfs_sync_conflicting_symbols_total 14\n",
        "lcfs_sync_retried_decodes_total 15\n", "lcfs_sync_recovered_decodes_total 16\n",
        "lcfs_sync_decoder_memory_peak_bytes 17\n", "lcfs_sync_interface_changes_total 18\n",
        "lcfs_sync_receive_errors_total 19\n", "lcfs_sync_interfaces 2\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
}

}  // namespace
}  // namespace lcfs::metrics
