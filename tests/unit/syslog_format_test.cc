// RFC 5424 messages and RFC 5425 frames of the syslog sink: the header
// fields, the structured data and its escaping, the length prefix, and the
// MSG being the record's export line.
#include <gtest/gtest.h>

#include <string>

#include "audit/record.h"
#include "audit/ship/record_source.h"
#include "audit/ship/syslog_format.h"

namespace agni::audit {
namespace {

TEST(SyslogFormatTest, SdParamValuesEscapeQuoteBackslashAndBracket) {
  EXPECT_EQ(EscapeSdParamValue(R"(plain)"), R"(plain)");
  EXPECT_EQ(EscapeSdParamValue(R"(a"b)"), R"(a\"b)");
  EXPECT_EQ(EscapeSdParamValue(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(EscapeSdParamValue(R"(a]b)"), R"(a\]b)");
  EXPECT_EQ(EscapeSdParamValue(R"("\]")"), R"(\"\\\]\")");
  EXPECT_EQ(EscapeSdParamValue("[=' "), "[=' ");  // only the three
}

TEST(SyslogFormatTest, AFrameIsTheOctetCountThenTheMessage) {
  const SyslogHeader header = MakeSyslogHeader("gw-1", "agni-gateway", 4242);
  std::string out;
  AppendSyslogFrame(header, 12, "2026-11-26T16:47:10.123456Z", "ab12",
                    R"({"seq":12})", out);
  const std::string msg =
      "<110>1 2026-11-26T16:47:10.123456Z gw-1 agni-gateway 4242 audit "
      R"([agni@32473 seq="12" hash="ab12"] {"seq":12})";
  EXPECT_EQ(out, std::to_string(msg.size()) + " " + msg);

  // Frames follow each other with nothing in between.
  AppendSyslogFrame(header, 13, "2026-11-26T16:47:10.123457Z", "cd34", "{}",
                    out);
  const std::string second =
      out.substr(std::to_string(msg.size()).size() + 1 + msg.size());
  const std::string msg2 =
      "<110>1 2026-11-26T16:47:10.123457Z gw-1 agni-gateway 4242 audit "
      R"([agni@32473 seq="13" hash="cd34"] {})";
  EXPECT_EQ(msg2.size(), 100u);
  EXPECT_EQ(second, std::string("100 ") + msg2);
}

TEST(SyslogFormatTest, TheLengthCountsOctetsNotCharacters) {
  std::string out;
  // Not what the sink sends (the export is ASCII), but the prefix must count
  // bytes whatever the MSG holds.
  AppendSyslogFrame(MakeSyslogHeader("h", "a", 1), 1,
                    "2026-11-26T16:47:10.000000Z", "x", "\xc3\xa9", out);
  const std::size_t space = out.find(' ');
  EXPECT_EQ(std::stoul(out.substr(0, space)), out.size() - space - 1);
}

TEST(SyslogFormatTest, HeaderFieldsAreMadeSafe) {
  const SyslogHeader h =
      MakeSyslogHeader("host name\n", std::string(60, 'a'), 7);
  EXPECT_EQ(h.hostname, "hostname");
  EXPECT_EQ(h.app_name, std::string(48, 'a'));
  EXPECT_EQ(h.procid, "7");
  EXPECT_EQ(MakeSyslogHeader("", " ", 1).hostname, "-");
  EXPECT_EQ(MakeSyslogHeader("", " ", 1).app_name, "-");

  // A time that is not the record's own form becomes the NILVALUE rather
  // than breaking the header.
  std::string out;
  AppendSyslogFrame(h, 1, "yesterday at noon", "x", "{}", out);
  EXPECT_NE(out.find("<110>1 - hostname "), std::string::npos) << out;
  // So does a hash with the characters structured data escapes.
  out.clear();
  AppendSyslogFrame(h, 1, "2026-11-26T16:47:10.000000Z", "a\"]\\", "{}", out);
  EXPECT_NE(out.find(R"(hash="a\"\]\\"])"), std::string::npos) << out;
}

TEST(SyslogFormatTest, TheMessageIsTheRecordsExportLine) {
  Record r;
  r.seq = 5;
  r.time_us = 1'764'000'000'123'456;
  r.prev_hash = std::string(kGenesisHash);
  r.stage = Stage::kDecision;
  r.principal = "alice";
  r.detail = "caf\xc3\xa9 \"]\\";
  r.hash = ChainHash(r);
  const ShipRecord shipped = ShipRecordOf(r);
  EXPECT_EQ(shipped.seq, 5);
  EXPECT_EQ(shipped.time, FormatTime(r.time_us));
  EXPECT_EQ(shipped.hash, r.hash);
  // The canonical bytes with `hash` added in key order: ASCII only.
  std::string canonical = CanonicalBytes(r);
  const std::size_t after_hash = canonical.find("\"prev_hash\"");
  ASSERT_NE(after_hash, std::string::npos);
  canonical.insert(after_hash, std::string("\"hash\":\"") + r.hash + "\",");
  EXPECT_EQ(shipped.json, canonical);
  for (char c : shipped.json) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

}  // namespace
}  // namespace agni::audit
