#include "lcfs/metrics/scrape.h"

#include <cmath>
#include <cstdio>

namespace lcfs::metrics {

void Scrape::Add(Family::Type type, const std::string& name, const std::string& help, double value,
                 std::vector<std::pair<std::string, std::string>> labels) {
  Family* family = nullptr;
  for (Family& f : families_)
    if (f.name == name) family = &f;
  if (!family) {
    families_.push_back(Family{name, help, type, {}});
    family = &families_.back();
  }
  family->samples.push_back(Sample{std::move(labels), value});
}

void Scrape::Counter(const std::string& name, const std::string& help, double value,
                     std::vector<std::pair<std::string, std::string>> labels) {
  Add(Family::Type::kCounter, name, help, value, std::move(labels));
}

void Scrape::Gauge(const std::string& name, const std::string& help, double value,
                   std::vector<std::pair<std::string, std::string>> labels) {
  Add(Family::Type::kGauge, name, help, value, std::move(labels));
}

std::string Scrape::ToText(bool skip_zero) const {
  std::string out;
  for (const Family& f : families_) {
    for (const Sample& s : f.samples) {
      if (skip_zero && s.value == 0) continue;
      out += f.name;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"" + s.labels[i].second + '"';
        }
        out += '}';
      }
      char value[64];
      if (s.value == std::floor(s.value) && std::fabs(s.value) < 1e15) {
        std::snprintf(value, sizeof value, " %.0f\n", s.value);
      } else {
        std::snprintf(value, sizeof value, " %g\n", s.value);
      }
      out += value;
    }
  }
  return out;
}

}  // namespace lcfs::metrics
