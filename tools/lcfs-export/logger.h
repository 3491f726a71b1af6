// Logger: lcfs-export's messages, to stderr or syslog, by level. Safe to call
// from any thread (the share engine logs from its own).
#pragma once

#include <string>

namespace lcfs::exporter {

enum class LogLevel { kError = 0, kInfo = 1, kDebug = 2 };

class Logger {
 public:
  // `verbosity`: 0 errors only, 1 also information, 2 also debug lines.
  Logger(int verbosity, bool use_syslog);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Log(LogLevel level, const std::string& message) const;
  void Error(const std::string& m) const { Log(LogLevel::kError, m); }
  void Info(const std::string& m) const { Log(LogLevel::kInfo, m); }
  void Debug(const std::string& m) const { Log(LogLevel::kDebug, m); }
  bool enabled(LogLevel level) const { return static_cast<int>(level) <= verbosity_; }

 private:
  int verbosity_;
  bool syslog_;
};

}  // namespace lcfs::exporter
