// lcfs: mount a published lcfs tree read-only with FUSE.
//
//   lcfs HASH|CHANNEL MOUNTPOINT [-f] [-d] [-o OPTIONS]
//   mount -t fuse.lcfs HASH|CHANNEL MOUNTPOINT -o OPTIONS      (via mount.fuse3)
//
// A CHANNEL mount waits for the publisher's first valid signed record,
// mounts the root it names, and follows newer ones (ChannelFollow).
//
// Without -f the program daemonizes, but only once the mount is complete:
// the parent waits for the child to report that the root directory was
// fetched and the filesystem mounted (or why not), so `mount` and fstab
// processing see the real outcome in the exit status.
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "channel_follow.h"
#include "filesystem.h"
#include "fuse_mount.h"
#include "lcfs/cache/chunk_cache.h"
#include "lcfs/channel/channel.h"
#include "lcfs/channel/follower.h"
#include "lcfs/hash.h"
#include "lcfs/malloc_policy.h"
#include "mount_metrics.h"
#include "mount_options.h"
#include "object_fetcher.h"
#include "object_source_factory.h"

namespace {

using lcfs::Status;

// The write end of the pipe to the waiting parent (-1 in the foreground).
int g_ready_fd = -1;

void ReportToParent(bool mounted) {
  if (g_ready_fd < 0) return;
  const char byte = mounted ? 0 : 1;
  (void)!::write(g_ready_fd, &byte, 1);
  ::close(g_ready_fd);
  g_ready_fd = -1;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "lcfs: %s\n", message.c_str());
  ReportToParent(false);
  return 1;
}

