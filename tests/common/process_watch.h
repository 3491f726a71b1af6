// What tests read about a process they started, from outside it: its CPU
// time (a process waiting for a link must not spin) and how often its log
// says something (a failure is told once per episode, not per packet).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

namespace lcfs::testing {

// CPU time (user + system) of process `pid` so far, in clock ticks.
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

// The share of one core process `pid` uses over the next `window` (an
// observation window: this sleeps for it).
inline double CpuShare(pid_t pid, std::chrono::milliseconds window) {
  const uint64_t ticks0 = CpuTicks(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);  // an observation window, not synchronisation
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(CpuTicks(pid) - ticks0) / static_cast<double>(sysconf(_SC_CLK_TCK)) /
         seconds;
}

// How many times `what` stands in `text`.
inline size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace lcfs::testing
