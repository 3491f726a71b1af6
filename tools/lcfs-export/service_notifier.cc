#include "service_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace lcfs::exporter {

ServiceNotifier::ServiceNotifier() {
  uint64_t usec = 0;
  // > 0: the unit set WatchdogSec= for this very process.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    watchdog_due_ = Clock::now() + watchdog_interval_;
  }
}

void ServiceNotifier::Ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void ServiceNotifier::Status(const std::string& status) {
  sd_notifyf(0, "STATUS=%s", status.c_str());
}

void ServiceNotifier::Stopping() { sd_notify(0, "STOPPING=1"); }

void ServiceNotifier::PingWatchdogIfDue() {
  if (watchdog_interval_.count() == 0 || Clock::now() < watchdog_due_) return;
  sd_notify(0, "WATCHDOG=1");
  watchdog_due_ = Clock::now() + watchdog_interval_;
}

}  // namespace lcfs::exporter
