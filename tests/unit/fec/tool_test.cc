// lcfs-fec, the command-line codec: output formats and exit statuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/temp_dir.h"
#include "common/tool_run.h"
#include "fec_test_util.h"

namespace lcfs::fec {
namespace {

namespace fs = std::filesystem;

class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs::exists(tool_)) << "build the lcfs-fec target first"; }

  // Runs lcfs-fec with `args`; returns the exit status, stdout in *out.
  int Run(const std::string& args, std::string* out = nullptr) {
    lcfs::testing::ToolRun r = lcfs::testing::RunTool(tool_, args);
    if (out) *out = r.out;
    return r.exit_code;
  }
  std::string Path(const std::string& name) { return dir_.Path(name); }
  void Write(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(Path(name), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
  std::vector<uint8_t> Read(const std::string& name) {
    std::ifstream in(Path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // Records of a file, as byte strings (length prefix included).
  std::vector<std::vector<uint8_t>> Records(const std::string& name) {
    auto b = Read(name);
    std::vector<std::vector<uint8_t>> out;
    for (size_t at = 0; at + 4 <= b.size();) {
      size_t n = size_t{b[at]} << 24 | size_t{b[at + 1]} << 16 | size_t{b[at + 2]} << 8 | b[at + 3];
      out.emplace_back(b.begin() + at, b.begin() + at + 4 + n);
      at += 4 + n;
    }
    return out;
  }

  const std::string tool_ = lcfs::testing::ToolPath("lcfs-fec");
  lcfs::testing::TempDir dir_{"lcfs-fec-test"};
};

TEST_F(ToolTest, ParamsPrintsOti) {
  std::string out;
  EXPECT_EQ(Run("params --size 1048576 --symbol-size 1280", &out), 0);
  EXPECT_EQ(out, "000010000000050001000104\n");
  EXPECT_EQ(Run("params --size 12582912 --symbol-size 1024 --align 8 --working-set 10485760", &out),
            0);
  EXPECT_EQ(out, "0000c0000000040001000208\n");
  EXPECT_EQ(Run("params --size 0 --symbol-size 1280"), 2);
  EXPECT_EQ(Run("params --size 100 --symbol-size 1281"), 2);
  EXPECT_EQ(Run("params --size 100"), 2);
  EXPECT_EQ(Run("frobnicate"), 2);
}

TEST_F(ToolTest, EncodeDecodeWithLossReorderAndJunk) {
  // Two unequal source blocks, 3 sub-blocks, Al = 8: any valid OTI works.
  Oti oti{300065, 64, 2, 3, 8};
  ASSERT_TRUE(oti.Validate().ok());
  auto data = testing::RandomBytes(oti.transfer_length, 5);
  Write("in", data);
  const std::string hex = oti.ToHex();
  ASSERT_EQ(Run("encode --oti " + hex + " --repair 300 " + Path("in") + " " + Path("rec")), 0);
  auto records = Records("rec");
  // Kt = 4689 symbols of 64 bytes: K = 2345 and 2344. Records are 72 bytes.
  ASSERT_EQ(records.size(), 2345u + 2344 + 2 * 300);
  for (const auto& r : records) ASSERT_EQ(r.size(), 4u + 4 + 64);

  std::mt19937_64 rng(3);
  std::shuffle(records.begin(), records.end(), rng);
  std::vector<uint8_t> stream;
  size_t dropped = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (dropped < 400 && i % 5 == 0) {
      ++dropped;
      continue;
    }
    stream.insert(stream.end(), records[i].begin(), records[i].end());
    if (i % 7 == 0) stream.insert(stream.end(), records[i].begin(), records[i].end());  // dup
    if (i % 11 == 0) {                                                                  // junk
      const uint8_t junk[] = {0, 0, 0, 3, 1, 2, 3};
      stream.insert(stream.end(), std::begin(junk), std::end(junk));
    }
  }
  Write("lossy", stream);
  ASSERT_EQ(Run("decode --oti " + hex + " " + Path("lossy") + " " + Path("out")), 0);
  EXPECT_TRUE(Read("out") == data);

  // Too few symbols: exit 1.
  std::vector<uint8_t> few;
  for (size_t i = 0; i < 1000; ++i) few.insert(few.end(), records[i].begin(), records[i].end());
  Write("few", few);
  EXPECT_EQ(Run("decode --oti " + hex + " " + Path("few") + " " + Path("out2")), 1);

  // Truncated record, bad OTI: exit 2.
  std::vector<uint8_t> truncated(few.begin(), few.end() - 10);
  Write("truncated", truncated);
  EXPECT_EQ(Run("decode --oti " + hex + " " + Path("truncated") + " " + Path("out3")), 2);
  EXPECT_EQ(Run("decode --oti 00 " + Path("few") + " " + Path("out3")), 2);
  EXPECT_EQ(Run("decode --oti " + hex + " " + Path("missing") + " " + Path("out3")), 2);
  // Encoding needs the object to be F bytes long.
  EXPECT_EQ(Run("encode --oti " + hex + " --repair 1 " + Path("few") + " " + Path("x")), 2);
}

}  // namespace
}  // namespace lcfs::fec
