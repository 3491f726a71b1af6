#include "lcfs/status.h"

#include <cstring>

namespace lcfs {

Status Status::FromErrno(int code, const std::string& what) {
  return Error(code, what + ": " + std::strerror(code));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  const char* name = strerrorname_np(code_);
  return message_ + " [" + (name ? name : std::to_string(code_)) + "]";
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace lcfs
