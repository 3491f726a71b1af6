// The start every testbed test of the shipped programs makes: skip without
// the privileges a testbed needs or without the programs built, then a
// testbed and a fresh directory for the test's files (removed at teardown).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>

#include "testbed/testbed.h"

namespace lcfs::testing {

class ProgramsTestbedTest : public ::testing::Test {
 protected:
  // Call first in SetUp, then return if IsSkipped() or HasFatalFailure().
  void StartTestbed(std::initializer_list<std::string> programs, int hosts,
                    const std::string& tag) {
    if (!testbed::HaveTestbedPrivileges())
      GTEST_SKIP() << "needs root (network namespaces, bridge, raw sockets): skipped";
    for (const std::string& program : programs)
      if (!std::filesystem::exists(program)) GTEST_SKIP() << program << " not built";
    auto bed = testbed::Testbed::Create({.hosts = hosts});
    ASSERT_TRUE(bed.ok()) << bed.status().ToString();
    bed_ = std::move(*bed);
    auto base = bed_->MakeTempDir(tag);
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = *base;
  }

  std::unique_ptr<testbed::Testbed> bed_;
  std::string base_;  // the test's directory
};

}  // namespace lcfs::testing
