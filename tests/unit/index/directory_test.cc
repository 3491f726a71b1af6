#include "lcfs/index/directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "lcfs/index/file_tree.h"

namespace lcfs::index {
namespace {

// Builds directory object bytes field by field, valid or not, independently
// of EncodeDirectory (layout: docs/protocol.md section 3).
class Raw {
 public:
  Raw& U8(uint64_t v) { return Int(v, 1); }
  Raw& U16(uint64_t v) { return Int(v, 2); }
  Raw& U32(uint64_t v) { return Int(v, 4); }
  Raw& U64(uint64_t v) { return Int(v, 8); }
  Raw& Str(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Raw& H(const Hash& h) {
    bytes.insert(bytes.end(), h.bytes.begin(), h.bytes.end());
    return *this;
  }
  Raw& Header(uint64_t count, uint64_t version = 1, uint64_t log2 = 12) {
    return U8(version).U8(log2).U32(count);
  }
  // name, type, mode 0644, mtime 1.5s, size
  Raw& Common(std::string_view name, uint64_t type, uint64_t size, uint64_t mode = 0644) {
    return U8(name.size()).Str(name).U8(type).U16(mode).U64(1).U32(500000000).U64(size);
  }
  Raw& File(std::string_view name, uint64_t size = 10) {
    return Common(name, 1, size).U8(0).H(Sha256Of(name));
  }
  std::vector<uint8_t> bytes;

 private:
  Raw& Int(uint64_t v, int n) {
    for (int s = 8 * (n - 1); s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(v >> s));
    return *this;
  }
};

DirEntry FileEntry(std::string name, uint64_t size = 10) {
  DirEntry e;
  e.name = std::move(name);
  e.type = EntryType::kFile;
  e.mode = 0644;
  e.mtime_sec = 1;
  e.mtime_nsec = 500000000;
  e.size = size;
  e.hash = Sha256Of(e.name);
  return e;
}

Directory Sample() {
  Directory d;
  d.chunk_size = 4096;
  d.entries.push_back(FileEntry("b.bin", 5000));
  DirEntry in;
  in.name = "a.txt";
  in.mode = 0600;
  in.size = 3;
  in.is_inline = true;
  in.inline_data = {'h', 'i', '\n'};
  d.entries.push_back(in);
  DirEntry empty = in;
  empty.name = "empty";
  empty.size = 0;
  empty.inline_data.clear();
  d.entries.push_back(empty);
  DirEntry link;
  link.name = "link";
  link.type = EntryType::kSymlink;
  link.mode = 0777;
  link.symlink_target = "../a.txt";
  link.size = link.symlink_target.size();
  link.mtime_sec = -5;  // before 1970: must survive the round trip
  d.entries.push_back(link);
  DirEntry sub;
  sub.name = "sub";
  sub.type = EntryType::kDirectory;
  sub.mode = 04755;
  sub.size = 6;
  sub.hash = Sha256Of("sub");
  d.entries.push_back(sub);
  return d;
}

std::string DecodeError(const std::vector<uint8_t>& bytes) {
  auto d = DecodeDirectory(bytes);
  return d.ok() ? "" : d.status().message();
}

#define EXPECT_REJECTED(bytes, fragment)                                          \
  do {                                                                            \
    const std::string msg_ = DecodeError(bytes);                                  \
    EXPECT_NE(msg_.find(fragment), std::string::npos) << "got: '" << msg_ << "'"; \
  } while (0)

TEST(Directory, RoundTripsAndSortsCanonically) {
  Directory d = Sample();
  auto bytes = EncodeDirectory(d);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto back = DecodeDirectory(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::vector<std::string> names;
  for (const auto& e : back->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "b.bin", "empty", "link", "sub"}));
  std::sort(d.entries.begin(), d.entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  EXPECT_EQ(*back, d);
  // Any input order gives the same bytes.
  std::mt19937 rng(1);
  for (int i = 0; i < 10; ++i) {
    std::shuffle(d.entries.begin(), d.entries.end(), rng);
    EXPECT_EQ(*EncodeDirectory(d), *bytes);
  }
}

TEST(Directory, SortsByBytesNotLocale) {
  Directory d;
  d.chunk_size = 4096;
  for (const char* n : {"b", "B", "\xc3\xa9", "a", "_", "a.b", "ab"})
    d.entries.push_back(FileEntry(n));
  auto back = DecodeDirectory(*EncodeDirectory(d));
  ASSERT_TRUE(back.ok());
  std::vector<std::string> names;
  for (const auto& e : back->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"B", "_", "a", "a.b", "ab", "b", "\xc3\xa9"}));
  EXPECT_NE(back->Find("ab"), nullptr);
  EXPECT_EQ(back->Find("abc"), nullptr);
}

TEST(Directory, EmptyDirectoryIsSixBytes) {
  Directory d;
  d.chunk_size = 1u << 20;
  auto bytes = EncodeDirectory(d);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, (std::vector<uint8_t>{1, 20, 0, 0, 0, 0}));
  EXPECT_TRUE(DecodeDirectory(*bytes).ok());
}

