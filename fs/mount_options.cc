#include "mount_options.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "lcfs/byte_size.h"
#include "lcfs/cache/chunk_cache.h"
#include "lcfs/hash.h"
#include "lcfs/metrics/metrics_server.h"

namespace lcfs::fs {
namespace {

// Generic mount(8)/fstab options with no meaning for this filesystem.
const std::set<std::string>& IgnoredOptions() {
  static const std::set<std::string> kIgnored = {
      "rw",       "ro",         "defaults",   "_netdev",     "noauto",
      "auto",     "nofail",     "user",       "users",       "nouser",
      "owner",    "group",      "sync",       "async",       "atime",
      "noatime",  "relatime",   "norelatime", "strictatime", "nostrictatime",
      "diratime", "nodiratime", "lazytime",   "nolazytime",  "silent",
      "loud",     "mand",       "nomand",     "iversion",    "noiversion",
  };
  return kIgnored;
}

// Options handed to libfuse (which passes mount flags on to the kernel).
const std::set<std::string>& FuseFlagOptions() {
  static const std::set<std::string> kFuse = {
      "allow_other", "allow_root", "default_permissions", "dev", "nodev", "suid", "nosuid", "exec",
      "noexec",      "dirsync",
  };
  return kFuse;
}

bool IsIpv6Address(const std::string& text) {
  in6_addr addr;
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

Status BadOption(const std::string& option, const std::string& why) {
  return Status::Error(EINVAL, "option '" + option + "': " + why);
}

Status AddSource(const std::string& option, const std::string& address, MountOptions* opts) {
  if (!IsIpv6Address(address)) return BadOption(option, "'" + address + "' is not an IPv6 address");
  opts->sources.push_back(address);
  return Status::Ok();
}

}  // namespace

Status ParseMountOptionList(const std::string& list, MountOptions* opts) {
  bool last_was_source = false;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string option = list.substr(start, comma - start);
    start = comma + 1;
    if (option.empty()) continue;

    const size_t eq = option.find('=');
    const std::string key = option.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : option.substr(eq + 1);
    const bool has_value = eq != std::string::npos;
    bool is_source = false;

    if (key == "source" && has_value) {
      LCFS_RETURN_IF_ERROR(AddSource(option, value, opts));
      is_source = true;
    } else if (!has_value && last_was_source && IsIpv6Address(option)) {
      // "source=fe80::1,fe80::2": the comma list continues the previous source=.
      opts->sources.push_back(option);
      is_source = true;
    } else if (key == "iface" && has_value) {
      if (value.empty() || value.size() >= 16 || value.find('/') != std::string::npos)
        return BadOption(option, "not an interface name");
      opts->iface = value;
    } else if (key == "cache" && has_value) {
      if (value.empty() || value[0] != '/') return BadOption(option, "needs an absolute path");
      opts->cache_dir = value;
    } else if (key == "cache_size" && has_value) {
      auto size = ParseByteSize(value);
      if (!size.ok()) return BadOption(option, size.status().message());
      opts->cache_size = *size;
    } else if (key == "timeout" && has_value) {
      char* end = nullptr;
      const double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(seconds > 0) || seconds > 1e6)
        return BadOption(option, "expected a number of seconds > 0");
      opts->timeout = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
    } else if (key == "hard" && !has_value) {
      opts->hard = true;
    } else if (key == "soft" && !has_value) {
      opts->hard = false;
    } else if (key == "port" && has_value) {
      char* end = nullptr;
      const long port = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || port < 1 || port > 65535)
        return BadOption(option, "expected a port number 1..65535");
      opts->port = static_cast<uint16_t>(port);
    } else if (key == "metrics" && has_value) {
      Status valid = metrics::ValidateMetricsAddress(value);
      if (!valid.ok()) return BadOption(option, valid.message());
      opts->metrics = value;
    } else if (key == "prefetch" && has_value) {
      if (value == "none") {
        opts->prefetch = PrefetchMode::kNone;
      } else if (value == "meta") {
        opts->prefetch = PrefetchMode::kMeta;
      } else if (value == "all") {
        opts->prefetch = PrefetchMode::kAll;
      } else {
        return BadOption(option, "expected none, meta or all");
      }
    } else if ((key == "readahead" || key == "prefetch_files") && has_value) {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 0 || n > 4096)
        return BadOption(option, "expected a number 0..4096");
      (key == "readahead" ? opts->readahead_chunks : opts->prefetch_files) =
          static_cast<uint32_t>(n);
    } else if (key == "pin" && has_value) {
      if (!Hash::FromHex(value).ok()) return BadOption(option, "expected a HASH (64 hex digits)");
      opts->pin = value;
    } else if (key == "local" && has_value) {
      if (value.empty()) return BadOption(option, "needs a directory");
      opts->local_dir = value;
    } else if (!has_value && IgnoredOptions().count(key)) {
      // Meaningless here (we are always read-only): accepted for fstab/mount.fuse3.
    } else if (key.rfind("x-", 0) == 0 || key == "comment") {
      // Userspace-only fstab annotations (x-systemd.automount, comment=...).
    } else if (!has_value && FuseFlagOptions().count(key)) {
      opts->fuse_options.push_back(key);
    } else if ((key == "max_read" || key == "fsname" || key == "subtype") && has_value) {
      opts->fuse_options.push_back(option);
    } else {
      return BadOption(option, "unknown option (see lcfs --help)");
    }
    last_was_source = is_source;
  }
  return Status::Ok();
}

Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine cl;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      cl.help = true;
    } else if (a == "-V" || a == "--version") {
      cl.version = true;
    } else if (a == "-f") {
      cl.foreground = true;
    } else if (a == "-d" || a == "--debug") {
      cl.debug = true;
      cl.foreground = true;
    } else if (a == "-s") {
      // Single-threaded mode: accepted for FUSE-convention compatibility.
    } else if (a == "-o") {
      if (i + 1 >= args.size()) return Status::Error(EINVAL, "-o needs an option list");
      LCFS_RETURN_IF_ERROR(ParseMountOptionList(args[++i], &cl.options));
    } else if (a.rfind("-o", 0) == 0) {
      LCFS_RETURN_IF_ERROR(ParseMountOptionList(a.substr(2), &cl.options));
    } else if (a == "--") {
      for (++i; i < args.size(); ++i) positional.push_back(args[i]);
    } else if (!a.empty() && a[0] == '-') {
      return Status::Error(EINVAL, "unknown argument '" + a + "' (see lcfs --help)");
    } else {
      positional.push_back(a);
    }
  }
  if (cl.help || cl.version) return cl;
  if (positional.size() != 2)
    return Status::Error(EINVAL, "expected HASH (or CHANNEL) and MOUNTPOINT, got " +
                                     std::to_string(positional.size()) +
                                     " argument(s) (see lcfs --help)");
  cl.hash = positional[0];
  cl.mountpoint = positional[1];
  return cl;
}

