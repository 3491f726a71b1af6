#include "testbed/testbed.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

namespace lcfs::testbed {
namespace {

constexpr const char* kPrefix = "lcfst-";

// The reaper: reads "kind arg" lines until its stdin closes (we exited or
// finished teardown), then removes what is still listed, in a safe order:
// processes, mounts, directories, namespaces. "clear" forgets the list.
constexpr const char* kReaperScript = R"sh(
trap '' INT TERM HUP
list=""
while IFS= read -r line; do
  case "$line" in
    clear) list="" ;;
    *) list="$list
$line" ;;
  esac
done
for kind in pid mount dir netns; do
  printf '%s\n' "$list" | while read -r k arg; do
    [ "$k" = "$kind" ] || continue
    case "$k" in
      pid) kill -9 "$arg" 2>/dev/null ;;
      mount) umount -l "$arg" 2>/dev/null ;;
      dir) rm -rf --one-file-system "$arg" 2>/dev/null ;;
      netns) ip netns del "$arg" 2>/dev/null ;;
    esac
  done
done
)sh";

std::atomic<int> g_counter{0};

Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

Status SysctlIn(const std::string& netns, const std::string& key, const std::string& value) {
  return RunCommand(
      {"nsenter", "--net=/run/netns/" + netns, "--", "sysctl", "-qw", key + "=" + value});
}

// Deletes namespaces whose creator (PID in the name) no longer exists.
void SweepStaleNamespaces() {
  DIR* d = opendir("/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(kPrefix, 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + std::strlen(kPrefix)));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(n);
  }
  closedir(d);
  for (const auto& n : stale) (void)Ip({"netns", "del", n});
}

Status WaitForLinkLocal(const std::string& netns, const std::string& iface, in6_addr* addr) {
  // DAD takes about a second (one probe, RetransTimer 1 s); poll for the
  // address to lose its tentative flag, bounded.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    std::string out;
    (void)RunCommand({"ip", "-n", netns, "-6", "-o", "addr", "show", "dev", iface, "scope", "link"},
                     &out);
    if (out.find("fe80::") != std::string::npos && out.find("tentative") == std::string::npos) {
      std::string a = out.substr(out.find("fe80::"));
      a = a.substr(0, a.find('/'));
      if (inet_pton(AF_INET6, a.c_str(), addr) != 1)
        return Status::Error(EINVAL, "cannot parse link-local address '" + a + "'");
      if (out.find("dadfailed") != std::string::npos)
        return Status::Error(EADDRINUSE, netns + " " + iface + ": duplicate address detected");
      return Status::Ok();
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Status::Error(ETIMEDOUT,
                           netns + " " + iface + ": link-local address still tentative: " + out);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

bool HaveTestbedPrivileges() { return geteuid() == 0; }

NetnsGuard::~NetnsGuard() {
  if (previous_) setns(previous_.get(), CLONE_NEWNET);
}

std::string HostInterface::link_local_str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &link_local, buf, sizeof buf);
  return buf;
}

std::string Host::link_local_str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &link_local_, buf, sizeof buf);
  return buf;
}

const HostInterface* Host::interface(const std::string& name) const {
  for (const auto& i : interfaces_)
    if (i.name == name) return &i;
  return nullptr;
}

Status Host::Run(const std::vector<std::string>& argv, std::string* output,
                 std::chrono::milliseconds timeout) const {
  SpawnOptions o;
  o.netns_path = netns_path();
  return RunCommand(argv, output, o, timeout);
}

Result<Subprocess> Host::Spawn(const std::vector<std::string>& argv, SpawnOptions opts) {
  opts.netns_path = netns_path();
  auto p = Subprocess::Spawn(argv, opts);
  if (p.ok()) bed_->TrackPid(p->pid());
  return p;
}

