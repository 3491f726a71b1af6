// Byte sizes as people type and read them: "512M", "1.5GiB", "4096".
//
// Sizes (cache sizes, chunk sizes) are bytes with binary units; rates on the
// wire are bits per second with decimal units and live elsewhere
// (lcfs/share/units.h). The rule, for every size lcfs accepts:
//   a decimal number, optionally with a fraction, then optionally a unit
//   K, M, G, T or P (either case; powers of 1024), which may be followed by
//   "i", and then optionally "B": "64K" = "64k" = "64KiB" = "64KB" = 65536.
//   A bare "B" is allowed ("4096B"). A fraction is rounded down to a whole
//   byte ("1.5k" = 1536). Nothing else: no sign, spaces or other units.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lcfs/status.h"

namespace lcfs {

// Parses `text` by the rule above: EINVAL naming the text and the problem, or
// ERANGE above 2^64 - 1 bytes.
Result<uint64_t> ParseByteSize(std::string_view text);

// "12 B", "1.5 MiB", "3.0 GiB": one decimal once a unit is used.
std::string FormatByteSize(uint64_t bytes);

}  // namespace lcfs
