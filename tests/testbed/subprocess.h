// Subprocess: a child process started by a test, killed and reaped on scope exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lcfs/status.h"

namespace lcfs::testbed {

struct SpawnOptions {
  // Run inside this network namespace (a path such as /run/netns/NAME), via
  // nsenter, so the child shares our mount namespace (FUSE mounts stay visible).
  std::string netns_path;
  // Where the child's stdout and stderr go; empty means a fresh temp file
  // each, readable with Subprocess::Stdout()/Stderr().
  std::string stdout_path;
  std::string stderr_path;
  // Keep our stdin, stdout and stderr (and process group) instead.
  bool inherit_stdio = false;
  // Extra environment entries, "NAME=value".
  std::vector<std::string> env;
};

class Subprocess {
 public:
  static Result<Subprocess> Spawn(const std::vector<std::string>& argv,
                                  const SpawnOptions& opts = {});

  Subprocess(Subprocess&& o) noexcept;
  Subprocess& operator=(Subprocess&& o) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kills (SIGKILL) and reaps a child still running.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }

  // Waits up to `timeout` for the child to exit; returns its wait status
  // (see WIFEXITED etc.), or nullopt if it is still running.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  Status Signal(int sig);
  // Sends `sig`, waits up to `grace`, then SIGKILLs. Returns the wait status.
  int Stop(int sig, std::chrono::milliseconds grace);

  std::string Stdout() const;
  std::string Stderr() const;
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

 private:
  Subprocess() = default;
  void Reset();

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string stdout_path_, stderr_path_;
  bool own_stdout_ = false, own_stderr_ = false;
};

// Runs argv to completion (bounded by `timeout`), returning its combined
// stdout in *output. Fails with the command line and its stderr when it exits
// non-zero or times out.
Status RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr,
                  const SpawnOptions& opts = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// "exit 3", "signal 9 (Killed)": a wait status for messages.
std::string DescribeWaitStatus(int status);

// Reads a whole file; empty on error.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace lcfs::testbed
