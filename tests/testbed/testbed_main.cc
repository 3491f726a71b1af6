// lcfs-testbed: builds a virtual LAN, runs one command with its description
// in the environment, and tears the LAN down when the command ends (or when
// this process is interrupted or killed: the testbed's reaper sees to that).
//
//   lcfs-testbed [--hosts N] [--snooping] [--loss HOST:PERCENT] -- COMMAND...
//
// The command sees LCFS_TB_HOSTS=N, LCFS_TB_IFACE=lan0, LCFS_TB_BRIDGE=<netns>,
// and for each host i: LCFS_TB_NS_i=<netns name>, LCFS_TB_LL_i=<fe80::...>.
// Run a step inside host i with `nsenter --net=/run/netns/$LCFS_TB_NS_i CMD`.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "testbed/testbed.h"

using namespace lcfs::testbed;

namespace {
volatile sig_atomic_t g_child = 0;
void Forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}
int Usage() {
  std::fprintf(
      stderr, "usage: lcfs-testbed [--hosts N] [--snooping] [--loss HOST:PERCENT] -- COMMAND...\n");
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  TestbedOptions opts;
  std::vector<std::pair<int, double>> losses;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--hosts" && i + 1 < argc) {
      opts.hosts = std::atoi(argv[++i]);
    } else if (a == "--snooping") {
      opts.snooping = true;
    } else if (a == "--loss" && i + 1 < argc) {
      std::string v = argv[++i];
      auto colon = v.find(':');
      if (colon == std::string::npos) return Usage();
      losses.emplace_back(std::atoi(v.c_str()), std::atof(v.c_str() + colon + 1));
    } else {
      return Usage();
    }
  }
  if (i >= argc) return Usage();
  if (!HaveTestbedPrivileges()) {
    std::fprintf(stderr, "lcfs-testbed: needs root (network namespaces and a bridge)\n");
    return 1;
  }
  auto bed = Testbed::Create(opts);
  if (!bed.ok()) {
    std::fprintf(stderr, "lcfs-testbed: %s\n", bed.status().ToString().c_str());
    return 1;
  }
  for (auto [host, pct] : losses) {
    if (host < 0 || host >= (*bed)->size()) return Usage();
    if (auto s = (*bed)->host(host).SetLoss(pct); !s.ok()) {
      std::fprintf(stderr, "lcfs-testbed: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  SpawnOptions so;
  so.inherit_stdio = true;
  so.env.push_back("LCFS_TB_HOSTS=" + std::to_string((*bed)->size()));
  so.env.push_back(std::string("LCFS_TB_IFACE=") + kHostInterface);
  so.env.push_back("LCFS_TB_BRIDGE=" + (*bed)->bridge_netns());
  for (int h = 0; h < (*bed)->size(); ++h) {
    so.env.push_back("LCFS_TB_NS_" + std::to_string(h) + "=" + (*bed)->host(h).netns());
    so.env.push_back("LCFS_TB_LL_" + std::to_string(h) + "=" + (*bed)->host(h).link_local_str());
  }
  std::vector<std::string> cmd(argv + i, argv + argc);
  auto child = Subprocess::Spawn(cmd, so);
  if (!child.ok()) {
    std::fprintf(stderr, "lcfs-testbed: %s\n", child.status().ToString().c_str());
    return 1;
  }
  g_child = child->pid();
  signal(SIGINT, Forward);
  signal(SIGTERM, Forward);
  signal(SIGHUP, Forward);
  std::optional<int> st;
  while (!(st = child->Wait(std::chrono::hours(24)))) {
  }
  (*bed)->Teardown();
  if (WIFEXITED(*st)) return WEXITSTATUS(*st);
  return 128 + (WIFSIGNALED(*st) ? WTERMSIG(*st) : 0);
}