std::string UsageText(const std::string& program) {
  return "usage: " + program + R"( HASH|CHANNEL MOUNTPOINT [-f] [-d] [-o OPTION[,OPTION...]]
       mount -t fuse.lcfs HASH|CHANNEL MOUNTPOINT [-o OPTIONS]

Mounts, read-only, the directory tree whose root directory object has the
SHA-256 name HASH (64 hex digits), fetching objects lazily from exporters on
the link (lcfs-export) as they are read, and keeping them in a shared
on-disk chunk cache. Given a CHANNEL (lcfs-keygen), it waits for the
publisher's signed announcement, mounts the root it names and follows each
newer one (lcfs-export --sign).

  -f              stay in the foreground
  -d              debug output (implies -f)
  -h, --help      this text
  -V, --version   print the version

Options (-o):
  iface=IFACE         network interface facing the exporter
  source=ADDR[,ADDR]  accept content only from these IPv6 sources (repeatable)
  port=N              UDP port of the protocol
  cache=DIR           chunk cache directory (default /var/cache/lcfs for
                      root, else $XDG_CACHE_HOME/lcfs)
  cache_size=SIZE     cache size limit, e.g. 512M, 20G (default: unlimited)
  timeout=SECONDS     give up on an object after this long: the read fails
                      with EIO (default 30)
  hard                retry unavailable objects forever instead of failing
  soft                the default: fail with EIO after the timeout
  prefetch=MODE       fetch ahead of requests: none (only what is asked),
                      meta (directories and tree nodes, read-ahead), all
                      (also a directory's small files when one is opened;
                      the default)
  readahead=N         largest sequential read-ahead window, in chunks (32)
  prefetch_files=N    small files prefetched per open with prefetch=all (64)
  pin=HASH            with a CHANNEL: stay on this root, follow no update
  local=DIR           serve from an index of the local directory DIR instead
                      of the network (tests, offline use)
  metrics=ADDR:PORT   serve Prometheus metrics on http://ADDR:PORT/metrics
                      (e.g. 127.0.0.1:9465; default: none)
  allow_other, default_permissions, nodev, nosuid, noexec, max_read=N
                      passed to FUSE
Generic mount options (rw, ro, defaults, _netdev, noauto, nofail, user,
x-*, ...) are accepted and ignored: the filesystem is always read-only.

fstab:  HASH  /mnt  fuse.lcfs  iface=eth0,_netdev  0  0
        CHANNEL  /mnt  fuse.lcfs  iface=eth0,_netdev  0  0

Exit status: 0 mounted (or unmounted cleanly, with -f), 1 error, 2 usage.
)";
}

}  // namespace lcfs::fs
