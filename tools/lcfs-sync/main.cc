// lcfs-sync HASH DEST: make DEST a copy of the tree published as HASH,
// fetching only what differs from what DEST already holds.
// lcfs-sync CHANNEL DEST: the same for the latest root signed on CHANNEL.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli.h"
#include "lcfs/byte_size.h"
#include "lcfs/channel/follower.h"
#include "lcfs/hash.h"
#include "lcfs/malloc_policy.h"
#include "lcfs/metrics/engine_metrics.h"
#include "lcfs/share/units.h"
#include "lcfs/sync/network_object_source.h"
#include "lcfs/sync/tree_sync.h"
#include "progress_bar.h"

namespace {

using namespace lcfs;

// Exit codes (also in --help and docs/lcfs-sync.1): cli::kExitOk (0),
// cli::kExitError (1), cli::kExitUsage (2), and:
using cli::kExitError;
using cli::kExitOk;
constexpr int kExitTimeout = 3;  // no exporter answered in time (or it went away)
constexpr int kExitInterrupted = 4;

constexpr const char* kUsage =
    "usage: lcfs-sync [OPTIONS] HASH DEST\n"
    "       lcfs-sync [OPTIONS] CHANNEL DEST\n"
    "\n"
    "Makes the directory DEST a copy of the tree an lcfs exporter on this link\n"
    "publishes as HASH (the root HASH lcfs-export prints), receiving only the\n"
    "chunks that differ from what DEST already holds. Every byte is verified.\n"
    "Given a CHANNEL (lcfs-keygen), it waits for the channel's latest signed\n"
    "record (lcfs-export --sign) and syncs its root.\n"
    "\n"
    "options:\n"
    "  -i, --iface IF       receive on interface IF (name or index; default: all\n"
    "                       multicast-capable interfaces)\n"
    "  -s, --source ADDR    accept data only from the exporter at ADDR (repeatable;\n"
    "                       an RFC 3678 INCLUDE source filter)\n"
    "  -t, --timeout D      give up on an object after D without progress (default\n"
    "                       10s; durations: 250ms, 10 or 10s, 2m, 1h; a week at most)\n"
    "  -d, --delete         remove local files and directories HASH does not have\n"
    "  -w, --window N       objects fetched at once (default 64)\n"
    "  -p, --port PORT      UDP port of the lcfs groups (default 7707)\n"
    "  -q, --quiet          no progress bar and no summary\n"
    "      --wait D         CHANNEL: wait D for a record (default 30s)\n"
    "      --follow         CHANNEL: keep following, syncing each new root\n"
    "      --state DIR      CHANNEL: remember the last record in DIR (default\n"
    "                       /var/lib/lcfs/channels, or ~/.local/state/lcfs/channels)\n"
    "  -h, --help           this help\n"
    "  -V, --version        print the version\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal; a summary goes to\n"
    "stdout at the end.\n"
    "\n"
    "exit status:\n"
    "  0  DEST is a verified copy of HASH\n"
    "  1  error (message on stderr)\n"
    "  2  usage error (bad option, malformed HASH)\n"
    "  3  timeout: no exporter sent an object (or no valid CHANNEL record) in\n"
    "     time (files not yet complete are left as they were)\n"
    "  4  interrupted (SIGINT/SIGTERM); files not yet complete are left as they were\n";

std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel.store(true); }

// A positive duration of a week at most (share::ParseDuration: "10" and
// "0.5" are seconds, "250ms" and "2m" say their unit) into *out.
Status ParseTimeout(const std::string& option, const char* text, std::chrono::milliseconds* out) {
  auto d = share::ParseDuration(text);
  if (!d.ok()) return d.status().WithContext(option);
  if (d->count() <= 0)
    return Status::Error(EINVAL, option + " " + text + ": not a positive duration");
  *out = *d;
  return Status::Ok();
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char buf[32];
  snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (static_cast<double>(part) / whole - 1.0));
  return buf;
}

