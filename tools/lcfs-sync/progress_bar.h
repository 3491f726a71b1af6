// The one-line progress display of lcfs-sync on a terminal: bytes, rate, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "lcfs/mutex.h"
#include "lcfs/sync/sync_options.h"

namespace lcfs::tools {

// Threads: constructed and destroyed on the main thread; Update comes from
// the sync's worker threads (SyncOptions::progress), Clear from the main
// thread. mu_ serialises the two so a line is never drawn half over another.
class ProgressBar {
 public:
  // Draws on stderr when `enabled` (a terminal and not --quiet); else no-op.
  explicit ProgressBar(bool enabled);
  // Thread-safe; called from the sync's worker threads.
  void Update(const sync::SyncProgress& p) EXCLUDES(mu_);
  // Erases the line (before the summary or an error).
  void Clear() EXCLUDES(mu_);

 private:
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  Mutex mu_;
  bool drawn_ GUARDED_BY(mu_) = false;
};

}  // namespace lcfs::tools
