// The start every testbed test of the shipped programs makes: skip without
// the privileges a testbed needs or without the programs built, then a
// testbed and a fresh directory for the test's files (removed at teardown);
// and the steps they share: an exporter started until it prints its root
// HASH, a tool run to its end.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/wait.h"
#include "testbed/testbed.h"

namespace lcfs::testing {

// CPU time (user + system) of process `pid` so far, in clock ticks: what a
// test that checks a process does not spin compares over a window.
inline uint64_t CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

class ProgramsTestbedTest : public ::testing::Test {
 protected:
  // Call first in SetUp, then return if IsSkipped() or HasFatalFailure().
  void StartTestbed(std::initializer_list<std::string> programs, int hosts,
                    const std::string& tag) {
    StartTestbed(programs, testbed::TestbedOptions{.hosts = hosts}, tag);
  }
  // The same with any testbed: several LANs, hosts with links to more than one.
  void StartTestbed(std::initializer_list<std::string> programs,
                    const testbed::TestbedOptions& options, const std::string& tag) {
    if (!testbed::HaveTestbedPrivileges())
      GTEST_SKIP() << "needs root (network namespaces, bridge, raw sockets): skipped";
    for (const std::string& program : programs)
      if (!std::filesystem::exists(program)) GTEST_SKIP() << program << " not built";
    auto bed = testbed::Testbed::Create(options);
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(*bed);
    auto base = bed_->MakeTempDir(tag);
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = *base;
  }

  // Spawns `argv` (lcfs-export and its options) on `host` as exporter_ and
  // returns the first line it prints, the root HASH; "" (and a test
  // failure) if it prints none within 30 s.
  std::string StartExporter(const std::vector<std::string>& argv, int host = 0) {
    auto p = bed_->host(host).Spawn(argv);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return "";
    exporter_.emplace(std::move(p).value());
    std::string out;
    WaitUntil(
        [&] {
          out = exporter_->Stdout();
          return out.find('\n') != std::string::npos || !exporter_->running();
        },
        std::chrono::seconds(30));
    if (auto nl = out.find('\n'); nl != std::string::npos) return out.substr(0, nl);
    ADD_FAILURE() << "the exporter printed no HASH: " << exporter_->Stderr();
    return "";
  }

  // What a tool run to its end left.
  struct Run {
    int code = -1;  // exit code, 128 + signal if killed, -1 if it did not run or end
    double seconds = 0;
    std::string out, err;
  };
  // Runs `argv` on `host` until it exits (a test failure after `limit`).
  Run RunOn(int host, const std::vector<std::string>& argv,
            std::chrono::seconds limit = std::chrono::seconds(120)) {
    Run r;
    const auto start = std::chrono::steady_clock::now();
    auto p = bed_->host(host).Spawn(argv);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return r;
    auto status = p->Wait(limit);
    EXPECT_TRUE(status.has_value()) << argv[0] << " did not exit";
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.out = p->Stdout();
    r.err = p->Stderr();
    if (status) r.code = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
    return r;
  }

  std::unique_ptr<testbed::Testbed> bed_;
  std::string base_;  // the test's directory
  std::optional<testbed::Subprocess> exporter_;
};

}  // namespace lcfs::testing
