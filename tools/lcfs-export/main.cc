// lcfs-export DIR: index DIR, print its root HASH, serve it until stopped.
//
// The first line of stdout is the root HASH (scripts capture it); every
// re-index that changes the tree prints the new HASH as a further line. All
// other output goes to stderr (or syslog). Runs in the foreground, as
// systemd expects; see docs/lcfs-export.8.
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "cache_pruner.h"
#include "cli.h"
#include "export_options.h"
#include "lcfs/channel/announcer.h"
#include "lcfs/channel/channel.h"
#include "lcfs/index/indexer.h"
#include "lcfs/malloc_policy.h"
#include "lcfs/metrics/engine_metrics.h"
#include "lcfs/metrics/metrics_server.h"
#include "lcfs/replica/replicator.h"
#include "lcfs/share/share.h"
#include "lcfs/share/units.h"
#include "lcfs/unique_fd.h"
#include "logger.h"
#include "service_notifier.h"
#include "tree_watcher.h"

namespace lcfs::exporter {
namespace {

using Clock = std::chrono::steady_clock;

using cli::kExitError;
using cli::kExitOk;

// DIR must exist, be a directory and be readable: say which it is not.
Status CheckDirectory(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, dir);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, dir + ": not a directory");
  if (access(dir.c_str(), R_OK | X_OK) != 0) return Status::FromErrno(errno, dir + ": cannot read");
  return Status::Ok();
}

Status DropPrivileges(const std::string& user) {
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) return Status::Error(errno ? errno : ENOENT, "--user: no user \"" + user + "\"");
  if (initgroups(pw->pw_name, pw->pw_gid) != 0)
    return Status::FromErrno(errno, "--user: initgroups");
  if (setgid(pw->pw_gid) != 0) return Status::FromErrno(errno, "--user: setgid");
  if (setuid(pw->pw_uid) != 0) return Status::FromErrno(errno, "--user: setuid");
  if (pw->pw_uid != 0 && setuid(0) == 0)
    return Status::Error(EPERM, "--user: could still regain root after setuid");
  return Status::Ok();
}

class Exporter {
 public:
  Exporter(const ExportOptions& options, Logger& log) : options_(options), log_(log) {}

  int Run();

 private:
  Result<index::IndexResult> Index();
  void Reindex(bool force_publish);
  void PrintStats() const;
  // Default index cache only: records DIR beside it and removes the caches
  // of directories gone or unused for long (cache_pruner.h).
  void PruneIndexCaches();
  void PrintHash(const Hash& root) const {
    std::printf("%s\n", root.ToHex().c_str());
    std::fflush(stdout);
  }

  const ExportOptions& options_;
  Logger& log_;
  index::IndexOptions index_options_;
  share::ShareStats stats_;
  std::optional<metrics::MetricsServer> metrics_;  // reads stats_: declared after it
  // With --sign. Declared before engine_, so that the engine (whose thread
  // calls on_unknown_join) stops before the announcer goes.
  std::unique_ptr<channel::Announcer> announcer_;
  std::atomic<channel::Announcer*> announce_on_join_{nullptr};
  net::Ipv6Address channel_group_;  // written before announce_on_join_ is set
  share::ShareHandle engine_;
  // Declared after engine_: stopped first (its goodbye lets a standby replica
  // take over at once) and never calls into a stopped engine.
  std::unique_ptr<replica::Replicator> replicator_;
  Hash root_;
  UniqueFd stale_fd_;         // eventfd: the engine found a changed file
  ServiceNotifier notifier_;  // systemd: READY=1, STATUS=, WATCHDOG=1
};

Result<index::IndexResult> Exporter::Index() {
  const auto start = Clock::now();
  auto result = index::IndexPath(options_.dir, index_options_);
  if (!result.ok()) return result.status();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  const index::IndexStats& s = result->stats;
  log_.Info("indexed " + options_.dir + ": " + std::to_string(s.files) + " files, " +
            std::to_string(s.dirs) + " directories, " + std::to_string(s.symlinks) + " symlinks, " +
            std::to_string(s.bytes) + " bytes, " + std::to_string(s.skipped) + " skipped, " +
            std::to_string(s.files - s.reused) + " files read (" + std::to_string(s.reused) +
            " unchanged since the index cache), in " + std::to_string(ms) + " ms");
  return result;
}

