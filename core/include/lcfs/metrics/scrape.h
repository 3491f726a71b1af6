// Scrape: the metric families of one Prometheus scrape, built by the
// programs' collect callbacks from their statistics (see metrics_server.h).
// Names follow the Prometheus conventions: lcfs_<program>_<what>_<unit>,
// counters end in _total.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lcfs::metrics {

struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct Family {
  enum class Type { kCounter, kGauge };
  std::string name;
  std::string help;
  Type type = Type::kCounter;
  std::vector<Sample> samples;
};

class Scrape {
 public:
  // Adds one sample; samples with the same name join one family (give each
  // its own labels then, e.g. {"reason", "bad_magic"}).
  void Counter(const std::string& name, const std::string& help, double value,
               std::vector<std::pair<std::string, std::string>> labels = {});
  void Gauge(const std::string& name, const std::string& help, double value,
             std::vector<std::pair<std::string, std::string>> labels = {});

  const std::vector<Family>& families() const { return families_; }
  // "name value" / "name{label="v"} value" lines, for command-line summaries
  // that print the same figures as the metrics endpoint (`skip_zero`: only
  // the samples that are not 0).
  std::string ToText(bool skip_zero = false) const;

 private:
  void Add(Family::Type type, const std::string& name, const std::string& help, double value,
           std::vector<std::pair<std::string, std::string>> labels);
  std::vector<Family> families_;
};

}  // namespace lcfs::metrics
