// Index caches left behind: lcfs-export keeps one index cache per exported
// DIR in a shared directory (index::DefaultIndexCachePath), named by a hash
// of DIR's real path, so exports of directories that are gone (temporary
// trees, renamed ones) would pile up there for ever. Next to each cache it
// writes NAME.path, holding DIR's real path; at start, and once a day while
// it runs, it removes the caches of the directory that
//  - name a DIR (in NAME.path) that no longer exists, or
//  - have not been written or used for 30 days (a cache is rewritten at
//    every index, and touched by its exporter at every pruning pass).
// Only NAME.index and NAME.path files are looked at; nothing else in the
// directory is touched.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "lcfs/status.h"

namespace lcfs::exporter {

inline constexpr std::chrono::hours kIndexCacheMaxAge{24 * 30};
inline constexpr std::chrono::hours kPruneInterval{24};

// Writes `cache`.path (sibling of `cache` = DIR/NAME.index, NAME.path) with
// `dir`'s real path, by rename, and touches `cache` so it counts as used.
Status RecordIndexCacheOwner(const std::string& cache, const std::string& dir);

struct PruneResult {
  size_t removed = 0;  // caches removed (with their .path)
  size_t kept = 0;
};

// Prunes the cache directory holding `own` (which is kept whatever it says).
Result<PruneResult> PruneIndexCaches(const std::string& own,
                                     std::chrono::hours max_age = kIndexCacheMaxAge);

}  // namespace lcfs::exporter