TEST(Directory, InlineContentHashIsTheChunkHash) {
  Directory d = Sample();
  const DirEntry& a = d.entries[1];
  ASSERT_TRUE(a.is_inline);
  EXPECT_EQ(a.ContentHash(), Sha256Of(std::string("\0hi\n", 4)));
  EXPECT_EQ(d.entries[2].ContentHash(), EmptyFileHash());
}

TEST(Directory, EncoderRejectsWhatTheDecoderWould) {
  auto fails = [](Directory d, const char* fragment) {
    auto r = EncodeDirectory(d);
    ASSERT_FALSE(r.ok()) << fragment;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  };
  Directory d = Sample();
  d.entries.push_back(FileEntry("b.bin"));
  fails(d, "duplicate");
  for (const char* bad : {"", ".", "..", "a/b"}) {
    d = Sample();
    d.entries[0].name = bad;
    fails(d, "name");
  }
  d = Sample();
  d.entries[0].name = std::string(256, 'x');
  fails(d, "exceeds 255");
  d = Sample();
  d.entries[0].name = std::string("a\0b", 3);
  fails(d, "NUL");
  d = Sample();
  d.chunk_size = 5000;
  fails(d, "chunk size");
  d = Sample();
  d.entries[0].mode = 010644;
  fails(d, "mode");
  d = Sample();
  d.entries[0].mtime_nsec = 1000000000;
  fails(d, "nanoseconds");
  d = Sample();
  d.entries[3].symlink_target = std::string(4096, 'x');
  d.entries[3].size = 4096;
  fails(d, "PATH_MAX");
  d = Sample();
  d.entries[1].inline_data.push_back('!');
  fails(d, "inline data length");
}

TEST(DirectoryDecode, AcceptsTheRawBuilder) {
  // Guards the tests below: the raw builder makes what the encoder makes.
  Directory d;
  d.chunk_size = 4096;
  d.entries.push_back(FileEntry("a"));
  d.entries.push_back(FileEntry("b"));
  EXPECT_EQ(Raw().Header(2).File("a").File("b").bytes, *EncodeDirectory(d));
}

TEST(DirectoryDecode, RejectsBadHeaders) {
  EXPECT_REJECTED(Raw().bytes, "truncated header");
  EXPECT_REJECTED(Raw().U8(1).U8(12).U16(0).bytes, "truncated header");
  EXPECT_REJECTED(Raw().Header(0, 2).bytes, "unknown version 2");
  EXPECT_REJECTED(Raw().Header(0, 0).bytes, "unknown version 0");
  EXPECT_REJECTED(Raw().Header(0, 1, 11).bytes, "chunk size");
  EXPECT_REJECTED(Raw().Header(0, 1, 25).bytes, "chunk size");
  EXPECT_REJECTED(Raw().Header(0, 1, 200).bytes, "chunk size");
  // A count the bytes cannot hold is rejected before anything is allocated.
  EXPECT_REJECTED(Raw().Header(0xffffffff).bytes, "cannot fit");
  EXPECT_REJECTED(Raw().Header(2).File("a").bytes, "entry 1 (\"\"): truncated");
  EXPECT_REJECTED(Raw().Header(0).U8(0).bytes, "trailing");
  EXPECT_REJECTED(Raw().Header(1).File("a").U8(0).bytes, "trailing");
}

TEST(DirectoryDecode, RejectsTruncationAnywhere) {
  const std::vector<uint8_t> full = *EncodeDirectory(Sample());
  for (size_t n = 0; n < full.size(); ++n) {
    auto d = DecodeDirectory(std::span(full).first(n));
    EXPECT_FALSE(d.ok()) << "accepted a prefix of " << n << " bytes";
  }
  std::vector<uint8_t> longer = full;
  longer.push_back(0);
  EXPECT_FALSE(DecodeDirectory(longer).ok());
}

