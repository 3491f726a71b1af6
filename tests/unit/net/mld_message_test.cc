#include "net/mld_message.h"

#include <gtest/gtest.h>

namespace lcfs::net {
namespace {

Ipv6Address A(const char* s) { return *Ipv6Address::Parse(s); }

TEST(MldMessage, MaxResponseCodeRoundTripsAndMatchesRfcExamples) {
  EXPECT_EQ(EncodeMaxResponseCode(Millis(10'000)), 10'000);
  EXPECT_EQ(EncodeMaxResponseCode(Millis(32'767)), 32'767);
  // 32768 = 0x1000 << 3: exp 0, mant 0.
  EXPECT_EQ(EncodeMaxResponseCode(Millis(32'768)), 0x8000);
  EXPECT_EQ(DecodeMaxResponseCode(0x8000), Millis(32'768));
  EXPECT_EQ(DecodeMaxResponseCode(0xffff), Millis(8'387'584));
  for (int64_t ms : {1, 100, 999, 40'000, 100'000, 1'000'000, 8'000'000}) {
    const Millis back = DecodeMaxResponseCode(EncodeMaxResponseCode(Millis(ms)));
    EXPECT_LE(back.count(), ms);
    EXPECT_GT(back.count(), ms - ms / 4096 - 1) << ms;  // 12-bit mantissa precision
  }
}

TEST(MldMessage, QqicRoundTrips) {
  EXPECT_EQ(EncodeQqic(std::chrono::seconds(125)), 125);
  EXPECT_EQ(EncodeQqic(std::chrono::seconds(128)), 0x80);
  EXPECT_EQ(DecodeQqic(0x80), std::chrono::seconds(128));
  EXPECT_EQ(DecodeQqic(0xff), std::chrono::seconds(31'744));
  for (int s : {1, 60, 127, 200, 1000, 30'000}) {
    const auto back = DecodeQqic(EncodeQqic(std::chrono::seconds(s)));
    EXPECT_LE(back.count(), s);
    EXPECT_GT(back.count(), s - s / 16 - 1) << s;
  }
}

TEST(MldMessage, GeneralQueryEncodesAndParses) {
  MldQuery q;
  q.max_response_delay = Millis(10'000);
  q.robustness = 2;
  q.query_interval = Millis(125'000);
  const auto bytes = EncodeMldv2Query(q);
  ASSERT_EQ(bytes.size(), 28u);
  EXPECT_EQ(bytes[0], 130);
  EXPECT_EQ(bytes[4], 0x27);  // 10000 = 0x2710
  EXPECT_EQ(bytes[5], 0x10);
  EXPECT_EQ(bytes[24], 2);
  EXPECT_EQ(bytes[25], 125);
  auto m = ParseMldMessage(bytes);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, MldType::kQuery);
  EXPECT_EQ(m->query.version, 2);
  EXPECT_TRUE(m->query.group.IsUnspecified());
  EXPECT_EQ(m->query.max_response_delay, Millis(10'000));
  EXPECT_EQ(m->query.query_interval, Millis(125'000));
}

TEST(MldMessage, SourceSpecificQueryRoundTrips) {
  MldQuery q;
  q.group = A("ff1e::1234");
  q.sources = {A("fe80::1"), A("fe80::2")};
  q.suppress_router_processing = true;
  q.query_interval = Millis(300);  // below a second: QQIC says 1 s
  const auto bytes = EncodeMldv2Query(q);
  EXPECT_EQ(bytes.size(), 28u + 32u);
  auto m = ParseMldMessage(bytes);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->query.group, q.group);
  EXPECT_EQ(m->query.sources, q.sources);
  EXPECT_TRUE(m->query.suppress_router_processing);
  EXPECT_EQ(m->query.query_interval, Millis(1000));
}

TEST(MldMessage, V2ReportWithEveryRecordTypeRoundTrips) {
  std::vector<MldRecord> records;
  for (int t = 1; t <= 6; ++t) {
    MldRecord r;
    r.type = static_cast<RecordType>(t);
    r.group = A(("ff1e::" + std::to_string(t)).c_str());
    for (int s = 0; s < t - 1; ++s)
      r.sources.push_back(A(("fe80::" + std::to_string(s + 1)).c_str()));
    records.push_back(r);
  }
  const auto bytes = EncodeMldv2Report(records);
  auto m = ParseMldMessage(bytes);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, MldType::kV2Report);
  EXPECT_EQ(m->records, records);
  EXPECT_STREQ(RecordTypeName(RecordType::kBlockOldSources), "BLOCK_OLD_SOURCES");
}

TEST(MldMessage, V1ReportAndDoneMapToRecords) {
  auto r = ParseMldMessage(EncodeMldv1(MldType::kV1Report, A("ff1e::9")));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].type, RecordType::kModeIsExclude);
  EXPECT_EQ(r->records[0].group, A("ff1e::9"));
  auto d = ParseMldMessage(EncodeMldv1(MldType::kV1Done, A("ff1e::9")));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->records[0].type, RecordType::kChangeToInclude);
  auto q = ParseMldMessage(EncodeMldv1(MldType::kQuery, A("ff1e::9"), Millis(1000)));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->query.version, 1);
  EXPECT_EQ(q->query.max_response_delay, Millis(1000));
}

TEST(MldMessage, SkipsUnknownRecordTypes) {
  MldRecord r{RecordType::kModeIsExclude, A("ff1e::1"), {}};
  auto bytes = EncodeMldv2Report(std::vector<MldRecord>{r, r});
  bytes[8] = 9;  // first record: unknown type
  auto m = ParseMldMessage(bytes);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->records.size(), 1u);
}

TEST(MldMessage, RejectsMalformedMessages) {
  MldRecord rec{RecordType::kAllowNewSources, A("ff1e::1"), {A("fe80::1")}};
  const auto report = EncodeMldv2Report(std::vector<MldRecord>{rec});
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}});
  cases.push_back({"not MLD", {128, 0, 0, 0, 0, 0, 0, 0}});
  auto short_v1 = EncodeMldv1(MldType::kV1Report, A("ff1e::1"));
  short_v1.pop_back();
  cases.push_back({"short v1", short_v1});
  cases.push_back({"v1 unicast group", EncodeMldv1(MldType::kV1Report, A("fe80::1"))});
  auto q = EncodeMldv2Query(MldQuery{});
  q.resize(26);
  cases.push_back({"query 26 bytes", q});
  auto q2 = EncodeMldv2Query(MldQuery{});
  q2[27] = 1;  // general query claims one source, has none
  cases.push_back({"query sources beyond end", q2});
  auto r1 = report;
  r1[7] = 2;  // two records claimed
  cases.push_back({"records beyond end", r1});
  auto r2 = report;
  r2[11] = 2;  // two sources claimed
  cases.push_back({"sources beyond end", r2});
  auto r3 = report;
  r3[9] = 1;  // aux data beyond end
  cases.push_back({"aux beyond end", r3});
  auto r4 = report;
  r4[12] = 0xfe;  // group no longer multicast
  cases.push_back({"unicast group", r4});
  auto r5 = report;
  r5[28] = 0xff;  // source multicast
  cases.push_back({"multicast source", r5});
  auto r6 = report;
  r6[6] = 0xff;  // 65280+ records claimed: rejected before allocating
  cases.push_back({"huge count", r6});
  for (const auto& c : cases) {
    auto m = ParseMldMessage(c.bytes);
    EXPECT_FALSE(m.ok()) << c.name;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), EBADMSG) << c.name;
    }
  }
}

TEST(MldMessage, ChecksumVerifiesToZero) {
  const Ipv6Address src = A("fe80::1"), dst = A("ff02::1");
  auto q = EncodeMldv2Query(MldQuery{});
  const uint16_t sum = Icmpv6Checksum(src, dst, q);
  q[2] = static_cast<uint8_t>(sum >> 8);
  q[3] = static_cast<uint8_t>(sum);
  EXPECT_EQ(Icmpv6Checksum(src, dst, q), 0);
  q[5] ^= 1;
  EXPECT_NE(Icmpv6Checksum(src, dst, q), 0);
}

}  // namespace
}  // namespace lcfs::net
