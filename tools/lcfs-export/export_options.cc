#include "export_options.h"

#include "cli.h"
#include "lcfs/index/chunking.h"
#include "lcfs/metrics/metrics_server.h"
#include "lcfs/share/share.h"
#include "lcfs/share/units.h"

namespace lcfs::exporter {

std::string ExportUsage() {
  return "usage: lcfs-export [OPTION]... DIR\n"
         "Index DIR, print its root HASH on stdout, then serve its objects over IPv6\n"
         "multicast to whoever joins their groups (MLD), until stopped.\n"
         "\n"
         "  -i, --iface IF          serve on IF (repeatable; default: every multicast-capable\n"
         "                          interface)\n"
         "  -r, --rate R            send at most R bits/s in total, suffixes k/M/G (default " +
         share::FormatRate(share::kDefaultRate) +
         ")\n"
         "  -c, --chunk-size S      chunk size, a power of two from 4K to 16M (default 1M)\n"
         "  -l, --loopback          also deliver to receivers on this host (IPV6_MULTICAST_LOOP)\n"
         "  -u, --user U            switch to user U once the raw socket is open\n"
         "      --syslog            log to syslog instead of stderr\n"
         "  -q, --quiet             only errors\n"
         "  -v, --verbose           also joins, leaves and other details\n"
         "      --grace D           keep serving a replaced index for D (default 60s)\n"
         "      --settle D          re-index D after the last change in DIR (default 1s)\n"
         "      --no-watch          do not watch DIR (re-index on SIGHUP only)\n"
         "      --port P            UDP port of the groups (default 7707)\n"
         "      --hop-limit N       hop limit of the packets, 1 to 255 (default 1: the link\n"
         "                          only); more for routers that forward lcfs groups\n"
         "      --sign KEYFILE      announce each root, signed with KEYFILE (lcfs-keygen), on\n"
         "                          its CHANNEL: readers follow it with lcfs-sync CHANNEL\n"
         "      --announce-interval D\n"
         "                          repeat the announcement every D (default 2s); a reader\n"
         "                          joining the channel is answered at once anyway\n"
         "      --mld-query-interval D\n"
         "                          MLD Query Interval, other MLD timers scaled from it\n"
         "                          (tests; default: RFC 3810's 125s)\n"
         "      --metrics ADDR:PORT serve Prometheus metrics on http://ADDR:PORT/metrics\n"
         "                          (e.g. 127.0.0.1:9464; default: none)\n"
         "      --index-cache FILE  keep the index cache in FILE: a restart reads only the\n"
         "                          files that changed (default: one file per DIR under\n"
         "                          /var/cache/lcfs-export, or ~/.cache/lcfs-export)\n"
         "      --no-index-cache    read every file at every index\n"
         "      --peer ADDR         replicas: only the exporter at ADDR (link-local) may make\n"
         "                          this one stand by (repeatable; default: any on the link)\n"
         "      --replica-interval D\n"
         "                          say hello to replicas every D (default 200ms); a standby\n"
         "                          takes over 3.5 D after the active one's last hello\n"
         "      --no-replicas       always send, even while a replica of DIR serves the link\n"
         "  -h, --help              this help\n"
         "  -V, --version           version\n"
         "\n"
         "Durations: 250ms, 2s, 1.5m, 1h. Signals: SIGHUP re-indexes, SIGUSR1 prints\n"
         "statistics, SIGTERM/SIGINT stop.\n";
}

std::optional<int> ParseExportOptions(int argc, char** argv, ExportOptions* out) {
  cli::Parser p("lcfs-export", ExportUsage());
  // A duration option into *to (a milliseconds or an optional of them): at
  // least `min` ms, at most `max` ms when max > 0, `range` saying so.
  auto duration = [&p]<typename Target>(const std::string& name, Target* to, int64_t min = 0,
                                        int64_t max = 0, const std::string& range = "") {
    p.Value(0, name, [=](const char* v) -> Status {
      auto d = share::ParseDuration(v);
      if (!d.ok()) return d.status().WithContext("--" + name);
      if (d->count() < min || (max > 0 && d->count() > max))
        return Status::Error(EINVAL, "--" + name + ": " + range);
      *to = *d;
      return Status::Ok();
    });
  };
  p.Value('i', "iface", [=](const char* v) {
    out->interfaces.push_back(v);
    return Status::Ok();
  });
  p.Value('r', "rate", [=](const char* v) {
    return cli::Store(share::ParseRate(v), &out->rate_bps).WithContext("--rate");
  });
  p.Value('c', "chunk-size", [=](const char* v) {
    return cli::Store(index::ParseChunkSize(v), &out->chunk_size).WithContext("--chunk-size");
  });
  p.Flag('l', "loopback", &out->loopback);
  p.Value('u', "user", &out->user);
  p.Flag(0, "syslog", &out->syslog);
  p.Flag('q', "quiet", [=] { out->verbosity = 0; });
  p.Flag('v', "verbose", [=] { out->verbosity = 2; });
  duration("grace", &out->grace);
  duration("settle", &out->settle);
  duration("announce-interval", &out->announce_interval, 100, 0, "at least 100ms");
  p.Flag(0, "no-watch", [=] { out->watch = false; });
  // An integer option into *to, from min to max, `what` naming the range.
  auto integer = [&p]<typename Target>(const std::string& name, Target* to, uint64_t min,
                                       uint64_t max, const std::string& what) {
    p.Value(0, name, [=](const char* v) -> Status {
      auto n = cli::ParseUnsigned(v, min, max, "--" + name);
      if (!n.ok()) return Status::Error(EINVAL, "--" + name + ": \"" + v + "\" is not " + what);
      *to = static_cast<Target>(*n);
      return Status::Ok();
    });
  };
  integer("port", &out->port, 1, 65535, "a port number");
  integer("hop-limit", &out->hop_limit, 1, 255, "from 1 to 255");
  duration("mld-query-interval", &out->mld_query_interval, 100, 0, "at least 100ms");
  p.Value(0, "sign", &out->sign_key);
  p.Value(0, "metrics", [=](const char* v) -> Status {
    LCFS_RETURN_IF_ERROR(metrics::ValidateMetricsAddress(v).WithContext("--metrics"));
    out->metrics = v;
    return Status::Ok();
  });
  p.Value(0, "index-cache", [=](const char* v) -> Status {
    if (*v == '\0') return Status::Error(EINVAL, "--index-cache: empty file name");
    out->index_cache = v;
    return Status::Ok();
  });
  p.Flag(0, "no-index-cache", [=] { out->use_index_cache = false; });
  p.Value(0, "peer", [=](const char* v) -> Status {
    auto a = net::Ipv6Address::Parse(v);
    if (!a.ok()) return a.status().WithContext("--peer");
    if (a->IsMulticast() || a->IsUnspecified())
      return Status::Error(EINVAL, std::string("--peer: ") + v + " is not a unicast address");
    out->peers.push_back(*a);
    return Status::Ok();
  });
  duration("replica-interval", &out->replica_interval, 10, 10'000, "from 10ms to 10s");
  p.Flag(0, "no-replicas", [=] { out->replicas = false; });

  if (auto exit = p.Parse(argc, argv)) return exit;
  if (p.positional().empty()) return p.UsageError("missing DIR");
  if (p.positional().size() > 1) return p.UsageError("unexpected argument " + p.positional()[1]);
  out->dir = p.positional()[0];
  return std::nullopt;
}

}  // namespace lcfs::exporter
