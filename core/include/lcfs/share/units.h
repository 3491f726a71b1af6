// Parsers for the exporter's command-line quantities: rates in bits per
// second with decimal suffixes, and durations.
//
// They take text from users, so they are strict (the whole string, no
// overflow, no negative values) and say what is wrong.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "lcfs/status.h"

namespace lcfs::share {

// "100M", "1.5G", "800k", "64000": bits per second, decimal suffixes k/K
// (1e3), M (1e6), G (1e9), an optional trailing "bit/s" or "bps". At least 1
// kbit/s, at most 1 Tbit/s. EINVAL with the text otherwise.
Result<uint64_t> ParseRate(std::string_view text);

// "100 Mbit/s", "1.5 Gbit/s", "800 kbit/s".
std::string FormatRate(uint64_t bits_per_second);

// "250ms", "2s", "1.5s", "3m", "1h"; a bare number is seconds. At most a
// week. EINVAL with the text otherwise.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace lcfs::share
