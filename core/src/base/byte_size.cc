#include "lcfs/byte_size.h"

#include <cstdio>
#include <limits>

namespace lcfs {
namespace {

Status Invalid(std::string_view text, const std::string& why) {
  return Status::Error(EINVAL, "size '" + std::string(text) + "': " + why);
}

// log2 of the unit's multiple, or -1 for a letter that is no unit.
int UnitShift(char c) {
  switch (c) {
    case 'k':
    case 'K':
      return 10;
    case 'm':
    case 'M':
      return 20;
    case 'g':
    case 'G':
      return 30;
    case 't':
    case 'T':
      return 40;
    case 'p':
    case 'P':
      return 50;
    default:
      return -1;
  }
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const Status too_large = Status::Error(ERANGE, "size '" + std::string(text) + "' is too large");
  size_t i = 0;
  // Integer and fraction parts kept exact (no floating point, so "1.1M" is
  // the same number of bytes everywhere).
  unsigned __int128 whole = 0;
  bool digits = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > kMax) return too_large;
    digits = true;
  }
  unsigned __int128 frac = 0, frac_scale = 1;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (frac_scale < 1'000'000'000'000'000'000ull) {  // further digits are below a byte
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_scale *= 10;
      }
      digits = true;
    }
  }
  if (!digits) return Invalid(text, "expected a number such as 4096, 64K or 1.5G");
  std::string_view unit = text.substr(i);
  int shift = 0;
  if (!unit.empty() && UnitShift(unit.front()) > 0) {
    shift = UnitShift(unit.front());
    unit.remove_prefix(1);
    if (!unit.empty() && unit.front() == 'i') unit.remove_prefix(1);
  }
  if (!unit.empty() && unit != "B") {
    return Invalid(text, "unknown unit '" + std::string(text.substr(i)) +
                             "' (use K, M, G, T or P, optionally followed by iB)");
  }
  const unsigned __int128 bytes = (whole << shift) + ((frac << shift) / frac_scale);
  if (bytes > kMax) return too_large;
  return static_cast<uint64_t>(bytes);
}

std::string FormatByteSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace lcfs
