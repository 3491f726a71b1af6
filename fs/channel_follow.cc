#include "channel_follow.h"

namespace lcfs::fs {

ChannelFollow::ChannelFollow(channel::Follower& follower, Filesystem& fs, fuse_session* session,
                             uint64_t mounted_sequence, Log log, std::chrono::milliseconds retry)
    : follower_(follower),
      fs_(fs),
      session_(session),
      log_(std::move(log)),
      retry_(retry),
      sequence_(mounted_sequence),
      thread_([this] { Run(); }) {}

ChannelFollow::~ChannelFollow() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    stopped_.SignalAll();
  }
  thread_.join();
}

void ChannelFollow::Run() {
  const std::string channel = follower_.channel().ToString();
  while (!stop_) {
    // WaitNewer wakes within 100 ms of stop_ (its cancel flag); the
    // deadline only bounds each wait.
    Result<channel::Record> record = follower_.WaitNewer(
        sequence_, std::chrono::steady_clock::now() + std::chrono::seconds(60), &stop_);
    if (!record.ok()) continue;  // ETIMEDOUT: wait again; ECANCELED: stop_ is set
    Status st = fs_.SwitchRoot(record->root, session_);
    if (st.ok()) {
      sequence_ = record->sequence;
      fs_.SetVersion(channel, sequence_);
      switches_++;
      if (log_)
        log_("channel " + channel + ": now at revision " + std::to_string(sequence_) + ", root " +
             record->root.ToHex());
      continue;
    }
    if (log_)
      log_("channel " + channel + ": revision " + std::to_string(record->sequence) +
           " not mounted yet: " + st.message());
    MutexLock lock(&mu_);
    if (!stop_) stopped_.WaitFor(&mu_, retry_);
  }
}

}  // namespace lcfs::fs
