// Status and Result<T>: how lcfs reports errors.
//
// A Status is either OK or an errno-style code plus a message that says what
// went wrong and where ("decode directory: entry 3: name contains '/'"). The
// code lets callers map errors onto system interfaces (FUSE replies, exit
// codes); the message is for humans. Result<T> carries a value or a Status.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lcfs {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  // `code` is an errno value (EINVAL, EIO, ETIMEDOUT, ...); must not be 0.
  static Status Error(int code, std::string message) {
    return Status(code == 0 ? EIO : code, std::move(message));
  }
  // An error from a failed system call: message "what: strerror(errno)".
  static Status FromErrno(int code, const std::string& what);

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK", or the message followed by the symbolic errno name.
  std::string ToString() const;

  // Prefix the message with context, keeping the code: "open index: " + msg.
  Status WithContext(const std::string& context) const;

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}

  int code_ = 0;
  std::string message_;
};

// A value or an error. Access to value() on an error aborts: check ok() first.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::Error(EINVAL, "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lcfs

// Return early from a function returning Status or Result<T> on error.
#define LCFS_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::lcfs::Status lcfs_status_ = (expr);        \
    if (!lcfs_status_.ok()) return lcfs_status_; \
  } while (0)
