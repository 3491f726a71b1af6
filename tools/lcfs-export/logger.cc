#include "logger.h"

#include <syslog.h>

#include <cstdio>

namespace lcfs::exporter {

Logger::Logger(int verbosity, bool use_syslog) : verbosity_(verbosity), syslog_(use_syslog) {
  if (syslog_) openlog("lcfs-export", LOG_PID, LOG_DAEMON);
}

Logger::~Logger() {
  if (syslog_) closelog();
}

void Logger::Log(LogLevel level, const std::string& message) const {
  if (!enabled(level)) return;
  if (syslog_) {
    const int priority = level == LogLevel::kError  ? LOG_ERR
                         : level == LogLevel::kInfo ? LOG_INFO
                                                    : LOG_DEBUG;
    syslog(priority, "%s", message.c_str());
  } else {
    // One fprintf per line: stdio locks the stream, so lines never interleave.
    std::fprintf(stderr, "lcfs-export: %s\n", message.c_str());
  }
}

}  // namespace lcfs::exporter
