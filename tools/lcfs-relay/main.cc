// lcfs-relay: serves the lcfs groups of an upstream link to readers on other
// links (docs/lcfs-relay.8, docs/protocol.md "Relays").
#include <net/if.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "lcfs/byte_size.h"
#include "lcfs/malloc_policy.h"
#include "lcfs/share/units.h"
#include "lcfs/unique_fd.h"
#include "relay.h"

namespace {

using namespace lcfs;
constexpr int kExitError = 1;

constexpr char kUsage[] =
    "Usage: lcfs-relay --upstream IF --downstream IF [--downstream IF]... [OPTION]...\n"
    "Relay lcfs between links: on each downstream link, snoop MLD and act as MLD\n"
    "querier as lcfs-export does; join upstream each lcfs group that has listeners\n"
    "downstream, and pass every lcfs packet received upstream on it to the\n"
    "downstream links that want it, at once, with hop limit 1 from this host's\n"
    "link-local address. With --cache, also decode, verify and cache each object\n"
    "passed on, and serve the groups of cached objects from the cache. Readers\n"
    "behind a relay that filter sources must name the relay's downstream address,\n"
    "not the exporter's.\n"
    "\n"
    "  -u, --upstream IF          the link towards the exporter (name or index)\n"
    "  -d, --downstream IF        a link with readers (repeatable)\n"
    "  -r, --rate R               cap on what is sent on each downstream link, in\n"
    "                             bits/s of frames (100M, 1G; default: no cap)\n"
    "  -c, --cache DIR            cache verified objects in DIR (the mount's format;\n"
    "                             may be a mount's cache) and serve from it\n"
    "      --serve-rate R         what objects served from the cache send in all,\n"
    "                             bits/s of frames (default: --rate, else 100M,\n"
    "                             as lcfs-export; give the exporter's --rate)\n"
    "  -s, --cache-size SIZE      evict least recently used objects above SIZE\n"
    "                             (20G, 512M; default: no bound)\n"
    "  -p, --port PORT            UDP port of the lcfs groups (default 7707)\n"
    "      --no-election          serve even when another relay serves the same\n"
    "                             downstream links (default: the relay with the\n"
    "                             lowest address serves, the others stand by)\n"
    "      --mld-query-interval D MLD Query Interval downstream, other MLD timers\n"
    "                             scaled from it (default 125s)\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n"
    "\n"
    "Runs until SIGINT or SIGTERM, then prints its counters on stderr.\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 error, 2 usage error.\n";

Result<int> InterfaceIndex(const char* text) {
  if (unsigned i = if_nametoindex(text); i != 0) return static_cast<int>(i);
  auto n = cli::ParseUnsigned(text, 1, 1u << 30, "interface");
  char name[IF_NAMESIZE] = {};
  if (n.ok() && if_indextoname(static_cast<unsigned>(*n), name)) return static_cast<int>(*n);
  return Status::Error(ENODEV, std::string("no interface '") + text + "'");
}

void Log(const std::string& line) { std::fprintf(stderr, "lcfs-relay: %s\n", line.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  // Decoders, encoders and cached objects are chunk-sized buffers made and
  // freed per object: kept in the heap, not a fresh zeroed mapping each.
  lcfs::ApplyMallocPolicy();
  relay::RelayOptions options;
  std::vector<std::string> names;
  cli::Parser p("lcfs-relay", kUsage);
  p.Value('u', "upstream", [&](const char* v) -> Status {
    auto i = InterfaceIndex(v);
    if (!i.ok()) return i.status();
    options.upstream = *i;
    return Status::Ok();
  });
  p.Value('d', "downstream", [&](const char* v) -> Status {
    auto i = InterfaceIndex(v);
    if (!i.ok()) return i.status();
    options.downstream.push_back(*i);
    names.push_back(v);
    return Status::Ok();
  });
  p.Value('r', "rate", [&](const char* v) -> Status {
    auto r = share::ParseRate(v);
    if (!r.ok()) return r.status();
    options.rate = *r;
    return Status::Ok();
  });
  p.Value('c', "cache", [&](const char* v) -> Status {
    if (!*v) return Status::Error(EINVAL, "--cache: empty directory");
    options.cache_dir = v;
    return Status::Ok();
  });
  p.Value(0, "serve-rate", [&](const char* v) -> Status {
    auto r = share::ParseRate(v);
    if (!r.ok()) return r.status();
    options.serve_rate = *r;
    return Status::Ok();
  });
  p.Value('s', "cache-size", [&](const char* v) -> Status {
    auto size = ParseByteSize(v);
    if (!size.ok()) return size.status().WithContext("--cache-size");
    options.cache_size = *size;
    return Status::Ok();
  });
  bool no_election = false;
  p.Flag(0, "no-election", &no_election);
  p.Value('p', "port", [&](const char* v) -> Status {
    auto port = cli::ParseUnsigned(v, 1, 65535, "--port");
    if (!port.ok()) return port.status();
    options.scheme.port = static_cast<uint16_t>(*port);
    return Status::Ok();
  });
  p.Value(0, "mld-query-interval", [&](const char* v) -> Status {
    auto d = share::ParseDuration(v);
    if (!d.ok()) return d.status();
    if (*d < std::chrono::milliseconds(100))
      return Status::Error(EINVAL, "--mld-query-interval: at least 100ms");
    options.timers = net::MldTimers::Fast(*d);
    return Status::Ok();
  });
  if (auto exit = p.Parse(argc, argv)) return *exit;
  if (!p.positional().empty())
    return p.UsageError("unexpected argument '" + p.positional()[0] + "'");
  if (options.upstream == 0) return p.UsageError("--upstream is required");
  if (options.downstream.empty()) return p.UsageError("at least one --downstream is required");
  options.election = !no_election;
  if (options.cache_size != 0 && options.cache_dir.empty())
    return p.UsageError("--cache-size needs --cache");
  if (options.serve_rate != 0 && options.cache_dir.empty())
    return p.UsageError("--serve-rate needs --cache");

  // Signals through a signalfd, blocked before anything else runs.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT}) sigaddset(&signals, sig);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd) {
    Log(std::string("signalfd: ") + std::strerror(errno));
    return kExitError;
  }

  auto r = relay::Relay::Open(options, Log);
  if (!r.ok()) {
    Log(r.status().ToString());
    return kExitError;
  }
  std::string down;
  for (const auto& n : names) down += (down.empty() ? "" : ", ") + n;
  char up[IF_NAMESIZE] = {};
  if_indextoname(static_cast<unsigned>(options.upstream), up);
  Log(std::string("relaying ") + up + " -> " + down +
      (options.rate ? " at most " + share::FormatRate(options.rate) + " per link" : ""));

  Status s = (*r)->Run(signal_fd.get());
  const relay::RelayCounters& c = (*r)->counters();
  std::fprintf(
      stderr,
      "lcfs-relay: received %" PRIu64 " forwarded %" PRIu64 " malformed %" PRIu64
      " records %" PRIu64 " truncated %" PRIu64 " wrong-interface %" PRIu64 " unwanted %" PRIu64
      " over-rate %" PRIu64 " send-dropped %" PRIu64 " upstream-joins %" PRIu64
      " upstream-leaves %" PRIu64 " join-failures %" PRIu64 " verified %" PRIu64 " forged %" PRIu64
      " forged-dropped %" PRIu64 " decode-refused %" PRIu64 " cache-errors %" PRIu64
      " served-objects %" PRIu64 " served-packets %" PRIu64 " standby-dropped %" PRIu64
      " takeovers %" PRIu64 " taken-over %" PRIu64 " newcomers %" PRIu64 "\n",
      c.received, c.forwarded, c.malformed, c.records, c.truncated, c.wrong_interface, c.unwanted,
      c.over_rate, c.send_dropped, c.upstream_joins, c.upstream_leaves, c.join_failures, c.verified,
      c.forged, c.forged_dropped, c.decode_refused, c.cache_errors, c.served_objects,
      c.served_packets, c.standby_dropped, c.takeovers, c.taken_over, c.newcomers);
  if (!s.ok()) {
    Log(s.ToString());
    return kExitError;
  }
  return 0;
}
