// The CSV export's cells are safe to open in a spreadsheet: formulas are
// neutralised with a leading apostrophe, control bytes are escaped, and the
// exported file carries them that way.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "audit/read/export.h"
#include "audit/record.h"
#include "audit/store.h"
#include "tests/support/temp_dir.h"

namespace agni::audit {
namespace {

using namespace std::string_literals;

struct CellCase {
  std::string in;
  std::string out;
};

TEST(CsvCellTest, FormulasArePrefixedAndControlBytesEscaped) {
  const CellCase cases[] = {
      {"plain", "plain"},
      {"", ""},
      // What a spreadsheet would run.
      {"=HYPERLINK(\"http://evil\",\"x\")",
       "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""},
      {"=1+1", "'=1+1"},
      {"@SUM(A1)", "'@SUM(A1)"},
      {"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
      {"-2+3", "'-2+3"},
      {"+", "'+"},
      {"-", "'-"},
      {"\tleading tab", "'\\x09leading tab"},
      {"\r=1", "'\\x0D=1"},
      // Values a spreadsheet reads as numbers stay as they are.
      {"+14155550100", "+14155550100"},
      {"-5", "-5"},
      {"-3.25", "-3.25"},
      {"1200", "1200"},
      // A formula character later in the cell is harmless.
      {"a=b", "a=b"},
      {"user@example.com", "user@example.com"},
      // Control bytes: \xNN (LF stays, quoted); a backslash doubles.
      {"nul\0here"s, "nul\\x00here"},
      {"bell\a del\x7f", "bell\\x07 del\\x7F"},
      {"cr\rhere", "cr\\x0Dhere"},
      {"two\nlines", "\"two\nlines\""},
      {"C:\\x00", "C:\\\\x00"},
      // RFC 4180 quoting still applies, after the rest.
      {"a,b", "\"a,b\""},
      {"=a,b", "\"'=a,b\""},
  };
  for (const CellCase& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(CsvCell(c.in), c.out);
  }
}

TEST(CsvCellTest, ExportedReasonsCannotRunAsFormulasOrCarryNulBytes) {
  testing::TempDir dir;
  const std::string db = dir.File("audit.db");
  {
    AuditStore store({db});
    Record r;
    r.stage = Stage::kApproval;
    r.request_id = "req-1";
    r.principal = "alice";
    r.phone_number = "+14155550100";
    r.detail = "=HYPERLINK(\"http://evil.example\",\"open\")\0tail"s;
    ASSERT_TRUE(store.Append(std::move(r)).ok);
  }
  std::ostringstream out;
  ASSERT_EQ(Export({db, "csv", "", ""}, out).exit_code, 0);
  const std::string csv = out.str();
  EXPECT_EQ(csv.find('\0'), std::string::npos);
  EXPECT_EQ(csv.find(",\"=HYPERLINK"), std::string::npos);
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")"
                     "\\x00tail\""),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",+14155550100,"), std::string::npos);
}

}  // namespace
}  // namespace agni::audit
