#include "lcfs/share/units.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace lcfs::share {
namespace {

// Parses a non-negative decimal with an optional fraction at the start of
// `text`; advances `text` past it. nullopt if there is no digit.
bool ParseDecimal(std::string_view& text, double* out) {
  size_t i = 0;
  double value = 0;
  bool digits = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + (text[i] - '0');
    digits = true;
    ++i;
    if (i > 20) return false;  // far beyond any accepted value
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    double scale = 0.1;
    size_t fraction = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++fraction <= 9) value += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
      ++i;
    }
  }
  if (!digits) return false;
  text.remove_prefix(i);
  *out = value;
  return true;
}

Status Invalid(std::string_view what, std::string_view text, std::string_view why) {
  return Status::Error(EINVAL,
                       std::string(what) + " \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

Result<uint64_t> ParseRate(std::string_view text) {
  std::string_view rest = text;
  double value = 0;
  if (!ParseDecimal(rest, &value)) return Invalid("rate", text, "expected a number, e.g. 100M");
  double scale = 1;
  if (!rest.empty()) {
    switch (rest.front()) {
      case 'k':
      case 'K':
        scale = 1e3;
        rest.remove_prefix(1);
        break;
      case 'M':
        scale = 1e6;
        rest.remove_prefix(1);
        break;
      case 'G':
        scale = 1e9;
        rest.remove_prefix(1);
        break;
      default:
        break;
    }
  }
  if (!rest.empty() && rest != "bit/s" && rest != "bps" && rest != "b/s") {
    return Invalid("rate", text, "unknown unit (use k, M or G, bits per second)");
  }
  const double bps = std::round(value * scale);
  if (bps < 1e3) return Invalid("rate", text, "below 1 kbit/s");
  if (bps > 1e12) return Invalid("rate", text, "above 1 Tbit/s");
  return static_cast<uint64_t>(bps);
}

std::string FormatRate(uint64_t bps) {
  char buf[64];
  if (bps >= 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%g Gbit/s", static_cast<double>(bps) / 1e9);
  } else if (bps >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%g Mbit/s", static_cast<double>(bps) / 1e6);
  } else if (bps >= 1'000) {
    std::snprintf(buf, sizeof buf, "%g kbit/s", static_cast<double>(bps) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%llu bit/s", static_cast<unsigned long long>(bps));
  }
  return buf;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::string_view rest = text;
  double value = 0;
  if (!ParseDecimal(rest, &value)) return Invalid("duration", text, "expected a number, e.g. 60s");
  double ms_per_unit;
  if (rest.empty() || rest == "s") {
    ms_per_unit = 1e3;
  } else if (rest == "ms") {
    ms_per_unit = 1;
  } else if (rest == "m" || rest == "min") {
    ms_per_unit = 60e3;
  } else if (rest == "h") {
    ms_per_unit = 3600e3;
  } else {
    return Invalid("duration", text, "unknown unit (use ms, s, m or h)");
  }
  const double ms = std::round(value * ms_per_unit);
  if (ms > 7 * 24 * 3600e3) return Invalid("duration", text, "longer than a week");
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace lcfs::share
