// FuseMount: a libfuse low-level session serving a Filesystem at a mount
// point, from mount to unmount.
//
// Mount() creates the session and mounts it (read-only, with the options
// lcfs needs); Run() serves requests on a fixed pool of threads until the
// filesystem is unmounted (umount, fusermount3 -u) or Exit() is called;
// the destructor unmounts if still mounted. Used by the `lcfs` program and,
// in-process, by the tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "filesystem.h"
#include "lcfs/status.h"

struct fuse_session;

namespace lcfs::fs {

struct FuseMountOptions {
  std::string mountpoint;
  // Extra libfuse/kernel options (allow_other, nodev, ...), see MountOptions.
  std::vector<std::string> fuse_options;
  std::string fsname = "lcfs";  // shown as the source in /proc/mounts
  bool debug = false;           // libfuse request tracing
  // Request threads, all started by Run() and kept to its end. A pool that
  // grew on demand (libfuse's loop) kept every thread a burst had needed,
  // each with its stack and a 1 MiB request buffer, so the mount's resident
  // memory climbed for as long as ever larger bursts came (tests/soak:
  // 12 -> 22 threads, RSS +17-19% after the first minute); starting them
  // all at once puts that cost at the start, and no burst waits for a
  // thread to be created.
  unsigned max_threads = 16;
  // Raise the mount's readahead (sysfs read_ahead_kb) to this many KiB once
  // mounted, so sequential reads arrive as large requests (the kernel's
  // default is 128 KiB); 0 leaves it. One chunk: more only makes the kernel
  // read far ahead of a short reader (head -c), which our own prefetch then
  // amplifies.
  unsigned readahead_kb = 1024;
};

class FuseMount {
 public:
  static Result<std::unique_ptr<FuseMount>> Mount(Filesystem& fs, const FuseMountOptions& opts);
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Serves until unmounted or Exit(). Returns an error only if the loop
  // failed (not on a normal unmount).
  Status Run();
  // Makes Run() return: marks the session exited and detaches the mount.
  void Exit();
  // Installs SIGINT/SIGTERM/SIGHUP handlers that end Run() (the program).
  Status InstallSignalHandlers();

  fuse_session* session() { return session_; }
  const std::string& mountpoint() const { return opts_.mountpoint; }

  explicit FuseMount(const FuseMountOptions& opts) : opts_(opts) {}

 private:
  void TuneReadahead();

  FuseMountOptions opts_;
  fuse_session* session_ = nullptr;
  bool signals_ = false;
};

}  // namespace lcfs::fs
