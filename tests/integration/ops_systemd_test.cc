// lcfs under systemd: lcfs-export tells the service manager it is ready
// (READY=1 with a STATUS= line naming the root HASH) on the socket given in
// $NOTIFY_SOCKET, pings the watchdog when $WATCHDOG_USEC asks, and says
// STOPPING=1 on SIGTERM; the units in docs/ pass `systemd-analyze verify`.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/tool_run.h"
#include "lcfs/unique_fd.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string kDocs = std::string(LCFS_SOURCE_DIR) + "/docs";

// The next datagram on `fd` within `timeout`; "" if none came.
std::string Receive(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(OpsSystemdTest, ExporterNotifiesReadyStatusWatchdogAndStopping) {
  LCFS_REQUIRE_TESTBED();
  if (!stdfs::exists(testing::kExportProgram)) GTEST_SKIP() << "lcfs-export not built";
  auto bed = testbed::Testbed::Create({.hosts = 1});
  ASSERT_TRUE(bed.ok()) << bed.status().ToString();
  auto base = (*bed)->MakeTempDir("ops-systemd");
  ASSERT_TRUE(base.ok());
  stdfs::create_directories(*base + "/src");
  std::ofstream(*base + "/src/file") << "served under systemd\n";

  // A path socket (abstract ones belong to a network namespace).
  const std::string socket_path = *base + "/notify";
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  std::copy(socket_path.begin(), socket_path.end(), addr.sun_path);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  testbed::SpawnOptions opts;
  opts.env = {"NOTIFY_SOCKET=" + socket_path, "WATCHDOG_USEC=400000"};
  auto exporter =
      (*bed)->host(0).Spawn({testing::kExportProgram, "-q", "-i", "lan0", *base + "/src"}, opts);
  ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();

  // READY=1 comes once it serves, with the root HASH in its status line.
  const std::string ready = Receive(sock.get(), 60s);
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready << exporter->Stderr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(ready, m, std::regex("STATUS=serving ([0-9a-f]{64})"))) << ready;
  EXPECT_EQ(exporter->Stdout().substr(0, 64), m[1].str());

  // WatchdogSec=400ms: pings at half that, so several within 2 s.
  int pings = 0;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    if (Receive(sock.get(), 100ms).find("WATCHDOG=1") != std::string::npos) ++pings;
  }
  EXPECT_GE(pings, 3);

  ASSERT_TRUE(exporter->Signal(SIGTERM).ok());
  std::string last;
  for (int i = 0; i < 50 && last.find("STOPPING=1") == std::string::npos; ++i)
    last = Receive(sock.get(), 200ms);
  EXPECT_NE(last.find("STOPPING=1"), std::string::npos);
  auto status = exporter->Wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST(OpsSystemdTest, UnitsInDocsPassSystemdAnalyzeVerify) {
  if (::access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "no systemd-analyze";
  char tmpl[] = "/tmp/lcfs-units-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  // ExecStart= must name an executable that exists here: the built one.
  std::ifstream in(kDocs + "/lcfs-export.service");
  std::stringstream unit;
  unit << in.rdbuf();
  const std::string text = std::regex_replace(unit.str(), std::regex("/usr/local/bin/lcfs-export"),
                                              testing::kExportProgram);
  ASSERT_NE(text, unit.str()) << "the unit no longer runs /usr/local/bin/lcfs-export";
  EXPECT_NE(text.find("Type=notify"), std::string::npos);
  std::ofstream(dir + "/lcfs-export.service") << text;
  for (const char* name : {"mnt-lcfs.mount", "mnt-lcfs.automount"})
    stdfs::copy_file(kDocs + "/" + name, dir + "/" + name);
  std::string out;
  // Warnings (unknown keys, bad values) do not change the exit status: the
  // output must be empty too.
  Status st = testbed::RunCommand(
      {"sh", "-c",
       "cd " + dir +
           " && systemd-analyze verify --man=no ./lcfs-export.service ./mnt-lcfs.mount "
           "./mnt-lcfs.automount 2>&1"},
      &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "");
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace lcfs
