// Byte-exact interoperability with an independent RFC 6330 implementation:
// the npm package `raptorq` (Rust, compiled to wasm).
//
// RecordedVectors needs nothing but this tree: it checks our symbols against
// digests recorded from the peer (vectors/raptorq-1.7.24.txt). NodePeer runs
// the peer itself through node (tests/interop/raptorq/peer.mjs), installing
// it with npm into the build tree first; it skips only if node or the
// install is unavailable.
//
// The peer's 1.x releases label a repair symbol with its ISI instead of its
// ESI (ESI + K' - K): for K < K' its "ESI" e is our ESI e - (K' - K).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "lcfs/fec/decoder.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/hash.h"
#include "peer_cases.h"

namespace lcfs::fec {
namespace {

using testing::kPeerCases;
using testing::kPeerRepair;
using testing::PeerCase;
using testing::PeerData;
using testing::PeerOti;

namespace fs = std::filesystem;

// K' - K of block `sbn`: the shift between the peer's repair labels and ESIs.
uint32_t PeerShift(const ObjectEncoder& enc, uint8_t sbn) {
  uint32_t k = enc.SourceSymbols(sbn);
  return ExtendedBlockSize(k) - k;
}

TEST(InteropTest, RecordedVectors) {
  std::ifstream in(std::string(LCFS_SOURCE_DIR) + "/tests/unit/fec/vectors/raptorq-1.7.24.txt");
  ASSERT_TRUE(in) << "vector file missing";
  std::string line;
  std::optional<ObjectEncoder> enc;
  std::vector<uint8_t> data;
  std::vector<uint8_t> symbol;
  int cases = 0, symbols = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "case") {
      PeerCase c{};
      s >> c.size >> c.mtu;
      auto oti = PeerOti(c);
      ASSERT_TRUE(oti.ok()) << oti.status().ToString();
      data = PeerData(c.size);
      auto e = ObjectEncoder::Create(*oti, data);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      enc.emplace(std::move(*e));
      symbol.resize(oti->symbol_size);
      ++cases;
    } else if (kind == "sym") {
      ASSERT_TRUE(enc.has_value());
      unsigned sbn;
      uint32_t esi;
      std::string digest;
      s >> sbn >> esi >> digest;
      ASSERT_TRUE(enc->Symbol(static_cast<uint8_t>(sbn), esi, symbol).ok());
      EXPECT_EQ(Sha256Of(symbol).ToHex(), digest) << line;
      ++symbols;
    } else if (kind == "all") {
      ASSERT_TRUE(enc.has_value());
      std::string digest;
      s >> digest;
      Sha256 all;
      for (uint32_t sbn = 0; sbn < enc->block_count(); ++sbn) {
        uint32_t k = enc->SourceSymbols(static_cast<uint8_t>(sbn));
        for (uint32_t esi = 0; esi < k + kPeerRepair; ++esi) {
          ASSERT_TRUE(enc->Symbol(static_cast<uint8_t>(sbn), esi, symbol).ok());
          all.Update(symbol);
        }
      }
      EXPECT_EQ(all.Finish().ToHex(), digest) << "all symbols, case " << cases;
    }
  }
  EXPECT_EQ(cases, 5);
  EXPECT_GT(symbols, 20);
}

// --- running the peer -------------------------------------------------------

struct Packet {
  uint8_t sbn;
  uint32_t esi;
  std::vector<uint8_t> symbol;
};

std::vector<Packet> ReadRecords(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Packet> out;
  for (size_t at = 0; at + 4 <= b.size();) {
    uint32_t n =
        uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
    if (n < 4 || at + 4 + n > b.size()) break;
    auto id = PayloadId::Decode({b.data() + at + 4, 4});
    out.push_back({id->sbn, id->esi, {b.begin() + at + 8, b.begin() + at + 4 + n}});
    at += 4 + n;
  }
  return out;
}

void WriteRecords(const fs::path& path, const std::vector<Packet>& packets) {
  std::ofstream out(path, std::ios::binary);
  for (const Packet& p : packets) {
    uint32_t n = static_cast<uint32_t>(4 + p.symbol.size());
    uint8_t len[4] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                      static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    out.write(reinterpret_cast<const char*>(len), 4);
    auto id = PayloadId{p.sbn, p.esi}.Encode();
    out.write(reinterpret_cast<const char*>(id.data()), 4);
    out.write(reinterpret_cast<const char*>(p.symbol.data()),
              static_cast<std::streamsize>(p.symbol.size()));
  }
}

// Installs the peer under the build tree once; empty string if impossible.
// ctest may run several of these tests at once: flock serialises installs.
std::string PeerModuleDir() {
  fs::path dir = fs::path(LCFS_BINARY_DIR) / "interop";
  fs::path wasm = dir / "node_modules/raptorq/raptorq_bg.wasm";
  if (fs::exists(wasm)) return dir;
  if (std::system("node --version >/dev/null 2>&1") != 0) return "";
  fs::create_directories(dir);
  std::string cmd = "cd '" + dir.string() + "' && flock .install.lock sh -c 'test -f " +
                    wasm.string() +
                    " || timeout 300 npm install --no-audit --no-fund --prefix . "
                    "raptorq@1.7.24' >npm-install.log 2>&1";
  if (std::system(cmd.c_str()) != 0) return "";
  return fs::exists(wasm) ? dir.string() : "";
}

