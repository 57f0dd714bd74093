#include "audit/read/history.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "audit/record.h"

namespace agni::audit {
namespace {

std::string Text(SQLite::Statement& s, int column) {
  return s.getColumn(column).isNull() ? std::string()
                                      : s.getColumn(column).getString();
}

std::vector<std::string> Groups(const std::string& text) {
  std::vector<std::string> out;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& g : j) {
    if (g.is_string()) out.push_back(g.get<std::string>());
  }
  return out;
}

SQLite::Database OpenReadOnly(const std::string& db_path) {
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    db.setBusyTimeout(2000);
    return db;
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open audit database \"" + db_path +
                             "\": " + e.what());
  }
}

}  // namespace

std::vector<ReleaseRow> RecentReleases(const std::string& db_path,
                                       const std::string& since) {
  std::vector<ReleaseRow> rows;
  try {
    SQLite::Database db = OpenReadOnly(db_path);
    // Newest first, stopping at the first record older than the horizon:
    // seq order is commit order, so this reads only the recent tail.
    SQLite::Statement q(db,
                        // An intent closed as "unknown" at start-up has no
                        // groups on its outcome record; its intent has them.
                        "SELECT o.time, o.stage, o.outcome, o.principal, "
                        "COALESCE(o.groups, (SELECT i.groups FROM "
                        "audit_records i WHERE i.seq = o.intent_seq)) "
                        "FROM audit_records o ORDER BY o.seq DESC");
    while (q.executeStep()) {
      const std::string time = Text(q, 0);
      if (time < since) break;
      const std::string outcome = Text(q, 2);
      if (ParseStage(Text(q, 1)) != Stage::kOutcome ||
          (outcome != OutcomeName(ReleaseOutcome::kReleased) &&
           outcome != OutcomeName(ReleaseOutcome::kUnknown))) {
        continue;
      }
      rows.push_back({time, Text(q, 3), Groups(Text(q, 4))});
    }
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("cannot read audit database \"" + db_path +
                             "\": " + e.what());
  }
  return rows;
}

std::vector<DecisionRow> ReleaseDecisions(const std::string& db_path) {
  std::vector<DecisionRow> rows;
  try {
    SQLite::Database db = OpenReadOnly(db_path);
    SQLite::Statement q(
        db,
        "SELECT seq, time, request_id, principal, groups, peer, "
        "phone_number, decision, rule_id, reason, policy_hash, shadow "
        "FROM audit_records "
        "WHERE stage IN ('decision', 'intent') AND method = 'DELETE' "
        "AND principal IS NOT NULL AND phone_number IS NOT NULL "
        "AND decision IN ('allow', 'deny') ORDER BY seq");
    while (q.executeStep()) {
      DecisionRow r;
      r.seq = q.getColumn(0).getInt64();
      r.time = Text(q, 1);
      r.request_id = Text(q, 2);
      r.principal = Text(q, 3);
      r.groups = Groups(Text(q, 4));
      r.peer = Text(q, 5);
      r.phone_number = Text(q, 6);
      r.decision = Text(q, 7);
      r.rule_id = Text(q, 8);
      r.reason = Text(q, 9);
      r.policy_hash = Text(q, 10);
      r.shadow = Text(q, 11);
      rows.push_back(std::move(r));
    }
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("cannot read audit database \"" + db_path +
                             "\": " + e.what());
  }
  return rows;
}

}  // namespace agni::audit