TEST(DirectoryDecode, RejectsBadNames) {
  EXPECT_REJECTED(Raw().Header(1).U8(0).Str("").U8(1).U16(0).U64(0).U32(0).U64(1).U8(0).H({}).bytes,
                  "empty name");
  EXPECT_REJECTED(Raw().Header(1).File(".").bytes, "name is . or ..");
  EXPECT_REJECTED(Raw().Header(1).File("..").bytes, "name is . or ..");
  EXPECT_REJECTED(Raw().Header(1).File("a/b").bytes, "contains '/'");
  EXPECT_REJECTED(Raw().Header(1).File(std::string("a\0b", 3)).bytes, "contains NUL");
  // 255 is the longest name: fine. Names are at most 255 by construction
  // (one length byte), so the limit is checked by the encoder.
  EXPECT_EQ(DecodeError(Raw().Header(1).File(std::string(255, 'n')).bytes), "");
}

TEST(DirectoryDecode, RejectsUnsortedAndDuplicateNames) {
  EXPECT_REJECTED(Raw().Header(2).File("b").File("a").bytes, "not sorted");
  EXPECT_REJECTED(Raw().Header(2).File("a").File("a").bytes, "duplicate");
  EXPECT_REJECTED(Raw().Header(3).File("a").File("c").File("b").bytes, "entry 2");
}

TEST(DirectoryDecode, RejectsBadFields) {
  EXPECT_REJECTED(Raw().Header(1).Common("a", 0, 1).U8(0).H({}).bytes, "unknown type 0");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 4, 1).U8(0).H({}).bytes, "unknown type 4");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, 1, 0100644).U8(0).H({}).bytes, "mode");
  EXPECT_REJECTED(Raw()
                      .Header(1)
                      .U8(1)
                      .Str("a")
                      .U8(1)
                      .U16(0644)
                      .U64(0)
                      .U32(1000000000)
                      .U64(1)
                      .U8(0)
                      .H({})
                      .bytes,
                  "nanoseconds");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, 1).U8(2).H({}).bytes, "unknown file storage 2");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, 0).U8(0).H({}).bytes,
                  "empty file not stored inline");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, uint64_t{1} << 63).U8(0).H({}).bytes, "2^63");
}

TEST(DirectoryDecode, RejectsBadInlineData) {
  EXPECT_EQ(DecodeError(Raw().Header(1).Common("a", 1, 3).U8(1).Str("abc").bytes), "");
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, 4097).U8(1).Str(std::string(4097, 'x')).bytes,
                  "exceeds 4096");
  // A size larger than what follows: truncated, not an over-read.
  EXPECT_REJECTED(Raw().Header(1).Common("a", 1, 100).U8(1).Str(std::string(20, 'x')).bytes,
                  "truncated at inline data");
}

TEST(DirectoryDecode, RejectsBadSymlinks) {
  EXPECT_EQ(DecodeError(Raw().Header(1).Common("l", 3, 4095).Str(std::string(4095, 't')).bytes),
            "");
  EXPECT_REJECTED(Raw().Header(1).Common("l", 3, 4096).Str(std::string(4096, 't')).bytes,
                  "longer than PATH_MAX");
  EXPECT_REJECTED(Raw().Header(1).Common("l", 3, 0).U8(0).bytes, "empty symlink target");
  EXPECT_REJECTED(Raw().Header(1).Common("l", 3, 3).Str(std::string("a\0b", 3)).bytes,
                  "target contains NUL");
  EXPECT_REJECTED(Raw().Header(1).Common("l", 3, 10).Str("abc").bytes,
                  "truncated at symlink target");
}

TEST(DirectoryDecode, RejectsBadDirectorySizes) {
  EXPECT_EQ(DecodeError(Raw().Header(1).Common("d", 2, 6).H({}).bytes), "");
  EXPECT_REJECTED(Raw().Header(1).Common("d", 2, 5).H({}).bytes, "directory object size");
  EXPECT_REJECTED(Raw().Header(1).Common("d", 2, uint64_t{1} << 40).H({}).bytes,
                  "directory object size");
}

TEST(DirectoryDecode, ErrorsNameTheEntry) {
  const std::string msg = DecodeError(Raw().Header(3).File("a").File("b").File("c/d").bytes);
  EXPECT_NE(msg.find("decode directory: entry 2 (\"c/d\")"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lcfs::index
