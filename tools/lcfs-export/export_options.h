// Command line of lcfs-export.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/status.h"

namespace lcfs::exporter {

struct ExportOptions {
  std::string dir;
  std::vector<std::string> interfaces;  // empty: every multicast-capable one
  uint64_t rate_bps = 0;                // 0: the library default
  uint32_t chunk_size = 0;              // 0: the library default
  bool loopback = false;
  std::string user;  // drop to this user after opening the raw socket
  bool syslog = false;
  int verbosity = 1;  // 0 quiet, 1 normal, 2 verbose
  std::chrono::milliseconds grace{60'000};
  std::chrono::milliseconds settle{1'000};
  bool watch = true;
  uint16_t port = 0;  // 0: the protocol default
  // --hop-limit: of the data packets and records; above 1 only for sites
  // whose routers forward lcfs groups (docs/protocol.md section 16).
  int hop_limit = 1;
  std::string sign_key;  // --sign: also announce signed records on this key's channel
  std::chrono::milliseconds announce_interval{2'000};  // --announce-interval
  // Tests: MLD Query Interval, the other MLD timers scaled from it.
  std::optional<std::chrono::milliseconds> mld_query_interval;
  std::string metrics;          // --metrics ADDR:PORT: Prometheus endpoint; empty = none
  std::string index_cache;      // --index-cache FILE; empty: index::DefaultIndexCachePath
  bool use_index_cache = true;  // --no-index-cache: false
  // Replicas (docs/protocol.md section 14): hellos every replica_interval;
  // with peers, only those sources' hellos count. --no-replicas: false.
  bool replicas = true;
  std::chrono::milliseconds replica_interval{200};
  std::vector<net::Ipv6Address> peers;  // --peer ADDR (unicast)
};

// Parses the command line into *out (tools/common/cli.h). Returns the exit
// code when lcfs-export should stop: --help and --version answered, or a
// usage error reported on stderr; nullopt to run.
std::optional<int> ParseExportOptions(int argc, char** argv, ExportOptions* out);

std::string ExportUsage();

}  // namespace lcfs::exporter
