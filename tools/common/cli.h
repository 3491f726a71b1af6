// Command-line parsing shared by the tools: one way to declare options, to
// parse numbers, to answer --help and --version, and to report a usage error.
//
//   lcfs::cli::Parser p("lcfs-hash", kUsage);
//   p.Flag('v', "verbose", &verbose);
//   p.Value('j', "threads", [&](const char* v) -> lcfs::Status { ... });
//   p.Value('r', "rate", [&](const char* v) { return cli::Store(ParseRate(v), &rate); });
//   if (auto exit = p.Parse(argc, argv)) return *exit;
//   for (const std::string& arg : p.positional()) ...
//
// A usage error prints "TOOL: WHY" and a hint to stderr and makes the tool
// exit with kExitUsage (2), as every lcfs tool documents.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lcfs/status.h"

namespace lcfs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

class Parser {
 public:
  // `usage` is printed by -h/--help; -V/--version prints "TOOL LCFS_VERSION".
  // Declared options must not use -h or -V.
  Parser(std::string tool, std::string usage);

  // -s / --name without an argument: sets *flag, or calls on(). short_name
  // 0: long form only.
  void Flag(char short_name, std::string name, bool* flag);
  void Flag(char short_name, std::string name, std::function<void()> on);
  // -s V / --name=V / --name V: calls set(V); a Status that is not OK is a
  // usage error whose message is the Status's. short_name 0: long form only.
  void Value(char short_name, std::string name, std::function<Status(const char*)> set);
  // The same, keeping V as given in *text.
  void Value(char short_name, std::string name, std::string* text);

  // Parses argv[first..argc). Returns the exit code when the tool should stop
  // (--help, --version: kExitOk; a usage error: kExitUsage, reported), or
  // nullopt to go on with positional().
  std::optional<int> Parse(int argc, char** argv, int first = 1);
  const std::vector<std::string>& positional() const { return positional_; }

  // Reports a usage error found after Parse; returns kExitUsage.
  int UsageError(const std::string& why) const;

 private:
  struct Option {
    char short_name;
    std::string name;
    std::function<void()> flag;                // a flag, or
    std::function<Status(const char*)> value;  // an option with a value
  };

  std::string tool_;
  std::string usage_;
  std::vector<Option> options_;
  std::vector<std::string> positional_;
};

// Stores the value of `parsed` in *to, or returns its error: what most
// Value setters do with a parser of the text (share::ParseRate, ParseByteSize...).
template <typename T, typename U>
Status Store(Result<T> parsed, U* to) {
  if (!parsed.ok()) return parsed.status();
  *to = std::move(*parsed);
  return Status::Ok();
}

// A decimal number from min to max, digits only (no sign, space or suffix).
// EINVAL naming `what` and the text otherwise.
Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t min, uint64_t max,
                               std::string_view what);

}  // namespace lcfs::cli
