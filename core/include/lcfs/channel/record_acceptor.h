// RecordAcceptor: the rules by which a reader believes a channel record
// (docs/protocol.md section 11.4).
//
// A record is accepted only if it parses, names this reader's channel,
// carries that key's valid signature, has a sequence number above the last
// accepted one, has not expired and was not signed further in the future than
// the allowed clock skew. Anything else is dropped and counted, and changes
// nothing: a host on the link can neither roll a reader back (old sequence)
// nor move it to a root the publisher did not sign.
//
// With a state file, the last accepted record is kept there (written to a
// temporary file and renamed, so a crash leaves the old or the new one), and
// a reader that restarts still refuses everything up to it.
//
// Not thread-safe: one owner (the follower's thread) calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "lcfs/channel/channel.h"
#include "lcfs/channel/record.h"
#include "lcfs/status.h"

namespace lcfs::channel {

// Seconds a record's time may lie ahead of the reader's clock.
inline constexpr uint64_t kDefaultClockSkew = 300;

class RecordAcceptor {
 public:
  // An acceptor that remembers nothing across restarts.
  explicit RecordAcceptor(const ChannelId& channel) : channel_(channel) {}
  // One that keeps its last accepted record in `state_path` (created on the
  // first acceptance). An existing state file must hold a valid record of
  // this channel (EINVAL otherwise: deleting it would allow a rollback, so
  // that is left to a person).
  static Result<RecordAcceptor> Open(const ChannelId& channel, std::string state_path);

  RecordAcceptor(RecordAcceptor&&) = default;
  RecordAcceptor& operator=(RecordAcceptor&&) = default;

  // Judges one datagram at `now` (seconds since the Unix epoch). On kNone
  // the record becomes current() and is saved; if saving fails the record is
  // still accepted in memory and the error is counted in save_errors().
  RecordDrop Offer(std::span<const uint8_t> datagram, uint64_t now);

  const ChannelId& channel() const { return channel_; }
  // The last accepted record (from the state file before any is offered).
  const std::optional<Record>& current() const { return current_; }
  const RecordCounters& counters() const { return counters_; }
  uint64_t save_errors() const { return save_errors_; }
  void set_clock_skew(uint64_t seconds) { clock_skew_ = seconds; }

 private:
  RecordDrop Judge(std::span<const uint8_t> datagram, uint64_t now, Record* record) const;
  Status Save(const Record& record) const;

  ChannelId channel_;
  std::string state_path_;
  std::optional<Record> current_;
  RecordCounters counters_;
  uint64_t save_errors_ = 0;
  uint64_t clock_skew_ = kDefaultClockSkew;
};

}  // namespace lcfs::channel