Result<NetnsGuard> Host::Enter() const {
  UniqueFd previous(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!previous) return Status::FromErrno(errno, "open current netns");
  UniqueFd target(open(netns_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) return Status::FromErrno(errno, "open " + netns_path());
  if (setns(target.get(), CLONE_NEWNET) != 0) return Status::FromErrno(errno, "setns " + netns_);
  return NetnsGuard(std::move(previous));
}

Status Host::SetLoss(double percent, bool udp_only) {
  (void)RunCommand(
      {"nsenter", "--net=" + netns_path(), "--", "nft", "delete", "table", "netdev", "lcfs_loss"});
  if (percent <= 0) return Status::Ok();
  int threshold = static_cast<int>(percent * 100 + 0.5);
  std::string rule = std::string("add table netdev lcfs_loss; ") +
                     "add chain netdev lcfs_loss ingress { type filter hook ingress device " +
                     kHostInterface + " priority 0; policy accept; }; " +
                     "add rule netdev lcfs_loss ingress " + (udp_only ? "meta l4proto udp " : "") +
                     "numgen random mod 10000 < " + std::to_string(threshold) + " drop";
  return Run({"nft", rule});
}

namespace {
std::vector<std::string> TbfArgs(const std::string& dev, uint64_t bps) {
  uint64_t burst = std::max<uint64_t>(32 * 1024, bps / 8 / 100);  // >= 10 ms of traffic
  return {"tc",
          "qdisc",
          "replace",
          "dev",
          dev,
          "root",
          "tbf",
          "rate",
          std::to_string(bps) + "bit",
          "burst",
          std::to_string(burst),
          "latency",
          "100ms"};
}
}  // namespace

Status Host::SetEgressRate(uint64_t bps) {
  if (bps == 0) {
    (void)Run({"tc", "qdisc", "del", "dev", kHostInterface, "root"});
    return Status::Ok();
  }
  return Run(TbfArgs(kHostInterface, bps));
}

Status Host::SetIngressRate(uint64_t bps) {
  std::string port = "p" + std::to_string(index_);
  std::vector<std::string> argv =
      bps == 0 ? std::vector<std::string>{"tc", "qdisc", "del", "dev", port, "root"}
               : TbfArgs(port, bps);
  Status s = bed_->RunInBridge(argv);
  return bps == 0 ? Status::Ok() : s;
}

Status Host::SetMldVersion(int version) {
  return SysctlIn(netns_, std::string("net.ipv6.conf.") + kHostInterface + ".force_mld_version",
                  std::to_string(version));
}

Result<uint64_t> Host::InterfaceCounter(const std::string& name, const std::string& iface) const {
  // /proc/thread-self/net follows this thread's namespace, which Enter() sets.
  auto guard = Enter();
  if (!guard.ok()) return guard.status();
  std::string path = std::string("/proc/thread-self/net/dev");
  std::string dev = ReadFileOrEmpty(path);
  static const char* kFields[] = {"rx_bytes", "rx_packets", "rx_errs",       "rx_drop",
                                  "rx_fifo",  "rx_frame",   "rx_compressed", "rx_multicast",
                                  "tx_bytes", "tx_packets", "tx_errs",       "tx_drop"};
  int field = -1;
  for (int i = 0; i < 12; ++i)
    if (name == kFields[i]) field = i;
  if (field < 0) return Status::Error(EINVAL, "unknown counter " + name);
  std::istringstream in(dev);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string ifname = line.substr(0, colon);
    ifname.erase(0, ifname.find_first_not_of(' '));
    if (ifname != iface) continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v = 0;
    for (int i = 0; i <= field; ++i) fields >> v;
    return v;
  }
  return Status::Error(ENOENT, "no interface " + iface + " in " + netns_);
}

Result<std::unique_ptr<Testbed>> Testbed::Create(const TestbedOptions& opts) {
  if (!HaveTestbedPrivileges()) return Status::Error(EPERM, "testbed needs root");
  if (opts.hosts < 1 || opts.hosts > 64) return Status::Error(EINVAL, "testbed: 1..64 hosts");
  if (opts.lans < 1 || opts.lans > 16) return Status::Error(EINVAL, "testbed: 1..16 LANs");
  if (opts.host_lans.size() > static_cast<size_t>(opts.hosts))
    return Status::Error(EINVAL, "testbed: host_lans names more hosts than there are");
  for (int lan : opts.host_lans)
    if (lan < 0 || lan >= opts.lans) return Status::Error(EINVAL, "testbed: no such LAN");
  for (const auto& x : opts.extra_links)
    if (x.host < 0 || x.host >= opts.hosts || x.lan < 0 || x.lan >= opts.lans)
      return Status::Error(EINVAL, "testbed: extra link to no such host or LAN");
  SweepStaleNamespaces();
  std::unique_ptr<Testbed> bed(new Testbed());  // private constructor
  Status s = bed->Setup(opts);
  if (!s.ok()) return s.WithContext("testbed setup");  // destructor tears down
  return bed;
}

