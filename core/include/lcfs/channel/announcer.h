// Announcer: the publisher's side of a channel. Signs a record for each new
// root and sends it on the channel's group (docs/protocol.md section 11.3):
// at once when a root is published, again every interval so that late
// joiners learn the current root quickly, at once when asked (a reader
// joined the group), and under a fresh signature (a new sequence number)
// once half its validity has passed, so that a record on the wire is never
// about to expire.
//
//   auto a = Announcer::Start(std::move(key), std::move(seq), root, options);
//   ...
//   (*a)->Publish(new_root);
//
// A thread does the periodic work; Publish() and AnnounceNow() may be called
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/channel/record.h"
#include "lcfs/channel/sequence_file.h"
#include "lcfs/channel/signing_key.h"
#include "lcfs/hash.h"
#include "lcfs/net/group.h"
#include "lcfs/status.h"

namespace lcfs::channel {

inline constexpr std::chrono::milliseconds kDefaultAnnounceInterval{2000};
inline constexpr uint32_t kDefaultValidity = 3600;  // seconds

struct AnnouncerOptions {
  std::vector<int> interfaces;  // ifindexes to announce on; must not be empty
  net::GroupScheme scheme;
  std::chrono::milliseconds interval = kDefaultAnnounceInterval;
  uint32_t validity = kDefaultValidity;  // seconds, > 1
  bool loopback = false;                 // also deliver to readers on this host
  int hop_limit = 1;                     // of the records (ShareOptions::hop_limit)
};

struct AnnouncerStats {
  std::atomic<uint64_t> records_signed{0};
  std::atomic<uint64_t> announcements{0};  // datagrams sent, one per interface
  std::atomic<uint64_t> bytes_sent{0};     // their UDP payload bytes
  std::atomic<uint64_t> errors{0};         // failed sends and failed re-signs
};

class Announcer {
 public:
  // Signs a first record for `root` and starts announcing it.
  static Result<std::unique_ptr<Announcer>> Start(SigningKey key, SequenceFile sequence,
                                                  const Hash& root, AnnouncerOptions options);
  ~Announcer();  // stops the thread
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Signs a record for `root` under a new sequence number and announces it
  // now. On error (the sequence file cannot be written) the previous record
  // stays current.
  Status Publish(const Hash& root);
  // Sends the current record now (a reader just joined).
  void AnnounceNow();

  Record current() const;
  const ChannelId& channel() const;
  const AnnouncerStats& stats() const;

  struct Impl;  // private to announcer.cc: only Start() can make one
  explicit Announcer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Loads the key in `keyfile`, opens its sequence file `keyfile`.seq (created
// if missing) and starts announcing `root`. Both files are opened here, so
// the caller may drop privileges afterwards.
Result<std::unique_ptr<Announcer>> StartAnnouncer(const std::string& keyfile, const Hash& root,
                                                  AnnouncerOptions options);

}  // namespace lcfs::channel
