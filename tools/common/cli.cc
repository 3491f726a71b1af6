#include "cli.h"

#include <getopt.h>

#include <charconv>
#include <cstdio>

namespace lcfs::cli {

namespace {
constexpr int kHelp = 'h';
constexpr int kVersion = 'V';
constexpr int kFirstLongOnly = 0x101;
}  // namespace

Parser::Parser(std::string tool, std::string usage)
    : tool_(std::move(tool)), usage_(std::move(usage)) {}

void Parser::Flag(char short_name, std::string name, bool* flag) {
  Flag(short_name, std::move(name), [flag] { *flag = true; });
}

void Parser::Flag(char short_name, std::string name, std::function<void()> on) {
  options_.push_back({short_name, std::move(name), std::move(on), nullptr});
}

void Parser::Value(char short_name, std::string name, std::function<Status(const char*)> set) {
  options_.push_back({short_name, std::move(name), nullptr, std::move(set)});
}

void Parser::Value(char short_name, std::string name, std::string* text) {
  Value(short_name, std::move(name), [text](const char* v) {
    *text = v;
    return Status::Ok();
  });
}

int Parser::UsageError(const std::string& why) const {
  std::fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", tool_.c_str(),
               why.c_str(), tool_.c_str());
  return kExitUsage;
}

std::optional<int> Parser::Parse(int argc, char** argv, int first) {
  // getopt_long's tables, built from the declarations: options without a
  // short form get codes above any char.
  std::string shorts = ":hV";
  std::vector<option> longs;
  std::vector<int> codes;
  for (size_t i = 0; i < options_.size(); ++i) {
    const Option& o = options_[i];
    const int code = o.short_name ? o.short_name : kFirstLongOnly + static_cast<int>(i);
    codes.push_back(code);
    if (o.short_name) {
      shorts += o.short_name;
      if (o.value) shorts += ':';
    }
    longs.push_back({o.name.c_str(), o.value ? required_argument : no_argument, nullptr, code});
  }
  longs.push_back({"help", no_argument, nullptr, kHelp});
  longs.push_back({"version", no_argument, nullptr, kVersion});
  longs.push_back({nullptr, 0, nullptr, 0});

  opterr = 0;
  optind = first;
  for (int c; (c = getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr)) != -1;) {
    if (c == kHelp) {
      std::fputs(usage_.c_str(), stdout);
      return kExitOk;
    }
    if (c == kVersion) {
      std::printf("%s %s\n", tool_.c_str(), LCFS_VERSION);
      return kExitOk;
    }
    if (c == ':')
      return UsageError(std::string("option '") + argv[optind - 1] + "' needs an argument");
    size_t i = 0;
    while (i < codes.size() && codes[i] != c) ++i;
    if (i == codes.size())
      return UsageError(std::string("unknown option '") + argv[optind - 1] + "'");
    const Option& o = options_[i];
    if (o.flag) {
      o.flag();
      continue;
    }
    Status set = o.value(optarg);
    if (!set.ok()) return UsageError(set.message());
  }
  positional_.assign(argv + optind, argv + argc);
  return std::nullopt;
}

Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t min, uint64_t max,
                               std::string_view what) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return Status::Error(EINVAL, std::string(what) + " '" + std::string(text) +
                                     "': not a number from " + std::to_string(min) + " to " +
                                     std::to_string(max));
  return v;
}

}  // namespace lcfs::cli
