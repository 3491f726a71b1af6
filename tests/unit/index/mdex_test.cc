#include "lcfs/index/mdex.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "temp_tree.h"

namespace lcfs::index {
namespace {

std::vector<uint8_t> Vec(std::string_view s) { return {s.begin(), s.end()}; }

Hash RandomHash(std::mt19937_64& rng) {
  Hash h;
  for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
  return h;
}

// `n` random hashes (from `seed`) added to `m` as one-byte chunks of a file
// that does not exist, hash i at offset i.
std::vector<Hash> AddRandomChunks(Mdex& m, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Mdex::FileId file = m.AddFile("/nonexistent");
  std::vector<Hash> hashes;
  for (int i = 0; i < n; ++i) {
    hashes.push_back(RandomHash(rng));
    EXPECT_TRUE(m.Add(hashes.back(), ObjectKind::kChunk, file, static_cast<uint64_t>(i), 1));
  }
  return hashes;
}

TEST(Mdex, PutGetReadDel) {
  Mdex m;
  const auto bytes = Vec("a directory object");
  const Hash h = ObjectHash(ObjectKind::kDirectory, bytes);
  EXPECT_FALSE(m.Get(h).has_value());
  EXPECT_TRUE(m.Put(h, ObjectKind::kDirectory, bytes));
  EXPECT_FALSE(m.Put(h, ObjectKind::kDirectory, bytes));  // already there
  auto loc = m.Get(h);
  ASSERT_TRUE(loc.has_value());
  EXPECT_TRUE(loc->in_memory);
  EXPECT_EQ(loc->kind, ObjectKind::kDirectory);
  EXPECT_EQ(std::vector<uint8_t>(loc->bytes.begin(), loc->bytes.end()), bytes);
  EXPECT_EQ(*m.Read(h), bytes);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.Del(h));
  EXPECT_FALSE(m.Del(h));
  EXPECT_FALSE(m.Get(h).has_value());
  EXPECT_EQ(m.Read(h).status().code(), ENOENT);
  EXPECT_EQ(m.size(), 0u);
}

TEST(Mdex, FileRangesAreReadAndVerified) {
  testing::TempTree t;
  t.Write("f", "0123456789abcdef");
  Mdex m;
  const Mdex::FileId id = m.AddFile(t.Path("f"));
  const Hash h = ObjectHash(ObjectKind::kChunk, Vec("456789"));
  EXPECT_TRUE(m.Add(h, ObjectKind::kChunk, id, 4, 6));
  EXPECT_FALSE(m.Add(h, ObjectKind::kChunk, id, 4, 6));
  EXPECT_FALSE(m.Add(Sha256Of("x"), ObjectKind::kChunk, id + 1, 0, 1));  // unknown file
  auto loc = m.Get(h);
  ASSERT_TRUE(loc.has_value());
  EXPECT_FALSE(loc->in_memory);
  EXPECT_EQ(m.file_path(loc->file), t.Path("f"));
  EXPECT_EQ(loc->offset, 4u);
  EXPECT_EQ(loc->length, 6u);
  EXPECT_EQ(*m.Read(h), Vec("456789"));
  // The file changes under the index: the bytes no longer verify.
  t.Write("f", "0123XXXX89abcdef");
  EXPECT_EQ(m.Read(h).status().code(), EIO);
  t.Write("f", "0123");
  EXPECT_EQ(m.Read(h).status().code(), EIO);
  std::filesystem::remove(t.Path("f"));
  EXPECT_EQ(m.Read(h).status().code(), ENOENT);
}

TEST(Mdex, ReadIntoFillsACallersBufferOfExactlyTheObjectsLength) {
  testing::TempTree t;
  t.Write("f", "0123456789abcdef");
  Mdex m;
  const Hash chunk = ObjectHash(ObjectKind::kChunk, Vec("456789"));
  ASSERT_TRUE(m.Add(chunk, ObjectKind::kChunk, m.AddFile(t.Path("f")), 4, 6));
  const auto dir_bytes = Vec("a directory object");
  const Hash dir = ObjectHash(ObjectKind::kDirectory, dir_bytes);
  ASSERT_TRUE(m.Put(dir, ObjectKind::kDirectory, dir_bytes));

  std::vector<uint8_t> out(6, 0xee);
  ASSERT_TRUE(m.ReadInto(chunk, out).ok());
  EXPECT_EQ(out, Vec("456789"));
  out.assign(dir_bytes.size(), 0xee);
  ASSERT_TRUE(m.ReadInto(dir, out).ok());
  EXPECT_EQ(out, dir_bytes);
  // Another length is refused before anything is read.
  out.assign(7, 0xee);
  EXPECT_EQ(m.ReadInto(chunk, out).code(), EINVAL);
  EXPECT_EQ(m.ReadInto(dir, out).code(), EINVAL);
  EXPECT_EQ(m.ReadInto(Sha256Of("absent"), out).code(), ENOENT);
  // Changed bytes do not verify.
  t.Write("f", "0123XXXX89abcdef");
  out.assign(6, 0xee);
  EXPECT_EQ(m.ReadInto(chunk, out).code(), EIO);
}

TEST(Mdex, AliasNamesTheSameBytes) {
  Mdex m;
  const Hash target = Sha256Of("target"), alias = Sha256Of("alias");
  EXPECT_EQ(m.Alias(alias, target).code(), ENOENT);
  ASSERT_TRUE(m.Put(target, ObjectKind::kTreeNode, Vec("node bytes")));
  ASSERT_TRUE(m.Alias(alias, target).ok());
  EXPECT_EQ(m.Alias(alias, target).code(), EEXIST);
  EXPECT_EQ(*m.Read(alias), Vec("node bytes"));
  // Deleting the original keeps the alias (the bytes are shared, refcounted).
  EXPECT_TRUE(m.Del(target));
  EXPECT_EQ(*m.Read(alias), Vec("node bytes"));
  EXPECT_TRUE(m.Del(alias));
  EXPECT_EQ(m.size(), 0u);
}

TEST(Mdex, ManyEntriesSurviveGrowthAndDeletion) {
  Mdex m;
  const std::vector<Hash> hashes = AddRandomChunks(m, 50000, 7);
  EXPECT_EQ(m.size(), hashes.size());
  // Memory per entry as stated in mdex.h: 64..128 bytes of table per entry.
  const double per_entry = static_cast<double>(m.MemoryUsage()) / static_cast<double>(m.size());
  EXPECT_LE(per_entry, 130.0) << per_entry;
  // Delete every third; the rest must all still be found with their data.
  for (size_t i = 0; i < hashes.size(); i += 3) ASSERT_TRUE(m.Del(hashes[i]));
  for (size_t i = 0; i < hashes.size(); ++i) {
    auto loc = m.Get(hashes[i]);
    if (i % 3 == 0) {
      EXPECT_FALSE(loc.has_value()) << i;
    } else {
      ASSERT_TRUE(loc.has_value()) << i;
      EXPECT_EQ(loc->offset, i);
    }
  }
}

TEST(Mdex, ReserveKeepsEntries) {
  Mdex m;
  const std::vector<Hash> hashes = AddRandomChunks(m, 100, 1);
  const size_t before = m.MemoryUsage();
  m.Reserve(100000);
  EXPECT_GT(m.MemoryUsage(), before);
  for (size_t i = 0; i < hashes.size(); ++i) EXPECT_EQ(m.Get(hashes[i])->offset, i);
  m.Reserve(10);  // never shrinks
  EXPECT_EQ(m.size(), 100u);
}

TEST(Mdex, PrefixLookupMatchesBruteForce) {
  std::mt19937_64 rng(11);
  Mdex m;
  m.AddFile("/nonexistent");
  std::vector<Hash> hashes, twins;
  for (int i = 0; i < 20000; ++i) {
    hashes.push_back(RandomHash(rng));
    // Some hashes share long prefixes, as truncated group addresses would.
    if (i % 100 == 0) {
      Hash twin = hashes.back();
      twin.bytes[31] ^= 1;
      hashes.push_back(twin);
      twins.push_back(twin);
    }
  }
  for (const Hash& h : hashes) m.Add(h, ObjectKind::kChunk, 0, 0, 1);
  for (size_t i = 0; i < hashes.size(); i += 97) m.Del(hashes[i]);  // exercise shifted runs
  std::set<Hash> present;
  for (const Hash& h : hashes) {
    if (m.Contains(h)) present.insert(h);
  }
  auto brute = [&](const Hash& p, size_t bits) {
    std::set<Hash> out;
    for (const Hash& h : present) {
      bool match = true;
      for (size_t b = 0; b < bits && match; ++b) {
        const int mask = 0x80 >> (b % 8);
        match = (h.bytes[b / 8] & mask) == (p.bytes[b / 8] & mask);
      }
      if (match) out.insert(h);
    }
    return out;
  };
  for (size_t bits : {0, 3, 8, 10, 14, 16, 21, 64, 112, 255, 256}) {
    for (int k = 0; k < 5; ++k) {
      const Hash probe = hashes[(static_cast<size_t>(k) * 997 + bits) % hashes.size()];
      auto got = m.FindByPrefix(probe.bytes, bits, SIZE_MAX);
      std::set<Hash> got_set(got.begin(), got.end());
      EXPECT_EQ(got_set.size(), got.size()) << "duplicates for " << bits;
      EXPECT_EQ(got_set, brute(probe, bits)) << bits << " bits";
    }
  }
  // A 16-byte prefix (what a group address may carry) finds both twins.
  int pairs = 0;
  for (const Hash& twin : twins) {
    Hash other = twin;
    other.bytes[31] ^= 1;
    if (!m.Contains(twin) || !m.Contains(other)) continue;
    ++pairs;
    EXPECT_EQ(m.FindByPrefix(std::span(twin.bytes).first(16)).size(), 2u);
  }
  EXPECT_GT(pairs, 100);
  auto capped = m.FindByPrefix(hashes[5].bytes, 0, 10);
  EXPECT_EQ(capped.size(), 10u);
  EXPECT_TRUE(Mdex().FindByPrefix(hashes[5].bytes).empty());
}

TEST(Mdex, ConcurrentReadersOfAConstMdex) {
  std::mt19937_64 rng(3);
  auto m = std::make_shared<Mdex>();
  std::vector<Hash> hashes;
  for (int i = 0; i < 5000; ++i) {
    hashes.push_back(RandomHash(rng));
    m->Put(hashes.back(), ObjectKind::kTreeNode, {static_cast<uint8_t>(i)});
  }
  std::shared_ptr<const Mdex> ro = m;
  std::atomic<int> found{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (const Hash& h : hashes) {
        if (ro->Get(h) && !ro->FindByPrefix(std::span(h.bytes).first(8)).empty()) ++found;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(found.load(), 4 * 5000);
}

TEST(MdexObjectSource, FetchesVerifiedObjectsOfTheRightKind) {
  auto m = std::make_shared<Mdex>();
  const auto node = Vec("0123456789012345678901234567890101234567890123456789012345678901");
  const Hash h = ObjectHash(ObjectKind::kTreeNode, node);
  m->Put(h, ObjectKind::kTreeNode, node);
  const Hash wrong = Sha256Of("not the hash of these bytes");
  m->Put(wrong, ObjectKind::kTreeNode, node);
  MdexObjectSource src(m);
  auto fetch = [&](const Hash& hash, ObjectKind kind, uint64_t size = 0) {
    return src.Fetch({.hash = hash, .kind = kind, .expected_size = size});
  };
  auto got = fetch(h, ObjectKind::kTreeNode, node.size());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, node);
  EXPECT_EQ(src.fetch_count(), 1u);
  EXPECT_EQ(fetch(h, ObjectKind::kChunk).status().code(), ENOENT);
  EXPECT_EQ(fetch(Sha256Of("absent"), ObjectKind::kTreeNode).status().code(), ENOENT);
  EXPECT_EQ(fetch(wrong, ObjectKind::kTreeNode).status().code(), EIO);
  // The right bytes, but the parent announced another length: refused.
  EXPECT_EQ(fetch(h, ObjectKind::kTreeNode, node.size() + Hash::kSize).status().code(), EIO);
  EXPECT_EQ(src.fetch_count(), 1u);
}

}  // namespace
}  // namespace lcfs::index
