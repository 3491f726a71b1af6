#include "progress_bar.h"

#include <cstdio>

#include "lcfs/byte_size.h"

namespace lcfs::tools {

ProgressBar::ProgressBar(bool enabled)
    : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::Update(const sync::SyncProgress& p) {
  if (!enabled_) return;
  MutexLock lock(&mu_);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(p.bytes_received) / secs : 0;
  std::string line = "\r" + FormatByteSize(p.bytes_received) + " received";
  if (p.planned && p.bytes_to_fetch > 0) {
    const uint64_t done = std::min(p.chunk_bytes_received, p.bytes_to_fetch);
    const int pct =
        static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(p.bytes_to_fetch));
    const int width = 24, filled = pct * width / 100;
    line += " [" + std::string(static_cast<size_t>(filled), '#') +
            std::string(static_cast<size_t>(width - filled), '.') + "] " + std::to_string(pct) +
            "% of " + FormatByteSize(p.bytes_to_fetch);
    const double chunk_rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    if (chunk_rate > 0) {
      const auto eta =
          static_cast<uint64_t>(static_cast<double>(p.bytes_to_fetch - done) / chunk_rate);
      char buf[32];
      snprintf(buf, sizeof buf, " ETA %lu:%02lu", static_cast<unsigned long>(eta / 60),
               static_cast<unsigned long>(eta % 60));
      line += buf;
    }
  } else {
    line += " (reading the tree)";
  }
  line += ", " + FormatByteSize(static_cast<uint64_t>(rate)) + "/s\033[K";
  fputs(line.c_str(), stderr);
  fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Clear() {
  if (!enabled_) return;
  MutexLock lock(&mu_);
  if (drawn_) fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace lcfs::tools
