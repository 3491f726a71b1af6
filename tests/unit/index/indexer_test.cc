#include "lcfs/index/indexer.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <map>

#include "lcfs/index/file_tree.h"
#include "temp_tree.h"

namespace lcfs::index {
namespace {

using testing::RandomString;
using testing::TempTree;

constexpr uint32_t kCs = 4096;

IndexOptions Opts(unsigned threads = 2) {
  IndexOptions o;
  o.chunk_size = kCs;
  o.threads = threads;
  o.warn = [](const std::string&) {};
  return o;
}

Hash RootOf(const std::string& path, IndexOptions o = Opts()) {
  auto r = IndexPath(path, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->root : Hash{};
}

Hash DataHash(const std::string& data, uint32_t cs = kCs) {
  auto t =
      FileTree::FromData(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()), cs);
  return t->root();
}

// Reads the whole published tree back through an ObjectSource, as a
// receiver would: every directory decoded, every chunk verified and
// reassembled. Returns path -> content (symlinks as "-> target", dirs "/").
std::map<std::string, std::string> ReadBack(const IndexResult& r) {
  MdexObjectSource src(r.mdex);
  std::map<std::string, std::string> out;
  const auto timeout = std::chrono::milliseconds(100);
  std::function<void(const Hash&, const std::string&)> walk = [&](const Hash& h,
                                                                  const std::string& prefix) {
    auto bytes = src.Fetch({.hash = h, .kind = ObjectKind::kDirectory, .timeout = timeout});
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto dir = DecodeDirectory(*bytes);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    for (const DirEntry& e : dir->entries) {
      const std::string path = prefix + e.name;
      if (e.type == EntryType::kDirectory) {
        out[path] = "/";
        walk(e.hash, path + "/");
      } else if (e.type == EntryType::kSymlink) {
        out[path] = "-> " + e.symlink_target;
      } else if (e.is_inline) {
        out[path] = std::string(e.inline_data.begin(), e.inline_data.end());
      } else {
        auto shape = FileShape::Make(e.size, dir->chunk_size);
        ASSERT_TRUE(shape.ok());
        std::string content;
        for (uint64_t c = 0; c < shape->chunk_count(); ++c) {
          auto ch = FetchChunkHash(src, e.hash, *shape, c, timeout);
          ASSERT_TRUE(ch.ok()) << ch.status().ToString();
          auto chunk = src.Fetch({.hash = *ch,
                                  .kind = ObjectKind::kChunk,
                                  .expected_size = ChunkLength(e.size, dir->chunk_size, c),
                                  .timeout = timeout});
          ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
          content.append(chunk->begin(), chunk->end());
        }
        out[path] = content;
      }
    }
  };
  walk(r.root, "");
  return out;
}

void MakeSampleTree(const TempTree& t) {
  t.Write("empty", "");
  t.Write("small.txt", "hello\n");
  t.Write("one_chunk", RandomString(kCs, 1));
  t.Write("one_chunk_plus_one", RandomString(kCs + 1, 2));
  t.Write("sub/deeper/big", RandomString(300 * kCs + 17, 3), 0755);
  t.Write("sub/inline_max", RandomString(kDefaultInlineMax, 4));
  t.Write("sub/inline_max_plus_one", RandomString(kDefaultInlineMax + 1, 5));
  t.Mkdir("sub/empty_dir");
  t.Symlink("../small.txt", "sub/link");
  t.Symlink("/nonexistent/dangling", "dangling");
  t.PinDirMtimes();
}

TEST(Indexer, PublishedTreeReadsBackExactly) {
  TempTree t;
  MakeSampleTree(t);
  auto r = IndexPath(t.root(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->root_is_directory);
  EXPECT_EQ(r->stats.files, 7u);
  EXPECT_EQ(r->stats.inlined, 3u);  // empty, small.txt, inline_max
  EXPECT_EQ(r->stats.dirs, 4u);
  EXPECT_EQ(r->stats.symlinks, 2u);
  EXPECT_EQ(r->stats.skipped, 0u);
  std::map<std::string, std::string> want = {
      {"dangling", "-> /nonexistent/dangling"},
      {"empty", ""},
      {"one_chunk", RandomString(kCs, 1)},
      {"one_chunk_plus_one", RandomString(kCs + 1, 2)},
      {"small.txt", "hello\n"},
      {"sub", "/"},
      {"sub/deeper", "/"},
      {"sub/deeper/big", RandomString(300 * kCs + 17, 3)},
      {"sub/empty_dir", "/"},
      {"sub/inline_max", RandomString(kDefaultInlineMax, 4)},
      {"sub/inline_max_plus_one", RandomString(kDefaultInlineMax + 1, 5)},
      {"sub/link", "-> ../small.txt"},
  };
  EXPECT_EQ(ReadBack(*r), want);
}

TEST(Indexer, FileHashesMatchTheTreeDefinition) {
  TempTree t;
  MakeSampleTree(t);
  auto r = IndexPath(t.root(), Opts());
  ASSERT_TRUE(r.ok());
  auto root = DecodeDirectory(*r->mdex->Read(r->root));
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->chunk_size, kCs);
  EXPECT_EQ(root->Find("empty")->ContentHash(), EmptyFileHash());
  EXPECT_EQ(root->Find("one_chunk")->hash, DataHash(RandomString(kCs, 1)));
  EXPECT_EQ(root->Find("one_chunk_plus_one")->hash, DataHash(RandomString(kCs + 1, 2)));
  EXPECT_EQ(root->Find("small.txt")->ContentHash(), DataHash("hello\n"));
  EXPECT_EQ(root->Find("one_chunk")->mode, 0644);
  EXPECT_EQ(root->Find("one_chunk")->mtime_sec, 1700000000);
  // A single file is named by its file hash.
  auto single = IndexPath(t.Path("sub/deeper/big"), Opts());
  ASSERT_TRUE(single.ok());
  EXPECT_FALSE(single->root_is_directory);
  EXPECT_EQ(single->root, DataHash(RandomString(300 * kCs + 17, 3)));
  auto empty = IndexPath(t.Path("empty"), Opts());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->root, EmptyFileHash());
}

TEST(Indexer, LargeFileSplitAcrossThreadsHashesTheSame) {
  TempTree t;
  const std::string data = RandomString((17u << 20) + 5, 6);  // more than one 16 MiB segment
  t.Write("f", data);
  const Hash want = DataHash(data);
  for (unsigned threads : {1u, 3u}) EXPECT_EQ(RootOf(t.Path("f"), Opts(threads)), want) << threads;
}

TEST(Indexer, DeterministicAcrossRunsThreadsAndReadOrder) {
  TempTree a, b;
  MakeSampleTree(a);
  // The same tree created in reverse order: different inode numbers and, on
  // most file systems, a different readdir order.
  b.Symlink("/nonexistent/dangling", "dangling");
  b.Mkdir("sub");
  b.Symlink("../small.txt", "sub/link");
  b.Mkdir("sub/empty_dir");
  b.Write("sub/inline_max_plus_one", RandomString(kDefaultInlineMax + 1, 5));
  b.Write("sub/inline_max", RandomString(kDefaultInlineMax, 4));
  b.Write("sub/deeper/big", RandomString(300 * kCs + 17, 3), 0755);
  b.Write("one_chunk_plus_one", RandomString(kCs + 1, 2));
  b.Write("one_chunk", RandomString(kCs, 1));
  b.Write("small.txt", "hello\n");
  b.Write("empty", "");
  b.PinDirMtimes();
  const Hash first = RootOf(a.root(), Opts(1));
  EXPECT_EQ(RootOf(a.root(), Opts(1)), first);
  EXPECT_EQ(RootOf(a.root(), Opts(4)), first);
  EXPECT_EQ(RootOf(b.root(), Opts(2)), first);
  EXPECT_EQ(RootOf(a.root() + "/", Opts(2)), first);
}

// Each change that must move the root, applied to a fresh copy of the tree.
TEST(Indexer, RootChangesWithContentNameModeTypeTargetAndMtime) {
  struct Change {
    const char* what;
    std::function<void(const TempTree&)> apply;
  } changes[] = {
      {"one byte of a big file",
       [](const TempTree& t) {
         std::string d = RandomString(300 * kCs + 17, 3);
         d[150 * kCs] ^= 1;
         t.Write("sub/deeper/big", d, 0755);
       }},
      {"inline content", [](const TempTree& t) { t.Write("small.txt", "hellO\n"); }},
      {"name",
       [](const TempTree& t) {
         std::filesystem::rename(t.Path("small.txt"), t.Path("small.TXT"));
       }},
      {"mode", [](const TempTree& t) { ::chmod(t.Path("one_chunk").c_str(), 0600); }},
      {"mode of a directory", [](const TempTree& t) { ::chmod(t.Path("sub").c_str(), 0700); }},
      {"type file->symlink",
       [](const TempTree& t) {
         std::filesystem::remove(t.Path("empty"));
         t.Symlink("x", "empty");
       }},
      {"type file->dir",
       [](const TempTree& t) {
         std::filesystem::remove(t.Path("empty"));
         t.Mkdir("empty");
       }},
      {"symlink target",
       [](const TempTree& t) {
         std::filesystem::remove(t.Path("sub/link"));
         t.Symlink("../small.tx", "sub/link");
       }},
      {"mtime", [](const TempTree& t) { t.SetMtime("one_chunk", 1700000000, 1); }},
      {"new empty file", [](const TempTree& t) { t.Write("sub/empty_dir/e", ""); }},
  };
  TempTree base;
  MakeSampleTree(base);
  const Hash base_root = RootOf(base.root());
  for (const Change& c : changes) {
    TempTree t;
    MakeSampleTree(t);
    ASSERT_EQ(RootOf(t.root()), base_root);
    c.apply(t);
    t.PinDirMtimes();
    EXPECT_NE(RootOf(t.root()), base_root) << c.what;
  }
}

TEST(Indexer, RootIgnoresAtimeOwnerAndInode) {
  TempTree t;
  MakeSampleTree(t);
  const Hash before = RootOf(t.root());
  // atime
  struct timespec ts[2] = {{12345, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, t.Path("one_chunk").c_str(), ts, 0), 0);
  // owner (as root we can give it away; otherwise this part is a no-op)
  if (::geteuid() == 0) {
    ASSERT_EQ(::lchown(t.Path("small.txt").c_str(), 4321, 4321), 0);
  }
  // inode: replace a file by an identical copy
  t.Write("one_chunk_plus_one.new", RandomString(kCs + 1, 2));
  std::filesystem::rename(t.Path("one_chunk_plus_one.new"), t.Path("one_chunk_plus_one"));
  t.PinDirMtimes();
  EXPECT_EQ(RootOf(t.root()), before);
}

TEST(Indexer, FollowsOnlyTheRootSymlink) {
  TempTree t;
  t.Write("d/f", "content");
  t.Symlink(".", "d/loop");  // would never end if followed
  t.Symlink("d", "to_d");
  t.PinDirMtimes();
  auto direct = IndexPath(t.Path("d"), Opts());
  auto via_link = IndexPath(t.Path("to_d"), Opts());
  ASSERT_TRUE(direct.ok() && via_link.ok());
  EXPECT_EQ(direct->root, via_link->root);
  EXPECT_EQ(direct->stats.symlinks, 1u);
  EXPECT_EQ(direct->stats.dirs, 1u);
  auto root = DecodeDirectory(*direct->mdex->Read(direct->root));
  ASSERT_NE(root->Find("loop"), nullptr);
  EXPECT_EQ(root->Find("loop")->type, EntryType::kSymlink);
  EXPECT_EQ(root->Find("loop")->symlink_target, ".");
}

TEST(Indexer, SkipsSpecialFilesWithAWarning) {
  TempTree t;
  t.Write("regular", "x");
  ASSERT_EQ(::mkfifo(t.Path("fifo").c_str(), 0644), 0);
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = t.Path("sock");
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
  std::vector<std::string> warnings;
  IndexOptions o = Opts();
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto r = IndexPath(t.root(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stats.files, 1u);
  EXPECT_EQ(r->stats.skipped, 2u);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("fifo"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("sock"), std::string::npos) << warnings[1];
  auto root = DecodeDirectory(*r->mdex->Read(r->root));
  ASSERT_EQ(root->entries.size(), 1u);
  EXPECT_EQ(root->entries[0].name, "regular");
}

// Unreadable files and directories are skipped, not fatal. Root reads
// everything, so the indexing runs in a child that dropped to nobody.
TEST(Indexer, SkipsUnreadableFilesAndDirectories) {
  TempTree t;
  t.Write("readable", "ok");
  t.Write("secret", RandomString(5000, 8), 0);
  t.Write("secret_small", "tiny", 0);
  t.Mkdir("closed", 0);
  t.PinDirMtimes();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    auto r = IndexPath(t.root(), Opts());
    if (!r.ok()) ::_exit(11);
    if (r->stats.files != 1 || r->stats.skipped != 3 || r->stats.dirs != 1) ::_exit(12);
    auto root = DecodeDirectory(*r->mdex->Read(r->root));
    ::_exit(root.ok() && root->entries.size() == 1 && root->entries[0].name == "readable" ? 0 : 13);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Indexer, DoesNotCrossMountPoints) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  TempTree t;
  t.Write("a", "a");
  t.Mkdir("mnt");
  if (::mount("lcfs-test", t.Path("mnt").c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{t.Path("mnt")};
  t.Write("mnt/inside", "must not be indexed");
  auto r = IndexPath(t.root(), Opts());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stats.skipped, 1u);
  EXPECT_EQ(r->stats.files, 1u);
  auto root = DecodeDirectory(*r->mdex->Read(r->root));
  EXPECT_EQ(root->Find("mnt"), nullptr);
}

TEST(Indexer, InlineThresholdIsAnOption) {
  TempTree t;
  t.Write("f", RandomString(100, 1));
  IndexOptions o = Opts();
  o.inline_max = 99;
  auto r = IndexPath(t.root(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stats.inlined, 0u);
  o.inline_max = 100;
  r = IndexPath(t.root(), o);
  EXPECT_EQ(r->stats.inlined, 1u);
  o.inline_max = kMaxInlineSize + 1;
  EXPECT_FALSE(IndexPath(t.root(), o).ok());
  o = Opts();
  o.chunk_size = 1000;
  EXPECT_FALSE(IndexPath(t.root(), o).ok());
}

TEST(Indexer, ReportsProgressUpToTheTotal) {
  TempTree t;
  t.Write("a", RandomString(50000, 1));
  t.Write("b", RandomString(7000, 2));
  IndexOptions o = Opts();
  std::vector<IndexProgress> seen;
  o.progress = [&](const IndexProgress& p) { seen.push_back(p); };
  ASSERT_TRUE(IndexPath(t.root(), o).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().bytes_total, 57000u);
  EXPECT_EQ(seen.back().bytes_done, 57000u);
  EXPECT_EQ(seen.back().files_done, 2u);
}

TEST(Indexer, ProgressLineSaysFilesBytesShareAndRate) {
  IndexProgress p;
  p.files_done = 12;
  p.files_total = 48;
  p.bytes_done = 3u << 20;
  p.bytes_total = 12u << 20;
  EXPECT_EQ(FormatIndexProgress(p, 2.0), "12/48 files, 3.0 MiB/12.0 MiB (25%), 1.5 MiB/s");
  EXPECT_EQ(FormatIndexProgress(IndexProgress{}, 0), "0/0 files, 0 B/0 B (100%), 0 B/s");
}

TEST(Indexer, ErrorsOnAMissingOrSpecialRoot) {
  TempTree t;
  auto r = IndexPath(t.Path("missing"), Opts());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ENOENT);
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
  ASSERT_EQ(::mkfifo(t.Path("fifo").c_str(), 0644), 0);
  EXPECT_EQ(IndexPath(t.Path("fifo"), Opts()).status().code(), EINVAL);
}

}  // namespace
}  // namespace lcfs::index
