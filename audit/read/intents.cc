#include "audit/read/intents.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace agni::audit {

bool HasIntent(const std::string& db_path, const std::string& request_id) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  SQLite::Statement q(db,
                      "SELECT 1 FROM audit_records WHERE request_id = ? AND "
                      "stage = 'intent' LIMIT 1");
  q.bind(1, request_id);
  return q.executeStep();
}

}  // namespace agni::audit
