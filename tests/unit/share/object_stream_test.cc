#include "share/object_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "lcfs/fec/decoder.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/indexer.h"
#include "share_test_util.h"

namespace lcfs::share {
namespace {

using testing::RandomBytes;
using testing::ScratchDir;

struct Packet {
  fec::Oti oti;
  fec::PayloadId id;
  std::vector<uint8_t> symbol;
};

Packet Next(ObjectStream& s, const Hash& hash, ObjectKind kind) {
  std::vector<uint8_t> buf(s.packet_size());
  Status st = s.NextPacket(buf);
  EXPECT_TRUE(st.ok()) << st.ToString();
  net::PacketView v;
  net::PacketCounters counters;
  EXPECT_EQ(net::ParsePacketFor(buf, hash, kind, &v, &counters), net::PacketDrop::kNone);
  Packet p;
  p.oti = *fec::Oti::Decode(v.header.oti);
  p.id = *fec::PayloadId::Decode(v.header.payload_id);
  p.symbol.assign(v.symbol.begin(), v.symbol.end());
  return p;
}

// An mdex holding one chunk-sized file and its chunk hash.
struct OneChunk {
  ScratchDir dir;
  std::string path;
  std::vector<uint8_t> bytes;
  Hash hash;
  std::shared_ptr<index::Mdex> mdex;
};

std::unique_ptr<OneChunk> MakeOneChunk(size_t size) {
  auto c = std::make_unique<OneChunk>();
  c->bytes = RandomBytes(size, 42);
  c->path = c->dir.Write("f", c->bytes);
  auto index = index::IndexPath(c->path);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  c->hash = index->root;
  c->mdex = index->mdex;
  EXPECT_EQ(c->hash, ObjectHash(ObjectKind::kChunk, c->bytes));
  return c;
}

TEST(OtiForObject, SymbolSizeFitsAPacket) {
  EXPECT_EQ(kShareSymbolSize % kShareAlignment, 0);
  EXPECT_LE(kShareSymbolSize, net::kMaxSymbolSize);
  EXPECT_GT(kShareSymbolSize + kShareAlignment, net::kMaxSymbolSize);
  EXPECT_EQ(OtiForObject(1 << 20)->symbol_size, kShareSymbolSize);
  EXPECT_EQ(OtiForObject(1 << 20)->source_blocks, 1);
  EXPECT_EQ(OtiForObject(37)->symbol_size, 40);  // small: one symbol, rounded up to Al
  EXPECT_EQ(OtiForObject(40)->symbol_size, 40);
  EXPECT_FALSE(OtiForObject(0).ok());
}

TEST(ObjectStream, SourceSymbolsFirstThenRepairThatDecodes) {
  auto c = MakeOneChunk(100'000);
  ObjectStream s(c->hash, ObjectKind::kChunk);
  EXPECT_FALSE(s.loaded());
  ASSERT_TRUE(s.Load(*c->mdex).ok());
  const uint64_t k = s.source_symbols();
  EXPECT_EQ(k, (100'000 + kShareSymbolSize - 1) / kShareSymbolSize);
  EXPECT_EQ(s.packet_size(), net::kPacketHeaderSize + kShareSymbolSize);

  // The source symbols are the object's bytes, in order.
  std::vector<uint8_t> rebuilt;
  for (uint64_t i = 0; i < k; ++i) {
    Packet p = Next(s, c->hash, ObjectKind::kChunk);
    EXPECT_EQ(p.id.sbn, 0);
    EXPECT_EQ(p.id.esi, i);
    rebuilt.insert(rebuilt.end(), p.symbol.begin(), p.symbol.end());
  }
  rebuilt.resize(c->bytes.size());
  EXPECT_EQ(rebuilt, c->bytes);
  EXPECT_EQ(s.MemoryUsage(), c->bytes.size());  // no intermediate symbols yet

  // Repair symbols alone decode the object (the fountain works).
  auto oti = *OtiForObject(c->bytes.size());
  auto decoder = fec::ObjectDecoder::Create(oti);
  ASSERT_TRUE(decoder.ok());
  for (uint64_t i = 0; i < k + 10 && !decoder->complete(); ++i) {
    Packet p = Next(s, c->hash, ObjectKind::kChunk);
    EXPECT_EQ(p.oti, oti);
    EXPECT_EQ(p.id.esi, k + i);
    ASSERT_TRUE(decoder->Add(p.id.sbn, p.id.esi, p.symbol).ok());
  }
  ASSERT_TRUE(decoder->complete());
  EXPECT_EQ(decoder->TakeObject(), c->bytes);
  EXPECT_GT(s.MemoryUsage(), c->bytes.size());
}

TEST(ObjectStream, UnloadKeepsThePosition) {
  auto c = MakeOneChunk(20'000);
  ObjectStream s(c->hash, ObjectKind::kChunk);
  ASSERT_TRUE(s.Load(*c->mdex).ok());
  for (int i = 0; i < 5; ++i) Next(s, c->hash, ObjectKind::kChunk);
  s.Unload();
  EXPECT_FALSE(s.loaded());
  EXPECT_EQ(s.MemoryUsage(), 0u);
  std::vector<uint8_t> buf(2000);
  EXPECT_FALSE(s.NextPacket(buf).ok());
  ASSERT_TRUE(s.Load(*c->mdex).ok());
  EXPECT_EQ(Next(s, c->hash, ObjectKind::kChunk).id.esi, 5u);
}

TEST(ObjectStream, TinyObjectIsOneSmallPacket) {
  auto c = MakeOneChunk(1000);
  ObjectStream s(c->hash, ObjectKind::kChunk);
  ASSERT_TRUE(s.Load(*c->mdex).ok());
  EXPECT_EQ(s.source_symbols(), 1u);
  EXPECT_EQ(s.packet_size(), net::kPacketHeaderSize + 1000);
}

TEST(ObjectStream, ChangedFileIsRefusedEvenWithTheSameSizeAndMtime) {
  auto c = MakeOneChunk(50'000);
  struct stat before;
  ASSERT_EQ(stat(c->path.c_str(), &before), 0);
  auto changed = c->bytes;
  changed[1234] ^= 0xff;
  c->dir.Write("f", changed);
  // Put the old mtime back: only the hash can tell.
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, c->path.c_str(), times, 0), 0);

  ObjectStream s(c->hash, ObjectKind::kChunk);
  Status st = s.Load(*c->mdex);
  EXPECT_EQ(st.code(), EIO) << st.ToString();
  EXPECT_FALSE(s.loaded());
}

TEST(ObjectStream, UnknownObject) {
  auto c = MakeOneChunk(5000);
  ObjectStream s(Sha256Of("absent"), ObjectKind::kChunk);
  EXPECT_EQ(s.Load(*c->mdex).code(), ENOENT);
}

}  // namespace
}  // namespace lcfs::share
