// lcfs-hash: print the root HASH of a directory tree (or the hash of a file)
// exactly as lcfs-export would publish it, without exporting anything.
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli.h"
#include "lcfs/byte_size.h"
#include "lcfs/index/chunking.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/indexer.h"
#include "lcfs/object.h"

namespace {

using lcfs::cli::kExitOk;
constexpr int kExitError = 1;

constexpr char kUsage[] =
    "Usage: lcfs-hash [OPTION]... DIR|FILE\n"
    "Print the lcfs root HASH of DIR (the hash of its directory object), or the\n"
    "file hash of FILE: what `lcfs-export` would publish for it.\n"
    "\n"
    "  -c, --chunk-size=SIZE  chunk size, a power of two from 4K to 16M (default 1M)\n"
    "  -i, --inline-max=N     inline files of at most N bytes, N <= 4096 (default 1024)\n"
    "  -j, --threads=N        hashing threads (default: one per CPU)\n"
    "      --index-cache=FILE reuse and update the index cache in FILE, as lcfs-export\n"
    "                         does: only files that changed since are read\n"
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
  lcfs::index::IndexOptions opt;
  bool verbose = false, quiet = false;
  lcfs::cli::Parser cli("lcfs-hash", kUsage);
  cli.Value('c', "chunk-size", [&](const char* v) -> lcfs::Status {
    auto size = lcfs::index::ParseChunkSize(v);
    if (!size.ok()) return size.status();
    opt.chunk_size = *size;
    return lcfs::Status::Ok();
  });
  cli.Value('i', "inline-max", [&](const char* v) -> lcfs::Status {
    auto n = lcfs::cli::ParseUnsigned(v, 0, lcfs::index::kMaxInlineSize, "--inline-max");
    if (!n.ok()) return n.status();
    opt.inline_max = *n;
    return lcfs::Status::Ok();
  });
  cli.Value('j', "threads", [&](const char* v) -> lcfs::Status {
    auto n = lcfs::cli::ParseUnsigned(v, 1, 1024, "--threads");
    if (!n.ok()) return n.status();
    opt.threads = static_cast<unsigned>(*n);
    return lcfs::Status::Ok();
  });
  cli.Value(0, "index-cache", [&](const char* v) {
    opt.cache_path = v;
    return lcfs::Status::Ok();
  });
  cli.Flag('v', "verbose", &verbose);
  cli.Flag('q', "quiet", &quiet);
  if (auto exit = cli.Parse(argc, argv)) return *exit;
  if (cli.positional().size() != 1)
    return cli.UsageError(cli.positional().empty() ? "missing DIR|FILE" : "too many arguments");
  const std::string path = cli.positional()[0];

  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  if (show_progress) {
    opt.progress = [start = std::chrono::steady_clock::now()](const lcfs::index::IndexProgress& p) {
      const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
      std::fprintf(stderr, "\r\033[Klcfs-hash: %s",
                   lcfs::index::FormatIndexProgress(p, t.count()).c_str());
    };
  }
  if (quiet) opt.warn = opt.note = [](const std::string&) {};

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
                 " symlinks, %" PRIu64 " skipped, %" PRIu64
                 " unchanged since the index cache, %s in %" PRIu64 " chunks of %s\n",
                 s.files, s.inlined, s.dirs, s.symlinks, s.skipped, s.reused,
                 lcfs::FormatByteSize(s.bytes).c_str(), s.chunks,
                 lcfs::FormatByteSize(result->chunk_size).c_str());
  }
  std::printf("%s\n", result->root.ToHex().c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}
