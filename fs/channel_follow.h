// ChannelFollow: keeps a channel mount on its channel's newest root.
//
// A channel mount (`lcfs CHANNEL MNT`) mounts the root of the first valid
// record it hears (docs/protocol.md section 11.4); from then on this class's
// thread waits for records with a higher sequence number and switches the
// filesystem to each new root (Filesystem::SwitchRoot: fetched and verified
// first, then new lookups see it while open files keep the old tree). When a
// new root cannot be fetched the mount stays where it is and tries again
// every `retry` while the record stands; a newer record replaces it.
//
// Thread safety: constructed and destroyed by the owning thread; the
// follow thread is the only caller of Filesystem::SwitchRoot.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "filesystem.h"
#include "lcfs/channel/follower.h"
#include "lcfs/mutex.h"

namespace lcfs::fs {

class ChannelFollow {
 public:
  using Log = std::function<void(const std::string& line)>;

  // Starts following from `mounted_sequence` (the record the mount began
  // with). `follower`, `fs` and `session` must outlive this object; `log`
  // gets one line per switch or failed attempt.
  ChannelFollow(channel::Follower& follower, Filesystem& fs, fuse_session* session,
                uint64_t mounted_sequence, Log log,
                std::chrono::milliseconds retry = std::chrono::seconds(2));
  ~ChannelFollow();  // stops and joins the thread
  ChannelFollow(const ChannelFollow&) = delete;
  ChannelFollow& operator=(const ChannelFollow&) = delete;

  // Switches done so far.
  uint64_t switches() const { return switches_.load(); }

 private:
  void Run();

  channel::Follower& follower_;
  Filesystem& fs_;
  fuse_session* const session_;
  const Log log_;
  const std::chrono::milliseconds retry_;
  uint64_t sequence_;  // of the root served now; the follow thread's own
  std::atomic<uint64_t> switches_{0};
  std::atomic<bool> stop_{false};
  Mutex mu_;
  CondVar stopped_;  // wakes a retry wait at destruction
  std::thread thread_;
};

}  // namespace lcfs::fs
