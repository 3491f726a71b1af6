// The one-line progress display of lcfs-sync on a terminal: bytes, rate, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "lcfs/sync/sync_options.h"

namespace lcfs::tools {

class ProgressBar {
 public:
  // Draws on stderr when `enabled` (a terminal and not --quiet); else no-op.
  explicit ProgressBar(bool enabled);
  // Thread-safe; called from the sync's worker threads.
  void Update(const sync::SyncProgress& p);
  // Erases the line (before the summary or an error).
  void Clear();

 private:
  bool enabled_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

}  // namespace lcfs::tools
