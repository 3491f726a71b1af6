// Follower: the reader's side of a channel. Joins the channel's group,
// judges every record heard there by the acceptance rules (RecordAcceptor)
// and keeps the current root (docs/protocol.md section 11.4).
//
//   auto f = Follower::Start(channel, options);
//   auto record = (*f)->WaitNewer(std::nullopt, deadline, &cancel);
//
// A thread receives; every other member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lcfs/channel/channel.h"
#include "lcfs/channel/record.h"
#include "lcfs/net/address.h"
#include "lcfs/net/group.h"
#include "lcfs/status.h"

namespace lcfs::channel {

struct FollowerOptions {
  std::string iface;  // interface name or index; empty: every multicast-capable one
  net::GroupScheme scheme;
  // Directory (created if missing) where the last accepted record is kept
  // across restarts, in StatePath(state_dir, channel); empty: nothing is
  // remembered.
  std::string state_dir;
  // Called on the follower's thread with each newly accepted record. Must
  // not block for long or call back into the follower.
  std::function<void(const Record&)> on_record;
};

class Follower {
 public:
  static Result<std::unique_ptr<Follower>> Start(const ChannelId& channel, FollowerOptions options);
  ~Follower();  // leaves the group, stops the thread
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Waits until the current record is one the publisher announced since
  // Start() (accepted, or a repeat of the one remembered) and, if
  // `after_sequence` is set, has a higher sequence number. ETIMEDOUT at
  // `deadline`, ECANCELED once *cancel is set (checked every 100 ms).
  Result<Record> WaitNewer(std::optional<uint64_t> after_sequence,
                           std::chrono::steady_clock::time_point deadline,
                           const std::atomic<bool>* cancel = nullptr);

  // The last accepted record (possibly remembered from an earlier run).
  std::optional<Record> current() const;
  RecordCounters counters() const;
  const ChannelId& channel() const;

  struct Impl;  // private to follower.cc: only Start() can make one
  explicit Follower(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Where a reader keeps a channel's state under `dir`: dir/CHANNEL.
std::string StatePath(const std::string& dir, const ChannelId& channel);
// The default state directory: /var/lib/lcfs/channels for root, else
// $XDG_STATE_HOME/lcfs/channels or ~/.local/state/lcfs/channels.
std::string DefaultStateDirectory();
// Creates `dir` and its missing parents (mode 0755).
Status MakeDirectories(const std::string& dir);

}  // namespace lcfs::channel
