// ServiceNotifier: tells systemd how lcfs-export is doing (sd_notify(3)):
// READY=1 once it serves, STATUS= lines with what it serves, WATCHDOG=1 at
// half the unit's WatchdogSec=, STOPPING=1 on the way out. Does nothing when
// not started by systemd (no $NOTIFY_SOCKET). Not thread-safe: the main loop
// owns it.
#pragma once

#include <chrono>
#include <string>

namespace lcfs::exporter {

class ServiceNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  ServiceNotifier();  // reads $NOTIFY_SOCKET and $WATCHDOG_USEC

  void Ready(const std::string& status);
  void Status(const std::string& status);
  void Stopping();

  // When the next WATCHDOG=1 is due (time_point::max() without a watchdog);
  // the main loop wakes by then and calls PingWatchdogIfDue().
  Clock::time_point watchdog_due() const { return watchdog_due_; }
  void PingWatchdogIfDue();

 private:
  std::chrono::microseconds watchdog_interval_{0};  // half of WatchdogSec=
  Clock::time_point watchdog_due_ = Clock::time_point::max();
};

}  // namespace lcfs::exporter
