// The test vectors of docs/protocol.md sections 2-4. The expected values
// were computed with an independent implementation (Python hashlib + struct,
// following the document), and the test also checks that the document
// still shows them.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "lcfs/index/directory.h"
#include "lcfs/index/file_tree.h"

namespace lcfs::index {
namespace {

constexpr char kEmptyFile[] = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";
constexpr char kFileAbc[] = "609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1";
constexpr char kChunk0[] = "8d0d7e85fe8e1cbd02f3f050bcfbb14e2e159d381bf0cd66eab71d1262d152b3";
constexpr char kChunk1[] = "57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31";
constexpr char kFileBig[] = "174f457ef1ff1350550f803d856655d0641b2e1bb1ada513fd142bda07571c32";
constexpr char kSubBytes[] = "010c00000000";
constexpr char kSubHash[] = "707fb0182da642cae108f8a14692545dbb8831c2dc5b2fa5f25b1145de6d82ee";
constexpr char kRootBytes[] =
    "010c0000000405612e7478740101a4000000006553f1000000000000000000000000030168690a03626967"
    "0101a4000000006553f1001dcd6500000000000000100100174f457ef1ff1350550f803d856655d0641b2e"
    "1bb1ada513fd142bda07571c32046c696e6b0301ff000000006553f100000000000000000000000005612e"
    "747874037375620201ed000000006553f100000000000000000000000006707fb0182da642cae108f8a146"
    "92545dbb8831c2dc5b2fa5f25b1145de6d82ee";
constexpr char kRootHash[] = "8659c55880966b26072421f0fbcd627bb2c63de14b1bdefd2995d47383a7aebe";

constexpr uint32_t kCs = 4096;

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

DirEntry Entry(std::string name, EntryType type, uint16_t mode, uint32_t nsec, uint64_t size) {
  DirEntry e;
  e.name = std::move(name);
  e.type = type;
  e.mode = mode;
  e.mtime_sec = 1700000000;
  e.mtime_nsec = nsec;
  e.size = size;
  return e;
}

Directory VectorRoot() {
  const std::string big = std::string(4096, 'a') + "b";
  Directory root;
  root.chunk_size = kCs;
  DirEntry a = Entry("a.txt", EntryType::kFile, 0644, 0, 3);
  a.is_inline = true;
  a.inline_data = {'h', 'i', '\n'};
  DirEntry b = Entry("big", EntryType::kFile, 0644, 500000000, big.size());
  b.hash = FileTree::FromData(Bytes(big), kCs)->root();
  DirEntry l = Entry("link", EntryType::kSymlink, 0777, 0, 5);
  l.symlink_target = "a.txt";
  Directory sub;
  sub.chunk_size = kCs;
  const std::vector<uint8_t> sub_bytes = *EncodeDirectory(sub);
  DirEntry s = Entry("sub", EntryType::kDirectory, 0755, 0, sub_bytes.size());
  s.hash = DirectoryHash(sub_bytes);
  // Deliberately out of order: the encoding sorts.
  root.entries = {s, l, b, a};
  return root;
}

TEST(ProtocolVectors, Files) {
  EXPECT_EQ(FileTree::FromData({}, kCs)->root().ToHex(), kEmptyFile);
  EXPECT_EQ(FileTree::FromData(Bytes("abc"), kCs)->root().ToHex(), kFileAbc);
  const std::string big = std::string(4096, 'a') + "b";
  auto t = FileTree::FromData(Bytes(big), kCs);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->leaves()[0].ToHex(), kChunk0);
  EXPECT_EQ(t->leaves()[1].ToHex(), kChunk1);
  EXPECT_EQ(ToHex(t->EncodeNode(1, 0)), std::string(kChunk0) + kChunk1);
  EXPECT_EQ(t->root().ToHex(), kFileBig);
}

TEST(ProtocolVectors, DirectoriesAndRoot) {
  Directory sub;
  sub.chunk_size = kCs;
  auto sub_bytes = EncodeDirectory(sub);
  EXPECT_EQ(ToHex(*sub_bytes), kSubBytes);
  EXPECT_EQ(DirectoryHash(*sub_bytes).ToHex(), kSubHash);
  auto root_bytes = EncodeDirectory(VectorRoot());
  ASSERT_TRUE(root_bytes.ok()) << root_bytes.status().ToString();
  EXPECT_EQ(ToHex(*root_bytes), kRootBytes);
  EXPECT_EQ(DirectoryHash(*root_bytes).ToHex(), kRootHash);
  auto decoded = DecodeDirectory(*root_bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*EncodeDirectory(*decoded), *root_bytes);
}

TEST(ProtocolVectors, TheDocumentShowsTheseValues) {
  std::ifstream in(std::string(LCFS_SOURCE_DIR) + "/docs/protocol.md");
  ASSERT_TRUE(in) << "docs/protocol.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  // The document wraps long hex at any point and may indent it: compare
  // with whitespace removed.
  std::string doc;
  for (char c : ss.str()) {
    if (!std::isspace(static_cast<unsigned char>(c))) doc += c;
  }
  for (const char* v : {kEmptyFile, kFileAbc, kChunk0, kChunk1, kFileBig, kSubBytes, kSubHash,
                        kRootBytes, kRootHash}) {
    EXPECT_NE(doc.find(v), std::string::npos) << "protocol.md lacks " << v;
  }
}

}  // namespace
}  // namespace lcfs::index
