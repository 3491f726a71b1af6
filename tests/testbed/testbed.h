// Testbed: a virtual LAN of real hosts for integration tests, demos and
// benchmarks.
//
// Each host is a network namespace with one interface, `lan0`, whose veth peer
// is a port of a Linux bridge living in a namespace of its own. Several LANs
// (bridges br0, br1, ... in that namespace) may be asked for: each host's lan0
// is on one of them, and a host may get more interfaces (lan1, lan2, ...) on
// others, as a relay or router between LANs has. Links come up
// with IPv6 link-local addresses only, and Create() returns once duplicate
// address detection has finished. Per-link packet loss (nftables numgen in a
// netdev ingress chain: this kernel has no netem) and rate (tc tbf), bridge
// MLD snooping on or off, forced MLD version per host.
//
// Cleanup is guaranteed twice over: the destructor removes everything it made,
// and a reaper process (a small shell loop, in its own session) removes
// whatever is still listed when this process dies, however it dies. Names
// carry our PID and a counter, so parallel test processes never collide, and
// namespaces left by dead test processes are swept on the next Create().
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "lcfs/status.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"

namespace lcfs::testbed {

inline constexpr const char* kHostInterface = "lan0";

struct TestbedOptions {
  int hosts = 2;
  // Bridge MLD snooping (mcast_snooping). Off: the bridge floods multicast.
  bool snooping = false;
  // Delay of the kernel's unsolicited MLD reports after a join/leave. The
  // kernel default (1 s for MLDv2) only slows tests; reports stay real.
  std::chrono::milliseconds unsolicited_report_interval{10};
  // Number of LANs (bridges br0 .. br<lans-1>, separate broadcast domains).
  int lans = 1;
  // The LAN of host i's lan0 is host_lans[i]; hosts past the end are on LAN 0.
  std::vector<int> host_lans{};
  // Extra interfaces: each gives `host` its next interface (lan1, lan2, ...,
  // in the order listed) on the bridge of `lan`. A host's namespaces never
  // forward between its interfaces (IPv6 forwarding stays off).
  struct ExtraLink {
    int host = 0;
    int lan = 0;
  };
  std::vector<ExtraLink> extra_links{};
};

// One interface of a host: lan0, or an extra one (TestbedOptions::extra_links).
struct HostInterface {
  std::string name;  // "lan0", "lan1", ...
  int lan = 0;       // the LAN (bridge br<lan>) it is attached to
  std::string port;  // its veth peer, a port of that bridge ("p3", "p3l1")
  int ifindex = 0;   // in the host
  in6_addr link_local{};
  std::string link_local_str() const;
};

class Testbed;

// Switches the calling thread into a network namespace until destroyed.
// Sockets created meanwhile stay in that namespace for their whole life.
class NetnsGuard {
 public:
  NetnsGuard(NetnsGuard&&) = default;
  ~NetnsGuard();

 private:
  friend class Host;
  explicit NetnsGuard(UniqueFd previous) : previous_(std::move(previous)) {}
  UniqueFd previous_;
};

class Host {
 public:
  int index() const { return index_; }
  const std::string& netns() const { return netns_; }  // namespace name
  std::string netns_path() const { return "/run/netns/" + netns_; }
  const char* iface() const { return kHostInterface; }
  int ifindex() const { return ifindex_; }  // of lan0, in the host
  const in6_addr& link_local() const { return link_local_; }
  std::string link_local_str() const;                // "fe80::..."
  int lan() const { return interfaces_.at(0).lan; }  // the LAN of lan0
  // lan0 first, then the extra interfaces in order.
  const std::vector<HostInterface>& interfaces() const { return interfaces_; }
  // The interface called `name`; nullptr if the host has none.
  const HostInterface* interface(const std::string& name) const;

