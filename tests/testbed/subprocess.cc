#include "testbed/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace lcfs::testbed {
namespace {

std::string MakeTempFile(const char* tag) {
  std::string tmpl = std::string("/tmp/lcfs-") + tag + "-XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return "/dev/null";
  close(fd);
  return tmpl;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "status " + std::to_string(status);
}

Result<Subprocess> Subprocess::Spawn(const std::vector<std::string>& argv,
                                     const SpawnOptions& opts) {
  if (argv.empty()) return Status::Error(EINVAL, "spawn: empty command");
  std::vector<std::string> full;
  if (!opts.netns_path.empty()) full = {"nsenter", "--net=" + opts.netns_path, "--"};
  full.insert(full.end(), argv.begin(), argv.end());

  Subprocess p;
  p.own_stdout_ = opts.stdout_path.empty() && !opts.inherit_stdio;
  p.own_stderr_ = opts.stderr_path.empty() && !opts.inherit_stdio;
  p.stdout_path_ = p.own_stdout_ ? MakeTempFile("out") : opts.stdout_path;
  p.stderr_path_ = p.own_stderr_ ? MakeTempFile("err") : opts.stderr_path;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!opts.inherit_stdio) {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, p.stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, p.stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  // Own process group, so a terminal's ^C reaches the test, which then tears
  // down, rather than racing it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (!opts.inherit_stdio) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<char*> cargv;
  for (auto& a : full) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  for (const auto& e : opts.env) env_storage.push_back(e);
  std::vector<char*> cenv;
  for (auto& e : env_storage) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int rc = posix_spawnp(&p.pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    p.pid_ = -1;
    return Status::FromErrno(rc, "spawn " + Join(full));
  }
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept { *this = std::move(o); }

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    Reset();
    pid_ = std::exchange(o.pid_, -1);
    exit_status_ = o.exit_status_;
    stdout_path_ = std::move(o.stdout_path_);
    stderr_path_ = std::move(o.stderr_path_);
    own_stdout_ = std::exchange(o.own_stdout_, false);
    own_stderr_ = std::exchange(o.own_stderr_, false);
  }
  return *this;
}

Subprocess::~Subprocess() { Reset(); }

void Subprocess::Reset() {
  if (pid_ > 0 && !exit_status_) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (own_stdout_) unlink(stdout_path_.c_str());
  if (own_stderr_) unlink(stderr_path_.c_str());
  pid_ = -1;
  own_stdout_ = own_stderr_ = false;
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  if (pid_ <= 0) return std::nullopt;
  // Poll waitpid: a child has no fd to wait on without pidfd plumbing, and
  // the granularity (1 ms rising to 20 ms) is far below any test timeout.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  for (;;) {
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exit_status_ = st;
      return st;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
}

Status Subprocess::Signal(int sig) {
  if (pid_ <= 0 || exit_status_) return Status::Error(ESRCH, "process not running");
  if (kill(pid_, sig) != 0) return Status::FromErrno(errno, "kill " + std::to_string(pid_));
  return Status::Ok();
}

int Subprocess::Stop(int sig, std::chrono::milliseconds grace) {
  if (exit_status_) return *exit_status_;
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  if (auto st = Wait(grace)) return *st;
  kill(pid_, SIGKILL);
  return Wait(std::chrono::seconds(10)).value_or(-1);
}

std::string Subprocess::Stdout() const { return ReadFileOrEmpty(stdout_path_); }
std::string Subprocess::Stderr() const { return ReadFileOrEmpty(stderr_path_); }

Status RunCommand(const std::vector<std::string>& argv, std::string* output,
                  const SpawnOptions& opts, std::chrono::milliseconds timeout) {
  auto p = Subprocess::Spawn(argv, opts);
  if (!p.ok()) return p.status();
  auto st = p->Wait(timeout);
  if (!st) {
    p->Stop(SIGKILL, std::chrono::seconds(1));
    return Status::Error(ETIMEDOUT, Join(argv) + ": timed out");
  }
  if (output) *output = p->Stdout();
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    std::string err = p->Stderr();
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Status::Error(
        ECHILD, Join(argv) + ": " + DescribeWaitStatus(*st) + (err.empty() ? "" : ": " + err));
  }
  return Status::Ok();
}

}  // namespace lcfs::testbed