std::string PeerScript() {
  return std::string(LCFS_SOURCE_DIR) + "/tests/interop/raptorq/peer.mjs";
}

class NodePeerTest : public ::testing::TestWithParam<PeerCase> {
 protected:
  void SetUp() override {
    module_dir_ = PeerModuleDir();
    if (module_dir_.empty()) {
      GTEST_SKIP() << "node or `npm install raptorq@1.7.24` unavailable (no network?); "
                      "the recorded vectors still ran";
    }
    work_ = fs::path(LCFS_BINARY_DIR) / "interop" /
            ("case-" + std::to_string(GetParam().size) + "-" + std::to_string(GetParam().mtu));
    fs::create_directories(work_);
  }
  int Node(const std::string& args) {
    std::string cmd = "node '" + PeerScript() + "' '" + module_dir_ + "' " + args;
    return std::system(cmd.c_str());
  }
  std::string module_dir_;
  fs::path work_;
};

TEST_P(NodePeerTest, PeerSymbolsEqualOurs) {
  const PeerCase c = GetParam();
  auto oti = PeerOti(c);
  ASSERT_TRUE(oti.ok());
  auto data = PeerData(c.size);
  {
    std::ofstream(work_ / "data", std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size()));
  }
  ASSERT_EQ(Node("encode '" + (work_ / "data").string() + "' " + std::to_string(c.mtu) + " " +
                 std::to_string(kPeerRepair) + " '" + (work_ / "peer.rec").string() + "'"),
            0);
  auto packets = ReadRecords(work_ / "peer.rec");
  auto enc = ObjectEncoder::Create(*oti, data);
  ASSERT_TRUE(enc.ok());
  ASSERT_FALSE(packets.empty());
  std::vector<uint8_t> ours(oti->symbol_size);
  size_t mismatches = 0;
  std::map<uint8_t, uint32_t> per_block;
  for (Packet& p : packets) {
    ASSERT_LT(p.sbn, enc->block_count());
    uint32_t k = enc->SourceSymbols(p.sbn);
    if (p.esi >= k) p.esi -= PeerShift(*enc, p.sbn);  // peer label -> RFC ESI
    ASSERT_EQ(p.symbol.size(), oti->symbol_size);
    ASSERT_TRUE(enc->Symbol(p.sbn, p.esi, ours).ok());
    if (ours != p.symbol) ++mismatches;
    ++per_block[p.sbn];
  }
  EXPECT_EQ(mismatches, 0u) << "of " << packets.size() << " symbols";
  ASSERT_EQ(per_block.size(), enc->block_count());
  for (auto [sbn, n] : per_block) EXPECT_EQ(n, enc->SourceSymbols(sbn) + kPeerRepair);

  // Our decoder on the peer's symbols, 20 source symbols per block replaced
  // by the peer's repair symbols.
  auto dec = ObjectDecoder::Create(*oti);
  ASSERT_TRUE(dec.ok());
  for (const Packet& p : packets) {
    if (p.esi < kPeerRepair) continue;
    ASSERT_TRUE(dec->Add(p.sbn, p.esi, p.symbol).ok());
  }
  ASSERT_TRUE(dec->complete());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dec->object().begin()));
}

TEST_P(NodePeerTest, PeerDecodesOurRepairSymbols) {
  const PeerCase c = GetParam();
  auto oti = PeerOti(c);
  ASSERT_TRUE(oti.ok());
  auto data = PeerData(c.size);
  auto enc = ObjectEncoder::Create(*oti, data);
  ASSERT_TRUE(enc.ok());
  // Repair symbols only: the expensive path for the peer's decoder too.
  std::vector<Packet> packets;
  for (uint32_t sbn = 0; sbn < enc->block_count(); ++sbn) {
    uint8_t b = static_cast<uint8_t>(sbn);
    uint32_t k = enc->SourceSymbols(b);
    for (uint32_t esi = k; esi < 2 * k + 10; ++esi) {
      Packet p{b, esi + PeerShift(*enc, b), std::vector<uint8_t>(oti->symbol_size)};
      ASSERT_TRUE(enc->Symbol(b, esi, p.symbol).ok());
      packets.push_back(std::move(p));
    }
  }
  WriteRecords(work_ / "ours.rec", packets);
  ASSERT_EQ(Node("decode '" + (work_ / "ours.rec").string() + "' " + std::to_string(c.size) + " " +
                 std::to_string(c.mtu) + " '" + (work_ / "peer-decoded").string() + "'"),
            0);
  std::ifstream in(work_ / "peer-decoded", std::ios::binary);
  std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == data) << "peer decoded " << got.size() << " bytes";
}

INSTANTIATE_TEST_SUITE_P(Cases, NodePeerTest, ::testing::ValuesIn(kPeerCases),
                         [](const ::testing::TestParamInfo<PeerCase>& info) {
                           return "F" + std::to_string(info.param.size) + "_mtu" +
                                  std::to_string(info.param.mtu);
                         });

}  // namespace
}  // namespace lcfs::fec