// Forks; the parent exits with the child's verdict, the child continues.
void Daemonize() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("lcfs: pipe");
    std::exit(1);
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("lcfs: fork");
    std::exit(1);
  }
  if (pid > 0) {
    ::close(fds[1]);
    char byte = 1;
    ssize_t n;
    do {
      n = ::read(fds[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    // No byte at all means the child died before reporting.
    std::exit(n == 1 && byte == 0 ? 0 : 1);
  }
  ::close(fds[0]);
  g_ready_fd = fds[1];
  ::setsid();
}

void LogToSyslog(enum fuse_log_level level, const char* fmt, va_list ap) {
  vsyslog(static_cast<int>(level), fmt, ap);
}

void DetachStdio() {
  const int null = ::open("/dev/null", O_RDWR);
  if (null < 0) return;
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
  if (null > 2) ::close(null);
  (void)!::chdir("/");
}

}  // namespace

int main(int argc, char** argv) {
  lcfs::ApplyMallocPolicy();
  std::vector<std::string> args(argv, argv + argc);
  auto cl = lcfs::fs::ParseCommandLine(args);
  if (!cl.ok()) {
    std::fprintf(stderr, "lcfs: %s\n", cl.status().message().c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(lcfs::fs::UsageText("lcfs").c_str(), stdout);
    return 0;
  }
  if (cl->version) {
    std::printf("lcfs %s (libfuse %s)\n", LCFS_VERSION, fuse_pkgversion());
    return 0;
  }
  const lcfs::fs::MountOptions& opts = cl->options;
  // HASH or CHANNEL, told apart by their shape (a CHANNEL is never hex).
  std::optional<lcfs::channel::ChannelId> channel;
  lcfs::Result<lcfs::Hash> root = lcfs::Status::Error(EINVAL, "no root yet");
  if (lcfs::channel::ChannelId::LooksLikeName(cl->hash)) {
    auto id = lcfs::channel::ChannelId::Parse(cl->hash);
    if (!id.ok()) {
      std::fprintf(stderr, "lcfs: bad CHANNEL '%s': %s\n", cl->hash.c_str(),
                   id.status().message().c_str());
      return 2;
    }
    channel = *id;
    if (!opts.pin.empty()) root = lcfs::Hash::FromHex(opts.pin);
  } else {
    root = lcfs::Hash::FromHex(cl->hash);
    if (!root.ok()) {
      std::fprintf(stderr, "lcfs: bad HASH '%s': %s\n", cl->hash.c_str(),
                   root.status().message().c_str());
      return 2;
    }
    if (!opts.pin.empty()) {
      std::fprintf(stderr, "lcfs: pin= is for CHANNEL mounts; a HASH mount is pinned already\n");
      return 2;
    }
  }
  // Absolute, since the daemon changes to "/" and unmounts by this path.
  char resolved[PATH_MAX];
  if (!::realpath(cl->mountpoint.c_str(), resolved)) {
    std::fprintf(stderr, "lcfs: mount point %s: %s\n", cl->mountpoint.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string mountpoint = resolved;

  // Before any thread exists: fork() keeps only the calling thread.
  if (!cl->foreground) Daemonize();

  lcfs::fs::ObjectSourceInfo info;
  auto source = lcfs::fs::MakeObjectSource(opts, &info);
  if (!source.ok()) return Fail(source.status().message());
  const std::string cache_dir =
      opts.cache_dir.empty() ? lcfs::cache::DefaultCacheDir() : opts.cache_dir;
  auto cache = lcfs::cache::ChunkCache::Open(cache_dir, opts.cache_size);
  if (!cache.ok()) return Fail(cache.status().message());
  if (const uint64_t n = (*cache)->stats().tightened; n > 0)
    std::fprintf(stderr,
                 "lcfs: cache %s was open to other users: tightened %llu paths to 0700/0600\n",
                 cache_dir.c_str(), static_cast<unsigned long long>(n));

  // A channel mount starts at the newest root the publisher announces; the
  // last accepted record is kept beside the cache, so a remount never
  // accepts an older one (docs/protocol.md section 11.4).
  std::unique_ptr<lcfs::channel::Follower> follower;
  std::optional<uint64_t> revision;
  if (channel && opts.pin.empty()) {
    lcfs::channel::FollowerOptions fo;
    fo.iface = opts.iface;
    if (opts.port != 0) fo.scheme.port = opts.port;
    fo.state_dir = cache_dir + "/channels";
    auto started = lcfs::channel::Follower::Start(*channel, fo);
    if (!started.ok()) return Fail("channel " + cl->hash + ": " + started.status().message());
    follower = std::move(*started);
    auto record =
        follower->WaitNewer(std::nullopt, std::chrono::steady_clock::now() + opts.timeout);
    if (!record.ok()) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", opts.timeout.count() / 1000.0);
      return Fail("channel " + cl->hash + ": no valid announcement within timeout=" + seconds +
                  " s (" + record.status().message() + ")");
    }
    root = record->root;
    revision = record->sequence;
  }

  lcfs::fs::FetchPolicy policy;
  policy.timeout = opts.timeout;
  policy.hard = opts.hard;
  policy.buffers = info.buffers;
  // metrics=: fetches timed into a histogram, figures read at each scrape.
  lcfs::metrics::MetricsServer metrics;
  std::optional<lcfs::fs::TimedObjectSource> timed;
  if (!opts.metrics.empty())
    timed.emplace(**source, metrics.AddHistogram("lcfs_mount_fetch_seconds",
                                                 "Time to fetch an object from the source",
                                                 lcfs::fs::FetchSecondsBuckets()));
  lcfs::fs::ObjectFetcher fetcher(timed ? *timed : **source, **cache, policy);
  lcfs::fs::FilesystemOptions fs_options;
  fs_options.prefetch = opts.prefetch;
  fs_options.max_prefetch_chunks = opts.readahead_chunks;
  fs_options.prefetch_files = opts.prefetch_files;
  lcfs::fs::Filesystem fs(*root, fetcher, fs_options);
  if (Status st = fs.LoadRoot(); !st.ok()) {
    std::string message = "cannot mount " + root->ToHex() + ": " + st.message();
    if (message.find("ETIMEDOUT") != std::string::npos) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", opts.timeout.count() / 1000.0);
      message += " (no answer within timeout=" + std::string(seconds) + " s)";
    }
    return Fail(message);
  }

  if (channel) fs.SetVersion(cl->hash, revision);
  lcfs::fs::FuseMountOptions mopts;
  mopts.mountpoint = mountpoint;
  mopts.fuse_options = opts.fuse_options;
  mopts.fsname = channel ? cl->hash : root->ToHex();
  mopts.debug = cl->debug;
  auto mount = lcfs::fs::FuseMount::Mount(fs, mopts);
  if (!mount.ok()) return Fail(mount.status().message());
  if (Status st = (*mount)->InstallSignalHandlers(); !st.ok()) return Fail(st.message());
  if (cl->debug) std::fprintf(stderr, "lcfs: serving %s\n", info.description.c_str());
  // Declared after the mount: stops following before the mount goes.
  std::unique_ptr<lcfs::fs::ChannelFollow> follow;
  if (follower)
    follow = std::make_unique<lcfs::fs::ChannelFollow>(
        *follower, fs, (*mount)->session(), *revision,
        [](const std::string& line) { fuse_log(FUSE_LOG_NOTICE, "lcfs: %s\n", line.c_str()); });

  if (!opts.metrics.empty()) {
    metrics.AddCollector(
        [&fetcher, &cache = **cache, network = info.network_fetcher](lcfs::metrics::Scrape& s) {
          lcfs::fs::CollectMountMetrics(fetcher, cache, network, s);
        });
    if (Status st = metrics.Serve(opts.metrics); !st.ok())
      return Fail(st.message());  // still on stderr
  }
  if (!cl->foreground) {
    openlog("lcfs", LOG_PID, LOG_DAEMON);
    fuse_set_log_func(LogToSyslog);
    DetachStdio();
  }
  ReportToParent(true);
  // After the fork into the background (a thread would not survive it).
  lcfs::HeapTrimmer heap_trimmer;
  Status st = (*mount)->Run();
  metrics.Stop();  // no scrape may read the parts while they go
  if (!st.ok()) {
    fuse_log(FUSE_LOG_ERR, "lcfs: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