  // Runs a command in this host to completion; fails if it exits non-zero.
  Status Run(const std::vector<std::string>& argv, std::string* output = nullptr,
             std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Starts a command in this host. The testbed kills it at teardown if the
  // caller has not already.
  Result<Subprocess> Spawn(const std::vector<std::string>& argv, SpawnOptions opts = {});
  // Switches the calling thread into this host's namespace (in-process sockets).
  Result<NetnsGuard> Enter() const;

  // Drops `percent` (0..100, 0.01 steps) of the packets arriving at lan0.
  // `udp_only` spares ICMPv6 (so MLD and DAD are unaffected).
  Status SetLoss(double percent, bool udp_only = false);
  // Limits what the host sends (tc tbf on lan0); 0 removes the limit.
  Status SetEgressRate(uint64_t bits_per_second);
  // Limits what the host receives (tbf on its bridge port); 0 removes it.
  Status SetIngressRate(uint64_t bits_per_second);
  // 0 = kernel default (MLDv2 with fallback), 1 or 2 forces that version.
  Status SetMldVersion(int version);
  // Counters of lan0 (or of `iface`) from /proc/net/dev (rx_bytes, tx_bytes,
  // tx_packets...).
  Result<uint64_t> InterfaceCounter(const std::string& name,
                                    const std::string& iface = kHostInterface) const;

 private:
  friend class Testbed;
  Testbed* bed_ = nullptr;
  int index_ = 0;
  std::string netns_;
  int ifindex_ = 0;
  in6_addr link_local_{};
  std::vector<HostInterface> interfaces_;
};

class Testbed {
 public:
  static Result<std::unique_ptr<Testbed>> Create(const TestbedOptions& opts = {});
  ~Testbed();
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  int size() const { return static_cast<int>(hosts_.size()); }
  Host& host(int i) { return hosts_.at(i); }
  const std::string& bridge_netns() const { return bridge_netns_; }
  std::string bridge_netns_path() const { return "/run/netns/" + bridge_netns_; }
  const std::string& name() const { return name_; }

  int lans() const { return lans_; }
  // The bridge device of `lan` in the bridge namespace: "br0", "br1", ...
  static std::string bridge_name(int lan) { return "br" + std::to_string(lan); }

  // Snooping on or off on every LAN's bridge.
  Status SetSnooping(bool on);
  // Runs a command in the bridges' namespace (e.g. `bridge mdb show`).
  Status RunInBridge(const std::vector<std::string>& argv, std::string* output = nullptr) const;

  // A fresh empty directory, removed at teardown (after unmounting, if it was
  // registered with TrackMount).
  Result<std::string> MakeTempDir(const std::string& tag);
  // Registers a mount point to lazily unmount at teardown.
  void TrackMount(const std::string& path);
  // Registers a PID (of a process the test started) to SIGKILL at teardown.
  void TrackPid(pid_t pid);

  // Everything this testbed made that still exists, for "nothing is left
  // behind" assertions: namespaces, mounts, directories. Empty after Teardown.
  std::vector<std::string> Leftovers() const;
  // Removes everything now (the destructor calls it too). Idempotent.
  void Teardown();

 private:
  Testbed() = default;
  Status Setup(const TestbedOptions& opts);
  void Record(const std::string& kind, const std::string& arg);  // tell the reaper

  std::string name_;
  std::string bridge_netns_;
  int lans_ = 1;
  std::vector<Host> hosts_;
  std::vector<std::string> mounts_, dirs_;
  std::vector<pid_t> pids_;
  pid_t reaper_pid_ = -1;
  UniqueFd reaper_pipe_;
  bool torn_down_ = false;
};

// True when running as root (or with CAP_SYS_ADMIN + CAP_NET_ADMIN); tests
// needing the testbed skip otherwise.
bool HaveTestbedPrivileges();

}  // namespace lcfs::testbed

// In a gtest body: skip with a clear message unless we can build a testbed.
#define LCFS_REQUIRE_TESTBED()                                                         \
  do {                                                                                 \
    if (!::lcfs::testbed::HaveTestbedPrivileges())                                     \
      GTEST_SKIP() << "needs root (network namespaces, bridge, raw sockets): skipped"; \
  } while (0)
