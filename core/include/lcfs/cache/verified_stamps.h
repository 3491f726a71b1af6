// VerifiedStamps: which object files of a chunk cache were verified (hashed)
// and have not changed since, remembered across processes, so that a new
// mount over a warm cache does not hash every object it opens again.
//
// A file is identified as unchanged the way git's index does it: device,
// inode, size, mtime and ctime (with nanoseconds), taken by fstat on the
// open file when it was verified or written. Records are appended to
// DIR/v1/verified (88 bytes each: the hash, then seven 64-bit fields, in
// host order: the file never leaves the machine) with one write(2) on an
// O_APPEND descriptor, so processes sharing the cache do not interleave
// them; the last record of a hash wins. When the log holds many more records
// than hashes, Open rewrites it (temporary file, rename).
//
// Why this stays safe against a tampered cache: the cache directory is
// private (0700, objects 0600, a cache owned by another user is refused), so
// only its owner or root can change a file there, and any change is seen:
// writing or truncating moves mtime and ctime, ctime cannot be set back
// (utimensat sets it to now), and replacing the file (rename, a copy) gives
// another inode. A file whose stamp differs is hashed again, as before. A
// torn or garbled record (a crash mid-append) only costs a re-verification.
// File timestamps come from a coarse clock, so a file changed within the
// same tick as its verification could keep its stamp ("racy git"): a file
// whose ctime is less than `racy` old when verified is not recorded (Record
// says so). Its owner may verify it again once Settled() and record that:
// the second hash reads the bytes after the window closed, and any change
// made after that read moves ctime past the recorded one (ChunkCache does
// this for the objects it wrote or hashed, see SettleStamps there). A
// stamp is never carried over from a verification made inside the window.
// What remains trusted is what is trusted anyway: the owner's own account
// and the kernel's metadata.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lcfs/hash.h"
#include "lcfs/unique_fd.h"

namespace lcfs::cache {

struct StampOptions {
  // A file changed less than this long ago is not recorded: the coarsest
  // timestamp granularity the cache's file system may have (whole seconds).
  std::chrono::nanoseconds racy = std::chrono::seconds(1);
  // The clock files are stamped with; CLOCK_REALTIME when empty (tests set
  // a fake one).
  std::function<timespec()> now;
};

class VerifiedStamps {
 public:
  // Loads (and, if bloated, compacts) the log at `path`, creating it 0600.
  // A log that cannot be opened leaves the stamps empty: everything is
  // verified as before, nothing is recorded.
  explicit VerifiedStamps(const std::string& path, StampOptions options = {});

  // Whether the file `st` describes is object `hash` as verified before.
  bool Unchanged(const Hash& hash, const struct stat& st) const;
  // Records that the file `st` describes was verified to be `hash`, unless
  // it changed within the racy window (false: not recorded; verify it again
  // once Settled to record it).
  bool Record(const Hash& hash, const struct stat& st);
  // Whether a file last changed at `ctime` is out of the racy window.
  bool Settled(const timespec& ctime) const;

 private:
  struct Stamp {
    uint64_t dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
    static Stamp Of(const struct stat& st);
    bool operator==(const Stamp&) const = default;
  };

  const StampOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<Hash, Stamp> stamps_;
  UniqueFd log_;
};

}  // namespace lcfs::cache
