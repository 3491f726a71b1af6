// MetricsServer: Prometheus metrics over HTTP, in the text exposition format,
// served by prometheus-cpp's Exposer (civetweb) on ADDR:PORT.
//
//   metrics::MetricsServer metrics;
//   metrics::Histogram& h = metrics.AddHistogram("lcfs_mount_fetch_seconds", "...", buckets);
//   metrics.AddCollector([&](metrics::Scrape& s) {
//     s.Counter("lcfs_export_sent_bytes_total", "UDP payload bytes sent", stats.bytes_sent);
//   });
//   LCFS_RETURN_IF_ERROR(metrics.Serve("127.0.0.1:9464"));
//   h.Observe(0.012);  // from any thread
//
// Counters and gauges are read from the program's own statistics when a
// scrape arrives, so nothing is added to the data path; collectors run on
// the server's one thread and must only read thread-safe state. Histograms
// need observations and live here. Everything is set up before Serve().
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/metrics/scrape.h"
#include "lcfs/status.h"

namespace prometheus {
class Exposer;
class Registry;
class Histogram;
}  // namespace prometheus

namespace lcfs::metrics {

// A histogram of a MetricsServer; Observe() is thread-safe.
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram& h) : h_(h) {}
  void Observe(double value);

 private:
  prometheus::Histogram& h_;
};

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();  // stops serving first
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // A histogram with these bucket upper bounds, owned by the server.
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> buckets);
  // Adds a callback that adds samples to each scrape.
  void AddCollector(std::function<void(Scrape&)> collect);

  // Listens on `address`: "127.0.0.1:9464", "[::1]:9464" (an address is
  // required, so metrics are never served on every interface by accident;
  // port 0 picks a free one). EINVAL for a malformed address,
  // EADDRNOTAVAIL when it cannot listen. At most once.
  Status Serve(const std::string& address);
  // Stops serving (waits for a scrape in progress): call it before the
  // state the collectors read goes away. The destructor does it too.
  void Stop();
  // The port it listens on; 0 when not serving.
  int port() const;

 private:
  class Collector;

  std::shared_ptr<Collector> collector_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::deque<Histogram> histograms_;  // stable addresses
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// Checks "ADDR:PORT" as MetricsServer::Serve takes it, without listening.
Status ValidateMetricsAddress(const std::string& address);

}  // namespace lcfs::metrics