void Exporter::Reindex(bool force_publish) {
  auto result = Index();
  if (!result.ok()) {
    log_.Error("re-index failed, still serving " + root_.ToHex() + ": " +
               result.status().ToString());
    return;
  }
  if (result->root == root_ && !force_publish) {
    log_.Debug("re-index: root unchanged");
    return;
  }
  Status s = engine_->Serve(*result);
  if (!s.ok()) {
    log_.Error("publish failed, still serving " + root_.ToHex() + ": " + s.ToString());
    return;
  }
  if (result->root != root_) {
    root_ = result->root;
    if (replicator_) replicator_->SetRoot(root_);
    if (announcer_) {  // signed before it is printed: whoever reads the HASH can follow it
      Status a = announcer_->Publish(root_);
      if (!a.ok()) log_.Error("--sign: cannot sign the new root: " + a.ToString());
    }
    PrintHash(root_);
    notifier_.Status("serving " + root_.ToHex());
    log_.Info("new root " + root_.ToHex() + "; the previous one stays served for " +
              std::to_string(options_.grace.count()) + " ms");
  }
}

void Exporter::PruneIndexCaches() {
  if (!options_.use_index_cache || !options_.index_cache.empty()) return;
  if (Status s = RecordIndexCacheOwner(index_options_.cache_path, options_.dir); !s.ok())
    log_.Info("index cache: " + s.ToString());
  auto pruned = exporter::PruneIndexCaches(index_options_.cache_path);
  if (!pruned.ok()) {
    log_.Info("index caches: " + pruned.status().ToString());
  } else if (pruned->removed > 0) {
    log_.Info("index caches: removed " + std::to_string(pruned->removed) +
              " of directories gone or unused for 30 days, " + std::to_string(pruned->kept) +
              " kept");
  }
}

void Exporter::PrintStats() const {
  auto g = [](const std::atomic<uint64_t>& v) { return std::to_string(v.load()); };
  log_.Error("statistics: root " + root_.ToHex() + ", published objects " +
             g(stats_.published_objects) + ", objects served " + g(stats_.objects_served) +
             ", active objects " + g(stats_.active_objects) + ", active groups " +
             g(stats_.active_groups) + ", symbols sent " + g(stats_.symbols_sent) +
             ", bytes sent " + g(stats_.bytes_sent) + ", joins " + g(stats_.joins) + ", leaves " +
             g(stats_.leaves) + ", unknown groups " + g(stats_.unknown_groups) +
             ", stale objects " + g(stats_.stale_objects) + ", encoder bytes " +
             g(stats_.encoder_bytes) + ", send errors " + g(stats_.send_errors) + ", holds " +
             g(stats_.holds) + ", repair round symbols " + g(stats_.round_symbols) +
             ", newcomer symbols " + g(stats_.newcomer_symbols) + ", start delays " +
             g(stats_.start_delays) + ", tracked listeners " + g(stats_.tracked_hosts) +
             ", fast leaves " + g(stats_.fast_leaves) + ", refused leaves " +
             g(stats_.refused_leaves) + ", listeners over the caps " + g(stats_.hosts_refused) +
             ", groups on RFC timers " + g(stats_.rfc_fallbacks) +
             ", reports for unserved groups " + g(stats_.ignored_records) + ", groups refused " +
             g(stats_.records_refused) + ", querier changes " + g(stats_.querier_changes));
  if (replicator_) {
    const replica::ReplicaStats& r = replicator_->stats();
    log_.Error(std::string("replicas: ") + (replicator_->active() ? "active" : "standby") +
               ", live replicas " + g(r.live_peers) + ", hellos sent " + g(r.hellos_sent) +
               ", hellos received " + g(r.hellos_received) + ", malformed " + g(r.malformed) +
               ", refused (not a --peer) " + g(r.refused) + ", took over " + g(r.takeovers) +
               ", stood by " + g(r.standbys));
  }
}