void Testbed::Record(const std::string& kind, const std::string& arg) {
  if (!reaper_pipe_) return;
  std::string line = kind + " " + arg + "\n";
  (void)!write(reaper_pipe_.get(), line.data(), line.size());
}

Status Testbed::Setup(const TestbedOptions& opts) {
  name_ = kPrefix + std::to_string(getpid()) + "-" + std::to_string(g_counter++);
  bridge_netns_ = name_ + "-br";

  // The reaper first, so nothing made after this point can outlive us.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd read_end(fds[0]);
  reaper_pipe_.reset(fds[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, read_end.get(), 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const char* argv[] = {"sh", "-c", kReaperScript, nullptr};
  pid_t reaper_pid;
  int rc = posix_spawnp(&reaper_pid, "sh", &fa, &attr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FromErrno(rc, "spawn reaper");
  reaper_pid_ = reaper_pid;

  Record("netns", bridge_netns_);
  LCFS_RETURN_IF_ERROR(Ip({"netns", "add", bridge_netns_}));
  LCFS_RETURN_IF_ERROR(Ip({"-n", bridge_netns_, "link", "set", "lo", "up"}));
  // Every bridge lives in the bridge namespace, so deleting that namespace
  // (destructor or reaper) removes all of them.
  lans_ = opts.lans;
  for (int lan = 0; lan < lans_; ++lan) {
    const std::string br = bridge_name(lan);
    LCFS_RETURN_IF_ERROR(Ip({"-n", bridge_netns_, "link", "add", br, "type", "bridge",
                             "mcast_snooping", opts.snooping ? "1" : "0", "stp_state", "0"}));
    // The bridge is a switch, not a host: no addresses, no MLD of its own.
    LCFS_RETURN_IF_ERROR(SysctlIn(bridge_netns_, "net.ipv6.conf." + br + ".disable_ipv6", "1"));
  }

  // A veth pair: `name` in the host, `port` on the bridge of `lan`.
  auto attach = [&](Host& h, const std::string& name, const std::string& port, int lan) -> Status {
    LCFS_RETURN_IF_ERROR(Ip({"link", "add", "name", name, "netns", h.netns_, "type", "veth", "peer",
                             "name", port, "netns", bridge_netns_}));
    LCFS_RETURN_IF_ERROR(
        Ip({"-n", bridge_netns_, "link", "set", port, "master", bridge_name(lan), "up"}));
    LCFS_RETURN_IF_ERROR(Ip({"-n", h.netns_, "link", "set", name, "up"}));
    HostInterface hi;
    hi.name = name;
    hi.lan = lan;
    hi.port = port;
    h.interfaces_.push_back(hi);
    return Status::Ok();
  };

  std::string interval = std::to_string(opts.unsolicited_report_interval.count());
  for (int i = 0; i < opts.hosts; ++i) {
    Host h;
    h.bed_ = this;
    h.index_ = i;
    h.netns_ = name_ + "-h" + std::to_string(i);
    Record("netns", h.netns_);
    LCFS_RETURN_IF_ERROR(Ip({"netns", "add", h.netns_}));
    hosts_.push_back(h);
    LCFS_RETURN_IF_ERROR(Ip({"-n", h.netns_, "link", "set", "lo", "up"}));
    // Set on "default" before lan0 exists, so lan0 inherits it.
    LCFS_RETURN_IF_ERROR(
        SysctlIn(h.netns_, "net.ipv6.conf.default.mldv2_unsolicited_report_interval", interval));
    LCFS_RETURN_IF_ERROR(
        SysctlIn(h.netns_, "net.ipv6.conf.default.mldv1_unsolicited_report_interval", interval));
    const int lan = static_cast<size_t>(i) < opts.host_lans.size() ? opts.host_lans[i] : 0;
    LCFS_RETURN_IF_ERROR(attach(hosts_.back(), kHostInterface, "p" + std::to_string(i), lan));
  }
  for (const auto& x : opts.extra_links) {
    Host& h = hosts_[x.host];
    const std::string n = std::to_string(h.interfaces_.size());
    LCFS_RETURN_IF_ERROR(attach(h, "lan" + n, "p" + std::to_string(x.host) + "l" + n, x.lan));
  }
  for (int lan = 0; lan < lans_; ++lan)
    LCFS_RETURN_IF_ERROR(Ip({"-n", bridge_netns_, "link", "set", bridge_name(lan), "up"}));

  for (auto& h : hosts_) {
    for (auto& hi : h.interfaces_) {
      LCFS_RETURN_IF_ERROR(WaitForLinkLocal(h.netns_, hi.name, &hi.link_local));
      std::string out;
      LCFS_RETURN_IF_ERROR(RunCommand({"ip", "-n", h.netns_, "-o", "link", "show", hi.name}, &out));
      hi.ifindex = std::atoi(out.c_str());
      if (hi.ifindex <= 0) return Status::Error(EINVAL, "cannot read ifindex: " + out);
    }
    h.link_local_ = h.interfaces_[0].link_local;
    h.ifindex_ = h.interfaces_[0].ifindex;
  }
  return Status::Ok();
}

Status Testbed::SetSnooping(bool on) {
  for (int lan = 0; lan < lans_; ++lan)
    LCFS_RETURN_IF_ERROR(Ip({"-n", bridge_netns_, "link", "set", bridge_name(lan), "type", "bridge",
                             "mcast_snooping", on ? "1" : "0"}));
  return Status::Ok();
}

Status Testbed::RunInBridge(const std::vector<std::string>& argv, std::string* output) const {
  SpawnOptions o;
  o.netns_path = bridge_netns_path();
  return RunCommand(argv, output, o);
}

Result<std::string> Testbed::MakeTempDir(const std::string& tag) {
  std::string tmpl = "/tmp/" + name_ + "-" + tag + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) return Status::FromErrno(errno, "mkdtemp " + tmpl);
  dirs_.push_back(tmpl);
  Record("dir", tmpl);
  return tmpl;
}

void Testbed::TrackMount(const std::string& path) {
  mounts_.push_back(path);
  Record("mount", path);
}

void Testbed::TrackPid(pid_t pid) {
  pids_.push_back(pid);
  Record("pid", std::to_string(pid));
}

std::vector<std::string> Testbed::Leftovers() const {
  std::vector<std::string> left;
  auto exists = [](const std::string& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0;
  };
  if (!bridge_netns_.empty() && exists("/run/netns/" + bridge_netns_))
    left.push_back("netns " + bridge_netns_);
  for (const auto& h : hosts_)
    if (exists(h.netns_path())) left.push_back("netns " + h.netns_);
  std::string mounts = ReadFileOrEmpty("/proc/self/mounts");
  for (const auto& m : mounts_)
    if (mounts.find(" " + m + " ") != std::string::npos) left.push_back("mount " + m);
  for (const auto& d : dirs_)
    if (exists(d)) left.push_back("dir " + d);
  for (pid_t p : pids_) {
    // A zombie we have not reaped is gone for our purposes.
    std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(p) + "/stat");
    if (!stat.empty() && stat.find(") Z ") == std::string::npos)
      left.push_back("pid " + std::to_string(p));
  }
  return left;
}

void Testbed::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  for (pid_t p : pids_) kill(p, SIGKILL);
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  for (const auto& d : dirs_) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
  for (const auto& h : hosts_) (void)Ip({"netns", "del", h.netns_});
  if (!bridge_netns_.empty()) (void)Ip({"netns", "del", bridge_netns_});
  if (reaper_pipe_) {
    Record("clear", "");
    reaper_pipe_.reset();  // EOF: the reaper finds an empty list and exits
    int st;
    waitpid(reaper_pid_, &st, 0);
  }
}

Testbed::~Testbed() { Teardown(); }

}  // namespace lcfs::testbed
