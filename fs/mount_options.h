// The command line of `lcfs HASH MOUNTPOINT [-o opts]`, as typed by a user or
// passed by mount.fuse3 (`lcfs HASH /mnt -o rw,OPTS,dev,suid`).
//
// lcfs's own options are taken out; generic mount options that mean nothing
// to a read-only FUSE filesystem (rw, defaults, _netdev, noauto, nofail,
// user, x-systemd.*, ...) are accepted and ignored; the few the kernel or
// libfuse act on (allow_other, nodev, nosuid, noexec, ...) are passed on to
// libfuse. Anything else is an error naming the option, so a typo is never
// silently ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "lcfs/status.h"

namespace lcfs::fs {

// prefetch=: what the mount fetches before it is asked (lcfs(8)).
enum class PrefetchMode {
  kNone,  // only what a request needs: no read-ahead either
  kMeta,  // + directory objects and large files' tree nodes, sequential read-ahead
  kAll,   // + the other small files of a directory when one is opened (default)
};

struct MountOptions {
  std::string iface;                 // iface=: network interface of the exporter's link
  std::vector<std::string> sources;  // source=: accepted exporter addresses (RFC 3678 INCLUDE)
  std::string cache_dir;             // cache=: empty = cache::DefaultCacheDir()
  uint64_t cache_size = 0;           // cache_size=: bytes, 0 = unlimited
  std::chrono::milliseconds timeout{30000};    // timeout=: seconds (fractions allowed)
  bool hard = false;                           // hard: retry forever instead of EIO
  uint16_t port = 0;                           // port=: 0 = the protocol's default
  std::string local_dir;                       // local=: serve from an index of this directory
  std::string pin;                             // pin=: a channel mount stays on this root
  std::string metrics;                         // metrics=: ADDR:PORT of a Prometheus endpoint
  PrefetchMode prefetch = PrefetchMode::kAll;  // prefetch=none|meta|all
  uint32_t readahead_chunks = 32;              // readahead=: largest read-ahead window, chunks
  uint32_t prefetch_files = 64;                // prefetch_files=: small files per open
  // Options for libfuse / the kernel (allow_other, nodev, ...), already vetted.
  std::vector<std::string> fuse_options;
};

struct CommandLine {
  bool help = false;
  bool version = false;
  bool foreground = false;  // -f
  bool debug = false;       // -d (implies -f)
  std::string hash;         // HASH or CHANNEL as given; validated by the caller
  std::string mountpoint;
  MountOptions options;
};

// Parses argv (argv[0] is the program name). Errors (EINVAL) name the
// offending argument or option.
Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// Applies one comma-separated -o list to `opts`.
Status ParseMountOptionList(const std::string& list, MountOptions* opts);

// The --help text.
std::string UsageText(const std::string& program);

}  // namespace lcfs::fs
