// Fuzzes the parsers of lcfs-export's rate and duration options: any input
// gives a value in range or an EINVAL error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lcfs/share/units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto rate = lcfs::share::ParseRate(text); rate.ok()) {
    if (*rate < 1000 || *rate > 1'000'000'000'000ULL) std::abort();
    (void)lcfs::share::FormatRate(*rate);
  } else if (rate.status().code() != EINVAL) {
    std::abort();
  }
  if (auto d = lcfs::share::ParseDuration(text); d.ok()) {
    if (d->count() < 0 || d->count() > 7LL * 24 * 3600 * 1000) std::abort();
  } else if (d.status().code() != EINVAL) {
    std::abort();
  }
  return 0;
}
