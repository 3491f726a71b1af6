#include "export_options.h"

#include <getopt.h>

#include "lcfs/index/chunking.h"
#include "lcfs/metrics/metrics_server.h"
#include "lcfs/share/share.h"
#include "lcfs/share/units.h"

namespace lcfs::exporter {
namespace {

enum LongOnly {
  kGrace = 256,
  kSettle,
  kAnnounceInterval,
  kNoWatch,
  kPort,
  kMldQueryInterval,
  kSyslog,
  kSign,
  kMetrics,
  kIndexCache,
  kNoIndexCache,
  kPeer,
  kReplicaInterval,
  kNoReplicas,
};

const option kOptions[] = {
    {"iface", required_argument, nullptr, 'i'},
    {"rate", required_argument, nullptr, 'r'},
    {"chunk-size", required_argument, nullptr, 'c'},
    {"loopback", no_argument, nullptr, 'l'},
    {"user", required_argument, nullptr, 'u'},
    {"syslog", no_argument, nullptr, kSyslog},
    {"quiet", no_argument, nullptr, 'q'},
    {"verbose", no_argument, nullptr, 'v'},
    {"grace", required_argument, nullptr, kGrace},
    {"settle", required_argument, nullptr, kSettle},
    {"announce-interval", required_argument, nullptr, kAnnounceInterval},
    {"no-watch", no_argument, nullptr, kNoWatch},
    {"port", required_argument, nullptr, kPort},
    {"mld-query-interval", required_argument, nullptr, kMldQueryInterval},
    {"sign", required_argument, nullptr, kSign},
    {"metrics", required_argument, nullptr, kMetrics},
    {"index-cache", required_argument, nullptr, kIndexCache},
    {"no-index-cache", no_argument, nullptr, kNoIndexCache},
    {"peer", required_argument, nullptr, kPeer},
    {"replica-interval", required_argument, nullptr, kReplicaInterval},
    {"no-replicas", no_argument, nullptr, kNoReplicas},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'V'},
    {nullptr, 0, nullptr, 0},
};

Status Bad(const std::string& option, const Status& why) {
  return Status::Error(EINVAL, option + ": " + why.message());
}

}  // namespace

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

Result<ParseOutcome> ParseExportOptions(int argc, char** argv, ExportOptions* out) {
  optind = 0;  // full re-initialisation (GNU), so tests may parse twice
  opterr = 0;
  for (;;) {
    int index = 0;
    const int c = getopt_long(argc, argv, ":i:r:c:lu:qvhV", kOptions, &index);
    if (c == -1) break;
    const std::string arg = optarg ? optarg : "";
    switch (c) {
      case 'i':
        out->interfaces.push_back(arg);
        break;
      case 'r': {
        auto r = share::ParseRate(arg);
        if (!r.ok()) return Bad("--rate", r.status());
        out->rate_bps = *r;
        break;
      }
      case 'c': {
        auto s = index::ParseChunkSize(arg);
        if (!s.ok()) return Bad("--chunk-size", s.status());
        out->chunk_size = *s;
        break;
      }
      case 'l':
        out->loopback = true;
        break;
      case 'u':
        out->user = arg;
        break;
      case kSyslog:
        out->syslog = true;
        break;
      case 'q':
        out->verbosity = 0;
        break;
      case 'v':
        out->verbosity = 2;
        break;
      case kPeer: {
        auto a = net::Ipv6Address::Parse(arg);
        if (!a.ok()) return Bad("--peer", a.status());
        if (a->IsMulticast() || a->IsUnspecified())
          return Status::Error(EINVAL, "--peer: " + arg + " is not a unicast address");
        out->peers.push_back(*a);
        break;
      }
      case kNoReplicas:
        out->replicas = false;
        break;
      case kGrace:
      case kSettle:
      case kAnnounceInterval:
      case kReplicaInterval:
      case kMldQueryInterval: {
        auto d = share::ParseDuration(arg);
        const char* name = c == kGrace              ? "--grace"
                           : c == kSettle           ? "--settle"
                           : c == kAnnounceInterval ? "--announce-interval"
                           : c == kReplicaInterval  ? "--replica-interval"
                                                    : "--mld-query-interval";
        if (!d.ok()) return Bad(name, d.status());
        if (c == kGrace) {
          out->grace = *d;
        } else if (c == kSettle) {
          out->settle = *d;
        } else if (c == kReplicaInterval) {
          if (d->count() < 10 || d->count() > 10'000)
            return Status::Error(EINVAL, "--replica-interval: from 10ms to 10s");
          out->replica_interval = *d;
        } else if (c == kAnnounceInterval) {
          if (d->count() < 100) return Status::Error(EINVAL, "--announce-interval: at least 100ms");
          out->announce_interval = *d;
        } else {
          if (d->count() < 100)
            return Status::Error(EINVAL, "--mld-query-interval: at least 100ms");
          out->mld_query_interval = *d;
        }
        break;
      }
      case kNoWatch:
        out->watch = false;
        break;
      case kPort: {
        char* end = nullptr;
        const unsigned long p = std::strtoul(arg.c_str(), &end, 10);
        if (arg.empty() || *end != '\0' || p == 0 || p > 65535)
          return Status::Error(EINVAL, "--port: \"" + arg + "\" is not a port number");
        out->port = static_cast<uint16_t>(p);
        break;
      }
      case kSign:
        out->sign_key = arg;
        break;
      case kMetrics: {
        Status valid = metrics::ValidateMetricsAddress(arg);
        if (!valid.ok()) return Bad("--metrics", valid);
        out->metrics = arg;
        break;
      }
      case kIndexCache:
        if (arg.empty()) return Status::Error(EINVAL, "--index-cache: empty file name");
        out->index_cache = arg;
        break;
      case kNoIndexCache:
        out->use_index_cache = false;
        break;
      case 'h':
        return ParseOutcome::kHelp;
      case 'V':
        return ParseOutcome::kVersion;
      case ':':
        return Status::Error(EINVAL,
                             std::string("option ") + argv[optind - 1] + " needs an argument");
      default:
        return Status::Error(EINVAL, std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind >= argc) return Status::Error(EINVAL, "missing DIR");
  if (argc - optind > 1)
    return Status::Error(EINVAL, std::string("unexpected argument ") + argv[optind + 1]);
  out->dir = argv[optind];
  return ParseOutcome::kRun;
}

}  // namespace lcfs::exporter
