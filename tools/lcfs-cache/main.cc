// lcfs-cache: inspect and repair the mount's chunk cache without unmounting.
//
//   lcfs-cache check [DIR]            verify every object; exit 1 naming each corrupt one
//   lcfs-cache du [DIR]               objects and bytes, by kind, and how many are pinned
//   lcfs-cache gc --size SIZE [DIR]   evict least recently used objects down to SIZE
//   lcfs-cache evict HASH [DIR]       remove one object
//   lcfs-cache wipe [DIR]             remove every object no mount has pinned
//
// Exit status: 0 done, 1 the cache had a problem (corrupt objects, an object
// pinned or not cached), 2 bad usage or an error.
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cache_admin.h"
#include "cli.h"
#include "lcfs/byte_size.h"
#include "lcfs/cache/chunk_cache.h"

namespace {

using lcfs::cache_tool::EvictReport;

constexpr const char* kUsage =
    "usage: lcfs-cache COMMAND [ARGS] [DIR]\n"
    "  check [DIR]           verify every object against its hash; remove and name each\n"
    "                        corrupt one (a later read fetches it again); exit 1 if any\n"
    "  du [DIR]              objects and bytes in the cache, by kind, and how many are\n"
    "                        pinned by running mounts\n"
    "  gc --size SIZE [DIR]  evict least recently used objects until at most SIZE bytes\n"
    "                        remain (512M, 20G); objects a running mount pins stay\n"
    "  evict HASH [DIR]      remove the object HASH unless a running mount pins it\n"
    "  wipe [DIR]            remove every object no running mount pins\n"
    "DIR defaults to the mount's default: /var/cache/lcfs for root, else\n"
    "$XDG_CACHE_HOME/lcfs (or ~/.cache/lcfs). Safe while mounts run.\n";

int Error(const lcfs::Status& st) {
  std::fprintf(stderr, "lcfs-cache: %s\n", st.message().c_str());
  return 2;
}

void PrintEvicted(const EvictReport& r) {
  std::printf("removed %" PRIu64 " objects (%s), %s remain", r.removed,
              lcfs::FormatByteSize(r.removed_bytes).c_str(),
              lcfs::FormatByteSize(r.remaining_bytes).c_str());
  if (r.pinned_kept > 0)
    std::printf("; %" PRIu64 " objects kept: pinned by a running mount", r.pinned_kept);
  std::printf("\n");
}

int RunCheck(const std::string& dir) {
  auto report = lcfs::cache_tool::Check(dir);
  if (!report.ok()) return Error(report.status());
  for (const auto& o : report->corrupt)
    std::printf("corrupt: %s (removed %s)\n", o.hash.ToHex().c_str(), o.path.c_str());
  std::printf("checked %" PRIu64 " objects (%s): %zu corrupt\n", report->objects,
              lcfs::FormatByteSize(report->bytes).c_str(), report->corrupt.size());
  return report->corrupt.empty() ? 0 : 1;
}

int RunDu(const std::string& dir) {
  auto usage = lcfs::cache_tool::DiskUsage(dir);
  if (!usage.ok()) return Error(usage.status());
  const char* kinds[] = {"chunks", "tree nodes", "directories"};
  auto line = [](const char* what, const lcfs::cache_tool::Usage::Count& c) {
    std::printf("%-12s %10" PRIu64 " objects %14" PRIu64 " bytes (%s)\n", what, c.objects, c.bytes,
                lcfs::FormatByteSize(c.bytes).c_str());
  };
  line("total", usage->total);
  for (size_t k = 0; k < usage->by_kind.size(); ++k) line(kinds[k], usage->by_kind[k]);
  line("pinned", usage->pinned);
  std::printf("%-12s %10" PRIu64 " files\n", "temporary", usage->temporary_files);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  // Options follow the command, then positional arguments.
  std::optional<uint64_t> size;
  lcfs::cli::Parser cli("lcfs-cache", kUsage);
  cli.Value('s', "size", [&size](const char* v) -> lcfs::Status {
    auto parsed = lcfs::ParseByteSize(v);
    if (!parsed.ok()) return parsed.status();
    size = *parsed;
    return lcfs::Status::Ok();
  });
  if (command == "-h" || command == "--help" || command == "-V" || command == "--version")
    return *cli.Parse(argc, argv);
  if (command != "check" && command != "du" && command != "gc" && command != "evict" &&
      command != "wipe")
    return cli.UsageError("unknown command '" + command + "'");
  if (auto exit = cli.Parse(argc, argv, 2)) return *exit;
  const std::vector<std::string>& positional = cli.positional();
  const size_t needed = command == "evict" ? 1 : 0;
  if (positional.size() < needed || positional.size() > needed + 1)
    return cli.UsageError(command +
                          (needed ? " takes HASH and an optional DIR" : " takes an optional DIR"));
  const std::string dir =
      positional.size() > needed ? positional.back() : lcfs::cache::DefaultCacheDir();
  if (size && command != "gc") return Error(lcfs::Status::Error(EINVAL, "--size is for gc"));

  if (command == "check") return RunCheck(dir);
  if (command == "du") return RunDu(dir);
  if (command == "gc") {
    if (!size) return Error(lcfs::Status::Error(EINVAL, "gc needs --size SIZE"));
    auto r = lcfs::cache_tool::CollectGarbage(dir, *size);
    if (!r.ok()) return Error(r.status());
    PrintEvicted(*r);
    return 0;
  }
  if (command == "evict") {
    auto hash = lcfs::Hash::FromHex(positional[0]);
    if (!hash.ok()) return Error(lcfs::Status::Error(EINVAL, "bad HASH '" + positional[0] + "'"));
    auto r = lcfs::cache_tool::EvictHash(dir, *hash);
    if (!r.ok()) {
      if (r.status().code() != ENOENT) return Error(r.status());
      std::fprintf(stderr, "lcfs-cache: %s\n", r.status().message().c_str());
      return 1;
    }
    PrintEvicted(*r);
    return r->pinned_kept > 0 ? 1 : 0;
  }
  // wipe, the one command left
  auto r = lcfs::cache_tool::Wipe(dir);
  if (!r.ok()) return Error(r.status());
  PrintEvicted(*r);
  return 0;
}
