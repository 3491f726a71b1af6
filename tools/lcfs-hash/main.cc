// lcfs-hash: print the root HASH of a directory tree (or the hash of a file)
// exactly as lcfs-export would publish it, without exporting anything.
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lcfs/byte_size.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/indexer.h"
#include "lcfs/object.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "Usage: lcfs-hash [OPTION]... DIR|FILE\n"
    "Print the lcfs root HASH of DIR (the hash of its directory object), or the\n"
    "file hash of FILE: what `lcfs-export` would publish for it.\n"
    "\n"
    "  -c, --chunk-size=SIZE  chunk size, a power of two from 4K to 16M (default 1M)\n"
    "  -i, --inline-max=N     inline files of at most N bytes, N <= 4096 (default 1024)\n"
    "  -j, --threads=N        hashing threads (default: one per CPU)\n"
    "  -v, --verbose          also print the tree: type, hash, size, chunks, path\n"
    "  -q, --quiet            no progress display and no warnings\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n"
    "\n"
    "Symlinks are listed, never followed; other file systems, special files and\n"
    "unreadable files are skipped with a warning on stderr.\n"
    "\n"
    "Exit status: 0 success (even if some files were skipped), 1 error,\n"
    "2 usage error.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "lcfs-hash: %s\nTry 'lcfs-hash --help' for more information.\n",
               msg.c_str());
  return kExitUsage;
}

void PrintLine(const char* type, const std::string& hash, uint64_t size, uint64_t chunks,
               const std::string& path, const std::string& extra = "") {
  std::printf("%-7s %s %12" PRIu64 " %8" PRIu64 "  %s%s\n", type, hash.c_str(), size, chunks,
              path.c_str(), extra.c_str());
}

// Walks the published tree back out of the mdex, decoding each directory
// object as a receiver would.
bool PrintTree(const lcfs::index::Mdex& mdex, const lcfs::Hash& dir_hash,
               const std::string& prefix) {
  auto bytes = mdex.Read(dir_hash);
  if (!bytes.ok()) {
    std::fprintf(stderr, "lcfs-hash: %s\n", bytes.status().ToString().c_str());
    return false;
  }
  auto dir = lcfs::index::DecodeDirectory(*bytes);
  if (!dir.ok()) {
    std::fprintf(stderr, "lcfs-hash: %s\n", dir.status().ToString().c_str());
    return false;
  }
  for (const lcfs::index::DirEntry& e : dir->entries) {
    const std::string path = prefix + e.name;
    switch (e.type) {
      case lcfs::index::EntryType::kFile:
        PrintLine(e.is_inline ? "inline" : "file", e.ContentHash().ToHex(), e.size,
                  e.is_inline ? 0 : lcfs::index::ChunkCount(e.size, dir->chunk_size), path);
        break;
      case lcfs::index::EntryType::kSymlink:
        PrintLine("symlink", std::string(64, '-'), e.size, 0, path, " -> " + e.symlink_target);
        break;
      case lcfs::index::EntryType::kDirectory:
        PrintLine("dir", e.hash.ToHex(), e.size, 0, path + "/");
        if (!PrintTree(mdex, e.hash, path + "/")) return false;
        break;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  enum { kVersionOpt = 256 };
  static const option kOptions[] = {
      {"chunk-size", required_argument, nullptr, 'c'},
      {"inline-max", required_argument, nullptr, 'i'},
      {"threads", required_argument, nullptr, 'j'},
      {"verbose", no_argument, nullptr, 'v'},
      {"quiet", no_argument, nullptr, 'q'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, kVersionOpt},
      {nullptr, 0, nullptr, 0},
  };
  lcfs::index::IndexOptions opt;
  bool verbose = false, quiet = false;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, ":c:i:j:vqh", kOptions, nullptr)) != -1;) {
    switch (c) {
      case 'c': {
        auto cs = lcfs::index::ParseChunkSize(optarg);
        if (!cs.ok()) return Usage(cs.status().message());
        opt.chunk_size = *cs;
        break;
      }
      case 'i':
      case 'j': {
        char* end = nullptr;
        errno = 0;
        unsigned long v = std::strtoul(optarg, &end, 10);
        if (errno || end == optarg || *end || optarg[0] == '-') {
          return Usage(std::string("invalid number '") + optarg + "'");
        }
        if (c == 'i') {
          if (v > lcfs::index::kMaxInlineSize) return Usage("--inline-max must be at most 4096");
          opt.inline_max = v;
        } else {
          if (v == 0 || v > 1024) return Usage("--threads must be from 1 to 1024");
          opt.threads = static_cast<unsigned>(v);
        }
        break;
      }
      case 'v':
        verbose = true;
        break;
      case 'q':
        quiet = true;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return kExitOk;
      case kVersionOpt:
        std::printf("lcfs-hash %s\n", LCFS_VERSION);
        return kExitOk;
      case ':':
        return Usage(std::string("option '") + argv[optind - 1] + "' needs an argument");
      default:
        return Usage(std::string("unknown option '") + argv[optind - 1] + "'");
    }
  }
  if (optind != argc - 1) return Usage(optind == argc ? "missing DIR|FILE" : "too many arguments");
  const std::string path = argv[optind];

  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  if (show_progress) {
    opt.progress = [start = std::chrono::steady_clock::now()](const lcfs::index::IndexProgress& p) {
      const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
      std::fprintf(stderr, "\r\033[Klcfs-hash: %s",
                   lcfs::index::FormatIndexProgress(p, t.count()).c_str());
    };
  }
  if (quiet) opt.warn = [](const std::string&) {};

  auto result = lcfs::index::IndexPath(path, opt);
  if (show_progress) std::fputs("\r\033[K", stderr);
  if (!result.ok()) {
    std::fprintf(stderr, "lcfs-hash: %s\n", result.status().ToString().c_str());
    return kExitError;
  }
  if (verbose) {
    if (result->root_is_directory) {
      PrintLine("dir", result->root.ToHex(), result->root_size, 0, "./");
      if (!PrintTree(*result->mdex, result->root, "./")) return kExitError;
    } else {
      PrintLine("file", result->root.ToHex(), result->root_size,
                lcfs::index::ChunkCount(result->root_size, result->chunk_size), path);
    }
    const lcfs::index::IndexStats& s = result->stats;
    std::fprintf(stderr,
                 "lcfs-hash: %" PRIu64 " files (%" PRIu64 " inline), %" PRIu64 " dirs, %" PRIu64
                 " symlinks, %" PRIu64 " skipped, %s in %" PRIu64 " chunks of %s\n",
                 s.files, s.inlined, s.dirs, s.symlinks, s.skipped,
                 lcfs::FormatByteSize(s.bytes).c_str(), s.chunks,
                 lcfs::FormatByteSize(result->chunk_size).c_str());
  }
  std::printf("%s\n", result->root.ToHex().c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}
