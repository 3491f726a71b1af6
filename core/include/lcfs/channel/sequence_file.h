// SequenceFile: where a publisher keeps the last sequence number its key
// signed, so that no restart ever signs two records with one number.
//
// The file (KEYFILE.seq by convention) holds the number in decimal, padded
// to 20 digits and a newline, rewritten in place and flushed to disk before
// the number is used. An flock serialises exporters sharing the file.
// Sequence numbers are drawn as max(last + 1, floor): with floor = the time
// in milliseconds, replicas that share a key (and a roughly synchronous
// clock) sign increasing numbers without sharing the file.
#pragma once

#include <cstdint>
#include <string>

#include "lcfs/status.h"
#include "lcfs/unique_fd.h"

namespace lcfs::channel {

class SequenceFile {
 public:
  // Opens `path`, creating it (mode 0600, last = 0) if missing. EINVAL if it
  // holds anything but a number. The fd stays open, so Next() keeps working
  // after the process drops privileges.
  static Result<SequenceFile> Open(const std::string& path);

  SequenceFile(SequenceFile&&) = default;
  SequenceFile& operator=(SequenceFile&&) = default;

  // A number above every number this file handed out and at least `floor`,
  // on disk before it returns.
  Result<uint64_t> Next(uint64_t floor = 0);
  uint64_t last() const { return last_; }

 private:
  SequenceFile() = default;
  static Result<uint64_t> ReadNumber(int fd, const std::string& path);

  UniqueFd fd_;
  std::string path_;
  uint64_t last_ = 0;
};

}  // namespace lcfs::channel
