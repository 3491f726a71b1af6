// lcfs-testbed: builds a virtual LAN, runs one command with its description
// in the environment, and tears the LAN down when the command ends (or when
// this process is interrupted or killed: the testbed's reaper sees to that).
//
//   lcfs-testbed [--hosts N] [--snooping] [--loss HOST:PERCENT]
//                [--lans N] [--lan HOST:LAN] [--link HOST:LAN] -- COMMAND...
//
// --lan puts a host's lan0 on LAN (default 0); --link gives a host one more
// interface (lan1, lan2, ...) on LAN.
//
// The command sees LCFS_TB_HOSTS=N, LCFS_TB_LANS=N, LCFS_TB_IFACE=lan0,
// LCFS_TB_BRIDGE=<netns>, and for each host i: LCFS_TB_NS_i=<netns name>,
// LCFS_TB_LL_i=<fe80::... of lan0>, LCFS_TB_LAN_i=<LAN of lan0>, and for each
// extra interface lanK of host i: LCFS_TB_LL_i_lanK=<fe80::...>.
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
  std::fprintf(stderr,
               "usage: lcfs-testbed [--hosts N] [--snooping] [--loss HOST:PERCENT] [--lans N]\n"
               "                    [--lan HOST:LAN] [--link HOST:LAN] -- COMMAND...\n");
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
    } else if (a == "--lans" && i + 1 < argc) {
      opts.lans = std::atoi(argv[++i]);
    } else if ((a == "--lan" || a == "--link") && i + 1 < argc) {
      std::string v = argv[++i];
      auto colon = v.find(':');
      if (colon == std::string::npos) return Usage();
      int host = std::atoi(v.c_str()), lan = std::atoi(v.c_str() + colon + 1);
      if (a == "--link") {
        opts.extra_links.push_back({host, lan});
      } else {
        if (host < 0 || host >= 64) return Usage();
        if (opts.host_lans.size() <= static_cast<size_t>(host)) opts.host_lans.resize(host + 1, 0);
        opts.host_lans[host] = lan;
      }
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
  so.env.push_back("LCFS_TB_LANS=" + std::to_string((*bed)->lans()));
  so.env.push_back(std::string("LCFS_TB_IFACE=") + kHostInterface);
  so.env.push_back("LCFS_TB_BRIDGE=" + (*bed)->bridge_netns());
  for (int h = 0; h < (*bed)->size(); ++h) {
    so.env.push_back("LCFS_TB_NS_" + std::to_string(h) + "=" + (*bed)->host(h).netns());
    so.env.push_back("LCFS_TB_LL_" + std::to_string(h) + "=" + (*bed)->host(h).link_local_str());
    so.env.push_back("LCFS_TB_LAN_" + std::to_string(h) + "=" +
                     std::to_string((*bed)->host(h).lan()));
    for (const auto& hi : (*bed)->host(h).interfaces())
      if (hi.name != kHostInterface)
        so.env.push_back("LCFS_TB_LL_" + std::to_string(h) + "_" + hi.name + "=" +
                         hi.link_local_str());
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