int Exporter::Run() {
  // Signals are taken through a signalfd: block them before any thread
  // starts (the indexer's and the engine's inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  stale_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!signal_fd || !stale_fd_) {
    log_.Error(std::string("signalfd/eventfd: ") + std::strerror(errno));
    return kExitError;
  }

  Status dir_ok = CheckDirectory(options_.dir);
  if (!dir_ok.ok()) {
    log_.Error(dir_ok.message());
    return kExitError;
  }

  // Before indexing, which may take long: a busy port fails at once.
  if (!options_.metrics.empty()) {
    metrics_.emplace();
    metrics_->AddCollector([this](metrics::Scrape& s) { metrics::AddExportMetrics(stats_, s); });
    if (Status s = metrics_->Serve(options_.metrics); !s.ok()) {
      log_.Error("--metrics: " + s.message());
      return kExitError;
    }
    log_.Info("metrics on http://" + options_.metrics + "/metrics");
  }

  share::ShareOptions share_options;
  for (const std::string& name : options_.interfaces) {
    const unsigned ifindex = if_nametoindex(name.c_str());
    if (ifindex == 0) {
      log_.Error("--iface " + name + ": no such interface");
      return kExitError;
    }
    share_options.interfaces.push_back(static_cast<int>(ifindex));
  }
  if (options_.rate_bps) share_options.rate_bps = options_.rate_bps;
  if (options_.port) share_options.scheme.port = options_.port;
  share_options.hop_limit = options_.hop_limit;
  if (options_.mld_query_interval)
    share_options.mld_timers = net::MldTimers::Fast(*options_.mld_query_interval);
  share_options.grace = options_.grace;
  share_options.on_stale = [fd = stale_fd_.get()](const Hash&, const Status&) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(fd, &one, sizeof one);
  };
  if (log_.enabled(LogLevel::kDebug))
    share_options.log = [this](const std::string& line) { log_.Debug(line); };
  share_options.notice = [this](const std::string& line) { log_.Info(line); };
  // With replicas, nothing is sent before the election says so.
  share_options.standby = options_.replicas;
  // A reader joining the channel's group gets the current record at once.
  share_options.on_unknown_join = [this](const net::Ipv6Address& group, int) {
    channel::Announcer* a = announce_on_join_.load(std::memory_order_acquire);
    if (a != nullptr && group == channel_group_) a->AnnounceNow();
  };

  if (options_.chunk_size) index_options_.chunk_size = options_.chunk_size;
  index_options_.warn = [this](const std::string& line) { log_.Error("warning: " + line); };
  if (options_.use_index_cache) {
    index_options_.cache_path = options_.index_cache.empty()
                                    ? index::DefaultIndexCachePath(options_.dir)
                                    : options_.index_cache;
    index_options_.note = [this](const std::string& line) { log_.Info(line); };
  }
  if (isatty(STDERR_FILENO) && !options_.syslog && options_.verbosity > 0) {
    index_options_.progress =
        [start = std::chrono::steady_clock::now()](const index::IndexProgress& p) {
          const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
          std::fprintf(stderr, "\r\033[Kindexing: %s",
                       index::FormatIndexProgress(p, t.count()).c_str());
        };
  }
  auto index = Index();
  if (index_options_.progress) std::fprintf(stderr, "\n");
  if (!index.ok()) {
    log_.Error("index " + options_.dir + ": " + index.status().message());
    return kExitError;
  }
  index_options_.progress = nullptr;  // re-indexing runs quietly
  root_ = index->root;
  PruneIndexCaches();

  auto engine = share::Share(
      *index, 0, &stats_, options_.loopback ? unsigned{share::kShareLoopback} : 0u, share_options);
  if (!engine.ok()) {
    log_.Error(engine.status().message());
    return kExitError;
  }
  engine_ = std::move(*engine);
  if (options_.replicas) {
    replica::ReplicaOptions r;
    r.interval = options_.replica_interval;
    r.peers = options_.peers;
    r.port = share_options.scheme.port;
    r.loopback = options_.loopback;
    r.interfaces = [this] { return engine_->interfaces(); };
    r.on_change = [this](bool active) { engine_->SetStandby(!active); };
    r.log = [this](const std::string& line) { log_.Info("replicas: " + line); };
    auto replicator = replica::Replicator::Start(root_, std::move(r));
    if (!replicator.ok()) {
      log_.Error(replicator.status().message());
      return kExitError;
    }
    replicator_ = std::move(*replicator);
  }
  if (!options_.sign_key.empty()) {  // before dropping privileges: the key is private
    channel::AnnouncerOptions a;
    a.interfaces = engine_->interfaces();
    a.scheme = share_options.scheme;
    a.loopback = options_.loopback;
    a.hop_limit = share_options.hop_limit;
    a.interval = options_.announce_interval;
    auto announcer = channel::StartAnnouncer(options_.sign_key, root_, std::move(a));
    if (!announcer.ok()) {
      log_.Error("--sign: " + announcer.status().ToString());
      return kExitError;
    }
    announcer_ = std::move(*announcer);
    channel_group_ = channel::ChannelGroup(announcer_->channel(), share_options.scheme);
    announce_on_join_.store(announcer_.get(), std::memory_order_release);
    log_.Info("announcing on channel " + announcer_->channel().ToString());
  }

  if (!options_.user.empty()) {
    Status s = DropPrivileges(options_.user);
    if (!s.ok()) {
      log_.Error(s.message());
      return kExitError;
    }
  }

  PrintHash(root_);
  std::string ifnames;
  for (int i : engine_->interfaces()) {
    char name[IF_NAMESIZE] = {};
    if_indextoname(static_cast<unsigned>(i), name);
    ifnames += std::string(ifnames.empty() ? "" : ",") + name;
  }
  log_.Info("serving " + root_.ToHex() + " on " + ifnames + " at " +
            share::FormatRate(share_options.rate_bps));
  notifier_.Ready("serving " + root_.ToHex() + " on " + ifnames + " at " +
                  share::FormatRate(share_options.rate_bps));
  if (options_.verbosity > 0 && !options_.syslog) {
    std::fprintf(stderr, "mount it on any host of the link with:\n  mount -t fuse.lcfs %s /mnt\n",
                 root_.ToHex().c_str());
  }

  std::optional<TreeWatcher> watcher;
  if (options_.watch) {
    auto w = TreeWatcher::Open(options_.dir);
    if (w.ok()) {
      watcher.emplace(std::move(*w));
      if (watcher->unwatched())
        log_.Error("warning: " + std::to_string(watcher->unwatched()) +
                   " directories cannot be watched; use SIGHUP after changing them");
    } else {
      log_.Error("warning: not watching " + options_.dir + ": " + w.status().message());
    }
  }

  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) {
    log_.Error(std::string("epoll_create1: ") + std::strerror(errno));
    return kExitError;
  }
  for (int fd : {signal_fd.get(), stale_fd_.get(), watcher ? watcher->fd() : -1}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      log_.Error(std::string("epoll_ctl: ") + std::strerror(errno));
      return kExitError;
    }
  }

  constexpr Clock::time_point kNever = Clock::time_point::max();
  Clock::time_point reindex_at = kNever;
  Clock::time_point prune_at = Clock::now() + kPruneInterval;
  bool force_publish = false;
  for (;;) {
    // The watchdog is pinged from this loop, so a stuck loop stops the pings.
    const Clock::time_point wake = std::min({reindex_at, prune_at, notifier_.watchdog_due()});
    int timeout_ms = -1;
    if (wake != kNever) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
    }
    epoll_event ready[4];
    const int n = epoll_wait(epoll_fd.get(), ready, 4, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == signal_fd.get()) {
        signalfd_siginfo info;
        while (read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
          switch (info.ssi_signo) {
            case SIGTERM:
            case SIGINT:
              log_.Info(std::string("stopping on ") + strsignal(static_cast<int>(info.ssi_signo)));
              notifier_.Stopping();
              replicator_.reset();  // goodbye first: a standby replica takes over now
              share::Unshare(std::move(engine_));
              return kExitOk;
            case SIGHUP:
              log_.Info("SIGHUP: re-indexing");
              reindex_at = Clock::now();
              break;
            case SIGUSR1:
              PrintStats();
              break;
            default:
              break;
          }
        }
      } else if (fd == stale_fd_.get()) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(fd, &count, sizeof count);
        log_.Info("a file changed behind our back: re-indexing");
        force_publish = true;  // even an unchanged root clears the refused objects
        reindex_at = Clock::now() + options_.settle;
      } else if (watcher && fd == watcher->fd()) {
        if (watcher->Drain()) reindex_at = Clock::now() + options_.settle;  // settle: restart
      }
    }
    notifier_.PingWatchdogIfDue();
    if (Clock::now() >= prune_at) {
      prune_at = Clock::now() + kPruneInterval;
      PruneIndexCaches();
    }
    if (reindex_at != kNever && Clock::now() >= reindex_at) {
      reindex_at = kNever;
      Reindex(force_publish);
      force_publish = false;
    }
  }
}

}  // namespace
}  // namespace lcfs::exporter

int main(int argc, char** argv) {
  lcfs::ApplyMallocPolicy();
  using namespace lcfs::exporter;
  ExportOptions options;
  if (auto exit = ParseExportOptions(argc, argv, &options)) return *exit;
  Logger log(options.verbosity, options.syslog);
  Exporter exporter(options, log);
  return exporter.Run();
}
