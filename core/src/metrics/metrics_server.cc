#include "lcfs/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstdlib>
#include <exception>

namespace lcfs::metrics {

// Turns the collectors' Scrape into prometheus-cpp's families at every scrape.
class MetricsServer::Collector : public prometheus::Collectable {
 public:
  std::vector<std::function<void(Scrape&)>> collectors;  // fixed before Serve()

  std::vector<prometheus::MetricFamily> Collect() const override {
    Scrape scrape;
    for (const auto& collect : collectors) collect(scrape);
    std::vector<prometheus::MetricFamily> out;
    for (const Family& f : scrape.families()) {
      prometheus::MetricFamily mf;
      mf.name = f.name;
      mf.help = f.help;
      const bool counter = f.type == Family::Type::kCounter;
      mf.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      for (const Sample& s : f.samples) {
        prometheus::ClientMetric m;
        for (const auto& [name, value] : s.labels) m.label.push_back({name, value});
        (counter ? m.counter.value : m.gauge.value) = s.value;
        mf.metric.push_back(std::move(m));
      }
      out.push_back(std::move(mf));
    }
    return out;
  }
};

void Histogram::Observe(double value) { h_.Observe(value); }

Status ValidateMetricsAddress(const std::string& address) {
  const auto bad = [&](const std::string& why) {
    return Status::Error(EINVAL, "bad metrics address '" + address + "': " + why +
                                     " (expected ADDR:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)");
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no address");
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) return bad("bad port");
  unsigned char buf[16];
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return bad("unclosed '['");
    host = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return bad("not an IPv6 address");
  } else if (inet_pton(AF_INET, host.c_str(), buf) != 1) {
    return bad("not an IPv4 address (write IPv6 ones in brackets)");
  }
  return Status::Ok();
}

MetricsServer::MetricsServer()
    : collector_(std::make_shared<Collector>()),
      registry_(std::make_shared<prometheus::Registry>()) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() { exposer_.reset(); }

Histogram& MetricsServer::AddHistogram(const std::string& name, const std::string& help,
                                       std::vector<double> buckets) {
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  return histograms_.emplace_back(
      family.Add({}, prometheus::Histogram::BucketBoundaries(std::move(buckets))));
}

void MetricsServer::AddCollector(std::function<void(Scrape&)> collect) {
  collector_->collectors.push_back(std::move(collect));
}

Status MetricsServer::Serve(const std::string& address) {
  if (exposer_) return Status::Error(EALREADY, "metrics: already serving");
  LCFS_RETURN_IF_ERROR(ValidateMetricsAddress(address));
  try {
    // One thread: scrapes are rare, and collectors then never run twice at once.
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return Status::Error(EADDRNOTAVAIL, "metrics: cannot listen on " + address + ": " + e.what());
  }
  exposer_->RegisterCollectable(collector_);
  exposer_->RegisterCollectable(registry_);
  return Status::Ok();
}

int MetricsServer::port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace lcfs::metrics
