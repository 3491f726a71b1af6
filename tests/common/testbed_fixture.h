// The start every testbed test of the shipped programs makes: skip without
// the privileges a testbed needs or without the programs built, then a
// testbed and a fresh directory for the test's files (removed at teardown);
// and the steps they share: an exporter started until it prints its root
// HASH, a program run to its end (also without a testbed).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/process_watch.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "testbed/subprocess.h"
#include "testbed/testbed.h"

namespace lcfs::testing {

// What a program run to its end left.
struct ProgramRun {
  int code = -1;  // exit code, 128 + signal if killed, -1 if it did not run or end
  double seconds = 0;
  std::string out, err;
};

// Runs `argv` until it exits (a test failure after `limit`): in `host`'s
// network namespace, or in the test's own without one (no testbed needed).
inline ProgramRun RunProgram(const std::vector<std::string>& argv, testbed::Host* host = nullptr,
                             std::chrono::seconds limit = std::chrono::seconds(120)) {
  ProgramRun r;
  const auto start = std::chrono::steady_clock::now();
  auto p = host ? host->Spawn(argv) : testbed::Subprocess::Spawn(argv);
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

class ProgramsTestbedTest : public ::testing::Test {
 protected:
  // Call first in SetUp: false when the test was skipped or failed (then
  // SetUp returns).
  bool StartTestbed(std::initializer_list<std::string> programs, int hosts,
                    const std::string& tag) {
    StartTestbed(programs, testbed::TestbedOptions{.hosts = hosts}, tag);
    return !IsSkipped() && !HasFatalFailure();
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

  // Exports `dir` from `host` as the testbed tests run lcfs-export: on lan0,
  // `dir` not watched, no index cache, MLD Query Interval 1 s, quiet, at
  // `rate`. Returns the root HASH (StartExporter).
  std::string ExportTree(const std::string& dir, const std::string& rate = "1G", int host = 0) {
    return StartExporter({kExportProgram, "--iface", "lan0", "--no-watch", "--no-index-cache",
                          "--rate", rate, "--mld-query-interval", "1s", "--quiet", dir},
                         host);
  }

  using Run = ProgramRun;
  // Runs `argv` on `host` until it exits (a test failure after `limit`).
  Run RunOn(int host, const std::vector<std::string>& argv,
            std::chrono::seconds limit = std::chrono::seconds(120)) {
    return RunProgram(argv, &bed_->host(host), limit);
  }

  // lcfs-sync on `host` with `args` after `--iface lan0`: spawned, or run
  // to its end (RunOn).
  Result<testbed::Subprocess> SpawnSyncOn(int host, const std::vector<std::string>& args) {
    return bed_->host(host).Spawn(SyncArgv(args));
  }
  Run RunSyncOn(int host, const std::vector<std::string>& args,
                std::chrono::seconds limit = std::chrono::seconds(120)) {
    return RunOn(host, SyncArgv(args), limit);
  }

  std::unique_ptr<testbed::Testbed> bed_;
  std::string base_;  // the test's directory
  std::optional<testbed::Subprocess> exporter_;

 private:
  static std::vector<std::string> SyncArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kSyncProgram, "--iface", "lan0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

// A ProgramsTestbedTest that exports a tree and may mount it: src_
// (base_/src) and mnt_ (base_/mnt) are made, and a mount left at mnt_ is
// undone when the testbed goes.
class ExportTestbedTest : public ProgramsTestbedTest {
 protected:
  // StartTestbed, then the two directories.
  bool StartTestbedWithDirs(std::initializer_list<std::string> programs, int hosts,
                            const std::string& tag) {
    if (!StartTestbed(programs, hosts, tag)) return false;
    src_ = base_ + "/src";
    mnt_ = base_ + "/mnt";
    std::filesystem::create_directories(src_);
    std::filesystem::create_directories(mnt_);
    bed_->TrackMount(mnt_);
    return true;
  }

  std::string src_, mnt_;
};

}  // namespace lcfs::testing