// Syncs DEST to `root` and prints the summary; returns the exit code.
int SyncOnce(sync::NetworkObjectSource& source, const Hash& root, const std::string& dest,
             const sync::SyncOptions& options, bool quiet, tools::ProgressBar& bar) {
  const auto start = std::chrono::steady_clock::now();
  sync::SyncStats stats;
  auto result = sync::SyncTree(source, root, dest, options, &stats);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.Clear();
  const sync::FetcherStats fs = source.fetcher().stats();

  if (!quiet) {
    const double rate = secs > 0 ? static_cast<double>(stats.bytes_received) / secs : 0;
    printf("received %s (%llu bytes) in %.2f s, %s/s\n",
           FormatByteSize(stats.bytes_received).c_str(),
           static_cast<unsigned long long>(stats.bytes_received), secs,
           FormatByteSize(static_cast<uint64_t>(rate)).c_str());
    printf("reused from the local copy: %s (%llu bytes)\n",
           FormatByteSize(stats.bytes_reused).c_str(),
           static_cast<unsigned long long>(stats.bytes_reused));
    printf("symbols: %llu received, %llu needed (%s), %llu after completion\n",
           static_cast<unsigned long long>(fs.symbols),
           static_cast<unsigned long long>(fs.symbols_needed),
           Percent(fs.symbols, fs.symbols_needed).c_str(),
           static_cast<unsigned long long>(fs.late_symbols));
    printf(
        "garbage: %llu symbols discarded (%llu failed verification), %llu packets refused, "
        "%llu malformed\n",
        static_cast<unsigned long long>(fs.discarded_symbols),
        static_cast<unsigned long long>(fs.verify_failures),
        static_cast<unsigned long long>(fs.rejected_packets),
        static_cast<unsigned long long>(fs.packets.dropped_total() -
                                        fs.packets[net::PacketDrop::kForeignObject] -
                                        fs.packets[net::PacketDrop::kWrongKind]));
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    printf(
        "hostile: %llu packets of a wrong OTI, %llu found no decoder, %llu decoders evicted, "
        "%llu conflicting symbols, %llu decodes retried (%llu recovered); decoder memory peak "
        "%llu bytes; peak resident %llu bytes\n",
        static_cast<unsigned long long>(fs.wrong_oti_packets),
        static_cast<unsigned long long>(fs.no_decoder_packets),
        static_cast<unsigned long long>(fs.evicted_decoders),
        static_cast<unsigned long long>(fs.conflicting_symbols),
        static_cast<unsigned long long>(fs.retried_decodes),
        static_cast<unsigned long long>(fs.recovered_decodes),
        static_cast<unsigned long long>(fs.decoder_memory_peak),
        static_cast<unsigned long long>(usage.ru_maxrss) * 1024);
    printf("files: %llu written, %llu unchanged; %llu directories, %llu symlinks, %llu deleted\n",
           static_cast<unsigned long long>(stats.files_written),
           static_cast<unsigned long long>(stats.files_unchanged),
           static_cast<unsigned long long>(stats.directories),
           static_cast<unsigned long long>(stats.symlinks),
           static_cast<unsigned long long>(stats.deleted));
    // The figures a mount's metrics endpoint serves, under the same names
    // (counters since the start, as on an endpoint).
    metrics::Scrape figures;
    metrics::AddReceiverMetrics("lcfs_sync", fs, figures);
    printf("%s", figures.ToText(/*skip_zero=*/true).c_str());
    fflush(stdout);
  }
  if (!result.ok()) {
    fprintf(stderr, "lcfs-sync: %s\n", result.status().ToString().c_str());
    if (g_cancel.load()) return kExitInterrupted;
    return result.status().code() == ETIMEDOUT ? kExitTimeout : kExitError;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  lcfs::ApplyMallocPolicy();
  sync::NetworkSourceOptions net_options;
  sync::SyncOptions options;
  bool quiet = false;
  auto channel_wait = std::chrono::milliseconds(30'000);
  bool follow = false;
  std::string state_dir = channel::DefaultStateDirectory();
  cli::Parser p("lcfs-sync", kUsage);
  p.Value('i', "iface", &net_options.iface);
  p.Value('s', "source", [&](const char* v) -> Status {
    std::string text = v;
    if (auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);  // zone
    auto addr = net::Ipv6Address::Parse(text);
    if (!addr.ok() || addr->IsMulticast() || addr->IsUnspecified())
      return Status::Error(EINVAL, std::string("--source ") + v + ": not an IPv6 unicast address");
    net_options.sources.push_back(*addr);
    return Status::Ok();
  });
  p.Value('t', "timeout",
          [&](const char* v) { return ParseTimeout("--timeout", v, &options.timeout); });
  p.Flag('d', "delete", &options.delete_extra);
  p.Value('w', "window", [&](const char* v) -> Status {
    auto w = cli::ParseUnsigned(v, 1, 1024, "--window");
    if (!w.ok())
      return Status::Error(EINVAL, std::string("--window ") + v + ": not a number from 1 to 1024");
    options.window = static_cast<unsigned>(*w);
    net_options.window = static_cast<size_t>(*w);
    return Status::Ok();
  });
  p.Value('p', "port", [&](const char* v) -> Status {
    auto port = cli::ParseUnsigned(v, 1, 65535, "--port");
    if (!port.ok()) return Status::Error(EINVAL, std::string("--port ") + v + ": not a UDP port");
    net_options.port = static_cast<uint16_t>(*port);
    return Status::Ok();
  });
  p.Flag('q', "quiet", &quiet);
  p.Value(0, "wait", [&](const char* v) { return ParseTimeout("--wait", v, &channel_wait); });
  p.Flag(0, "follow", &follow);
  p.Value(0, "state", &state_dir);
  if (auto exit = p.Parse(argc, argv)) return *exit;
  const std::vector<std::string>& args = p.positional();
  if (args.size() != 2) return p.UsageError("expected HASH (or CHANNEL) and DEST");
  std::optional<channel::ChannelId> chan;
  Result<Hash> root = Hash();
  if (channel::ChannelId::LooksLikeName(args[0])) {
    auto c = channel::ChannelId::Parse(args[0]);
    if (!c.ok()) return p.UsageError("CHANNEL \"" + args[0] + "\": " + c.status().message());
    chan = *c;
  } else {
    if (follow) return p.UsageError("--follow needs a CHANNEL");
    std::string hex = args[0];  // accept upper case too: the canonical form is lower
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    root = Hash::FromHex(hex);
    if (!root.ok()) {
      return p.UsageError("HASH \"" + args[0] +
                          "\" is not a root hash: " + root.status().message());
    }
  }
  const std::string dest = args[1];
  if (dest.empty()) return p.UsageError("DEST is empty");

  net_options.notice = [](const std::string& m) { fprintf(stderr, "lcfs-sync: %s\n", m.c_str()); };
  auto source = sync::NetworkObjectSource::Create(net_options);
  if (!source.ok()) {
    fprintf(stderr, "lcfs-sync: %s\n", source.status().ToString().c_str());
    return kExitError;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  options.cancel = &g_cancel;

  tools::ProgressBar bar(!quiet && isatty(STDERR_FILENO));
  options.progress = [&bar](const sync::SyncProgress& p) { bar.Update(p); };

  std::unique_ptr<channel::Follower> follower;
  std::optional<uint64_t> sequence;  // of the record last synced
  if (chan) {
    channel::FollowerOptions fo;
    fo.iface = net_options.iface;
    fo.scheme.port = net_options.port;
    fo.state_dir = state_dir;
    auto f = channel::Follower::Start(*chan, fo);
    if (!f.ok()) {
      fprintf(stderr, "lcfs-sync: %s\n", f.status().ToString().c_str());
      return kExitError;
    }
    follower = std::move(*f);
  }
  for (;;) {
    if (follower) {
      // The first record waits --wait; --follow then waits for ever.
      const auto deadline = sequence ? std::chrono::steady_clock::time_point::max()
                                     : std::chrono::steady_clock::now() + channel_wait;
      auto record = follower->WaitNewer(sequence, deadline, &g_cancel);
      if (!record.ok()) {
        fprintf(stderr, "lcfs-sync: %s\n", record.status().ToString().c_str());
        return g_cancel.load() ? kExitInterrupted : kExitTimeout;
      }
      root = record->root;
      sequence = record->sequence;
      if (!quiet)
        printf("root %s, sequence %llu\n", root->ToHex().c_str(),
               static_cast<unsigned long long>(*sequence));
      fflush(stdout);
    }
    const int rc = SyncOnce(**source, *root, dest, options, quiet, bar);
    if (!follow || rc == kExitInterrupted || g_cancel.load()) return rc;
  }
}
