#include "audit/read/verify.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ostream>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "audit/checkpoint.h"
#include "audit/record.h"
#include "base/crypto.h"

namespace agni::audit {
namespace {

constexpr std::size_t kMaxProblems = 50;

// One record as the checker needs it: its canonical bytes (every non-NULL
// column but `hash`) and the few fields it reasons about.
struct FeedRow {
  bool has_seq = false;
  std::int64_t seq = 0;
  std::string hash;
  std::string prev_hash;
  std::string canonical;
  std::string stage;
  std::optional<std::int64_t> intent_seq;
};

// A JSON string as nlohmann's dump(ensure_ascii) writes it. Plain ASCII is
// done here (the common case, and fast); anything from DEL up, including
// invalid UTF-8, goes through nlohmann so the bytes match the writer's.
void AppendJsonString(std::string& out, const char* p, std::size_t n) {
  const std::size_t start = out.size();
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the current run of plain characters
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x7f) {
      out.resize(start);
      out += nlohmann::json(std::string(p, n))
                 .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
      return;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(p + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, sizeof u);
      }
    }
  }
  out.append(p + run, n - run);
  out.push_back('"');
}

// A prepared statement on the raw SQLite API, for the loops that read every
// record: SQLite::Column copies a shared_ptr (an atomic) on every access.
class RawQuery {
 public:
  RawQuery(SQLite::Database& db, const char* sql) : db_(db.getHandle()) {
    if (sqlite3_prepare_v2(db_, sql, -1, &st_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
  }
  ~RawQuery() { sqlite3_finalize(st_); }
  RawQuery(const RawQuery&) = delete;
  RawQuery& operator=(const RawQuery&) = delete;

  void Bind(int index, std::int64_t v) { sqlite3_bind_int64(st_, index, v); }
  bool Step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(sqlite3_errmsg(db_));
  }
  sqlite3_stmt* get() const { return st_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// Writes rows of `SELECT * FROM audit_records` in canonical form straight
// from the columns (no JSON object per row): keys in byte order, NULLs left
// out. `with_hash` adds the hash column (the JSONL export form).
class RowCanonicalizer {
 public:
  explicit RowCanonicalizer(const RawQuery& q) {
    const int n = sqlite3_column_count(q.get());
    for (int i = 0; i < n; ++i) {
      names_.push_back(sqlite3_column_name(q.get(), i));
      order_.push_back(i);
      const std::string& name = names_.back();
      if (name == "seq") seq_ = i;
      if (name == "hash") hash_ = i;
      if (name == "prev_hash") prev_ = i;
      if (name == "stage") stage_ = i;
      if (name == "intent_seq") intent_ = i;
    }
    std::sort(order_.begin(), order_.end(),
              [&](int a, int b) { return names_[a] < names_[b]; });
    for (const std::string& name : names_) {
      quoted_names_.push_back("\"" + name + "\":");
    }
  }

  void Write(const RawQuery& q, std::string& out, bool with_hash) const {
    sqlite3_stmt* st = q.get();
    out.push_back('{');
    bool first = true;
    char digits[24];
    for (int i : order_) {
      if (i == hash_ && !with_hash) continue;
      const int type = sqlite3_column_type(st, i);
      if (type == SQLITE_NULL) continue;
      if (!first) out.push_back(',');
      first = false;
      out += quoted_names_[i];
      if (type == SQLITE_INTEGER) {
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits,
                                       sqlite3_column_int64(st, i));
        out.append(digits, end);
      } else if (type == SQLITE_TEXT) {
        const char* text =
            reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        AppendJsonString(out, text,
                         static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
      } else {
        throw std::runtime_error("column " + names_[i] +
                                 " holds a value of an unexpected type");
      }
    }
    out.push_back('}');
  }

  void Read(const RawQuery& q, FeedRow& row) const {
    sqlite3_stmt* st = q.get();
    row.canonical.clear();
    Write(q, row.canonical, false);
    auto text = [&](int i, std::string& out) {
      out.clear();
      if (i >= 0 && sqlite3_column_type(st, i) == SQLITE_TEXT) {
        out.assign(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                   static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
      }
    };
    row.has_seq = seq_ >= 0 && sqlite3_column_type(st, seq_) == SQLITE_INTEGER;
    row.seq = row.has_seq ? sqlite3_column_int64(st, seq_) : 0;
    text(hash_, row.hash);
    text(prev_, row.prev_hash);
    text(stage_, row.stage);
    row.intent_seq.reset();
    if (intent_ >= 0 && sqlite3_column_type(st, intent_) == SQLITE_INTEGER) {
      row.intent_seq = sqlite3_column_int64(st, intent_);
    }
  }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> quoted_names_;  // "name":
  std::vector<int> order_;
  int seq_ = -1, hash_ = -1, prev_ = -1, stage_ = -1, intent_ = -1;
};

// The same from a parsed JSONL line.
FeedRow FeedRowFromJson(nlohmann::json rec) {
  FeedRow row;
  auto seq = rec.find("seq");
  row.has_seq = seq != rec.end() && seq->is_number_integer();
  if (row.has_seq) row.seq = seq->get<std::int64_t>();
  auto hash = rec.find("hash");
  if (hash != rec.end()) {
    if (hash->is_string()) row.hash = hash->get<std::string>();
    rec.erase(hash);
  }
  auto prev = rec.find("prev_hash");
  if (prev != rec.end() && prev->is_string()) row.prev_hash = prev->get<std::string>();
  auto stage = rec.find("stage");
  if (stage != rec.end() && stage->is_string()) row.stage = stage->get<std::string>();
  auto intent = rec.find("intent_seq");
  if (intent != rec.end() && intent->is_number_integer()) {
    row.intent_seq = intent->get<std::int64_t>();
  }
  row.canonical =
      rec.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return row;
}

// hex(SHA-256(a || b)) with the digest fetched once: verify hashes a
// million records, and OpenSSL 3's implicit fetch per call costs more than
// the hash of a short record. Not thread-safe; one per checker.
class ChainHasher {
 public:
  ChainHasher()
      : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (!md_ || !ctx_) throw std::runtime_error("SHA-256 unavailable");
  }
  ~ChainHasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  std::string Hex(std::string_view a, std::string_view b) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 ||
        EVP_DigestUpdate(ctx_, a.data(), a.size()) != 1 ||
        EVP_DigestUpdate(ctx_, b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, digest, &len) != 1) {
      throw std::runtime_error("SHA-256 failed");
    }
    return HexEncode(std::string_view(reinterpret_cast<char*>(digest), len));
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// What a checkpoint says the record at `seq` hashes to.
struct Expectation {
  std::string hash;
  std::string label;  // "checkpoint #3 (signed 2026-...)"
};

// Feeds records in seq order and collects every problem it can name.
class ChainChecker {
 public:
  ChainChecker(ChainPosition start, bool partial_start)
      : pos_(std::move(start)), partial_start_(partial_start) {}

  void Expect(std::int64_t seq, Expectation e) {
    expect_[seq].push_back(std::move(e));
  }

  void Feed(const FeedRow& row) {
    if (!row.has_seq) {
      Problem(pos_.seq + 1, "the record after seq " + std::to_string(pos_.seq) +
                                " has no integer seq");
      return;
    }
    const std::int64_t seq = row.seq;
    const std::string& stored_hash = row.hash;
    const std::string& prev = row.prev_hash;
    if (records_ == 0 && partial_start_) {
      pos_ = {seq - 1, prev};
      first_seq_ = seq;
    }
    ++records_;
    if (seq != pos_.seq + 1) {
      if (seq <= pos_.seq) {
        Problem(seq, "seq " + std::to_string(seq) + " appears after seq " +
                         std::to_string(pos_.seq) +
                         " (records reordered or duplicated)");
      } else if (seq == pos_.seq + 2) {
        Problem(pos_.seq + 1, "seq " + std::to_string(pos_.seq + 1) +
                                  " is missing (record deleted)");
      } else {
        Problem(pos_.seq + 1, "seqs " + std::to_string(pos_.seq + 1) + ".." +
                                  std::to_string(seq - 1) +
                                  " are missing (records deleted)");
      }
    } else if (prev != pos_.hash) {
      Problem(seq, "prev_hash is not the hash of seq " +
                       std::to_string(pos_.seq) +
                       " (records swapped, inserted or rewritten)");
    }
    const std::string computed = hasher_.Hex(prev, row.canonical);
    if (stored_hash.empty()) {
      Problem(seq, "the record has no hash");
    } else if (!ConstantTimeEquals(computed, stored_hash)) {
      Problem(seq,
              "the record's contents do not match its hash (record altered)");
    }
    if (auto e = expect_.find(seq); e != expect_.end()) {
      for (const Expectation& x : e->second) {
        if (x.hash != stored_hash) {
          Problem(seq, x.label + " says seq " + std::to_string(seq) +
                           " has hash " + x.hash.substr(0, 16) +
                           "... but the log has " + stored_hash.substr(0, 16) +
                           "... (history rewritten or database replaced)");
        }
      }
      expect_.erase(e);
    }
    if (row.stage == "intent") {
      open_intents_.insert(seq);
    } else if (row.stage == "outcome" && row.intent_seq) {
      const std::int64_t intent = *row.intent_seq;
      if (open_intents_.erase(intent) == 0 &&
          !(partial_start_ && intent < first_seq_)) {
        Problem(seq, "outcome for intent seq " + std::to_string(intent) +
                         ", which is not an open intent (duplicate outcome "
                         "or missing intent)");
      }
    }
    pos_ = {seq, stored_hash};
  }

  // Checkpoints beyond the last record mean the tail is gone.
  void Finish() {
    for (const auto& [seq, list] : expect_) {
      for (const Expectation& x : list) {
        if (seq == 0) {
          if (x.hash != kGenesisHash) {
            Problem(1, x.label + " of the empty log has a wrong hash");
          }
          continue;
        }
        Problem(pos_.seq + 1,
                x.label + " covers seq " + std::to_string(seq) +
                    " but the log ends at seq " + std::to_string(pos_.seq) +
                    ": records " + std::to_string(pos_.seq + 1) + ".." +
                    std::to_string(seq) +
                    " are missing (tail cut off, or the file was replaced by "
                    "an older copy)");
      }
    }
    expect_.clear();
  }

  void Problem(std::int64_t seq, std::string what) {
    if (problems_.size() < kMaxProblems) problems_.push_back({seq, std::move(what)});
  }

  const ChainPosition& pos() const { return pos_; }
  std::int64_t records() const { return records_; }
  std::int64_t first_seq() const { return first_seq_; }
  const std::unordered_set<std::int64_t>& open_intents() const {
    return open_intents_;
  }
  std::vector<ChainProblem>& problems() { return problems_; }

 private:
  ChainHasher hasher_;
  ChainPosition pos_;
  bool partial_start_;
  std::int64_t first_seq_ = 1;
  std::int64_t records_ = 0;
  std::map<std::int64_t, std::vector<Expectation>> expect_;
  std::unordered_set<std::int64_t> open_intents_;
  std::vector<ChainProblem> problems_;
};

// A gateway holds an exclusive flock on "<db>.lock" while it runs.
bool GatewayIsRunning(const std::string& db_path) {
  const std::string lock = db_path + ".lock";
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

std::vector<std::pair<std::int64_t, Checkpoint>> StoredCheckpoints(
    SQLite::Database& db) {
  std::vector<std::pair<std::int64_t, Checkpoint>> out;
  if (!db.tableExists("audit_checkpoints")) return out;
  SQLite::Statement q(db, R"sql(
    SELECT id, seq, hash, time, key_id, public_key, signature
    FROM audit_checkpoints ORDER BY id)sql");
  while (q.executeStep()) {
    Checkpoint c;
    c.seq = q.getColumn(1).getInt64();
    c.hash = q.getColumn(2).getString();
    c.time = q.getColumn(3).getString();
    c.key_id = q.getColumn(4).getString();
    c.public_key = q.getColumn(5).getString();
    c.signature = q.getColumn(6).getString();
    out.emplace_back(q.getColumn(0).getInt64(), std::move(c));
  }
  return out;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read \"" + path + "\"");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Adds the external checkpoint's expectation; false (with `report` filled)
// when the file cannot be used at all.
bool AddExternalCheckpoint(const VerifyOptions& o, const std::string& pubkey,
                           ChainChecker& checker, VerifyReport& report) {
  std::string text;
  try {
    text = ReadWholeFile(o.checkpoint_file);
  } catch (const std::exception& e) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = e.what();
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("checkpoint")) j = j["checkpoint"];
  std::string error;
  auto c = CheckpointFromJson(j, error);
  if (!c) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = "\"" + o.checkpoint_file + "\" is not a checkpoint: " + error;
    return false;
  }
  const std::string label = "the checkpoint in \"" + o.checkpoint_file + "\"";
  if (!pubkey.empty() && c->public_key != pubkey) {
    checker.Problem(c->seq, label + " (seq " + std::to_string(c->seq) +
                                ") is not signed by the given public key");
  } else if (c->signature.empty()) {
    checker.Expect(c->seq, {c->hash, label});
    report.notes.push_back(
        "the external checkpoint is unsigned (the gateway has no signing "
        "key); only its seq and hash were compared");
  } else if (!CheckpointSignatureValid(*c)) {
    checker.Problem(c->seq, label + " (seq " + std::to_string(c->seq) +
                                ") has an invalid signature (checkpoint edited)");
  } else {
    checker.Expect(c->seq, {c->hash, label});
    if (pubkey.empty()) {
      report.notes.push_back(
          "the external checkpoint's signature was checked against the key it "
          "names (" + c->key_id + "); pass --pubkey to pin the key");
    }
  }
  return true;
}

void Conclude(ChainChecker& checker, VerifyReport& report) {
  checker.Finish();
  report.records = checker.records();
  report.last_seq = checker.pos().seq;
  report.last_hash = checker.pos().hash;
  report.problems = std::move(checker.problems());
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const ChainProblem& a, const ChainProblem& b) {
                     return a.seq < b.seq;
                   });
  if (!report.problems.empty()) report.exit_code = kVerifyTampered;
}

// Summaries of rejected requests (gateway/rejection_ledger.h): each stands
// for request_count >= 1 requests and is a decision record; a note says how
// many requests they account for. Logs older than the column have none.
template <typename Checker>
void CheckSummaries(SQLite::Database& db, Checker& checker,
                    VerifyReport& report) {
  SQLite::Statement has(db,
                        "SELECT count(*) FROM pragma_table_info('audit_records')"
                        " WHERE name = 'request_count'");
  if (!has.executeStep() || has.getColumn(0).getInt64() == 0) return;
  SQLite::Statement bad(
      db,
      "SELECT seq FROM audit_records WHERE request_count IS NOT NULL AND "
      "(typeof(request_count) <> 'integer' OR request_count < 1 OR "
      "stage <> 'decision') ORDER BY seq");
  while (bad.executeStep()) {
    const std::int64_t seq = bad.getColumn(0).getInt64();
    checker.Problem(seq, "seq " + std::to_string(seq) +
                             " has a request_count that is not a positive "
                             "integer on a decision record");
  }
  SQLite::Statement sum(db,
                        "SELECT count(*), total(request_count) FROM "
                        "audit_records WHERE request_count IS NOT NULL");
  if (sum.executeStep() && sum.getColumn(0).getInt64() > 0) {
    report.notes.push_back(
        std::to_string(sum.getColumn(0).getInt64()) +
        " summary record(s) account for " +
        std::to_string(static_cast<std::int64_t>(sum.getColumn(1).getDouble())) +
        " rejected requests not recorded one by one (request_count)");
  }
}

VerifyReport VerifyDb(const VerifyOptions& o, const std::string& pubkey) {
  VerifyReport report;
  if (!std::filesystem::is_regular_file(o.db_path)) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = "\"" + o.db_path + "\" does not exist or is not a file";
    return report;
  }
  try {
    // One thread uses this connection: no per-call mutex.
    SQLite::Database db(o.db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) {
      report.exit_code = kVerifyUnreadable;
      report.unreadable =
          "\"" + o.db_path + "\" has no audit_records table (not an audit log)";
      return report;
    }
    // One read transaction: records and checkpoints from the same snapshot
    // while a gateway keeps appending.
    db.exec("BEGIN");
    ChainChecker checker({0, std::string(kGenesisHash)}, false);
    for (auto& [id, c] : StoredCheckpoints(db)) {
      ++report.checkpoints;
      const std::string label = "checkpoint #" + std::to_string(id) +
                                " (seq " + std::to_string(c.seq) +
                                ", signed " + c.time + ")";
      if (!pubkey.empty() && c.public_key != pubkey) {
        checker.Problem(c.seq, label + " is not signed by the given public key");
      } else if (!CheckpointSignatureValid(c)) {
        checker.Problem(c.seq,
                        label + " has an invalid signature (checkpoint edited)");
      } else {
        checker.Expect(c.seq, {c.hash, label});
      }
    }
    if (report.checkpoints > 0 && pubkey.empty()) {
      report.notes.push_back(
          "checkpoint signatures were checked against the keys stored with "
          "them; pass --pubkey to check they were made with your key");
    }
    if (!o.checkpoint_file.empty() &&
        !AddExternalCheckpoint(o, pubkey, checker, report)) {
      return report;
    }
    RawQuery q(db, "SELECT * FROM audit_records ORDER BY seq");
    const RowCanonicalizer canon(q);
    FeedRow row;
    while (q.Step()) {
      canon.Read(q, row);
      checker.Feed(row);
    }
    CheckSummaries(db, checker, report);
    db.exec("COMMIT");
    if (!checker.open_intents().empty()) {
      std::vector<std::int64_t> open(checker.open_intents().begin(),
                                     checker.open_intents().end());
      std::sort(open.begin(), open.end());
      if (GatewayIsRunning(o.db_path)) {
        report.notes.push_back(std::to_string(open.size()) +
                               " intent(s) without an outcome yet; a gateway "
                               "is running, so they may be in flight");
      } else {
        for (std::int64_t s : open) {
          checker.Problem(s, "intent seq " + std::to_string(s) +
                                 " has no outcome record (if the gateway "
                                 "crashed, starting it closes the intent as "
                                 "unknown)");
        }
      }
    }
    Conclude(checker, report);
  } catch (const std::exception& e) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = "cannot read \"" + o.db_path + "\": " + e.what();
  }
  return report;
}

VerifyReport VerifyJsonl(const VerifyOptions& o, const std::string& pubkey) {
  VerifyReport report;
  std::ifstream in(o.jsonl_path, std::ios::binary);
  if (!in) {
    report.exit_code = kVerifyUnreadable;
    report.unreadable = "cannot read \"" + o.jsonl_path + "\"";
    return report;
  }
  ChainChecker checker({0, std::string(kGenesisHash)}, true);
  if (!o.checkpoint_file.empty() &&
      !AddExternalCheckpoint(o, pubkey, checker, report)) {
    return report;
  }
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object()) {
      checker.Problem(checker.pos().seq + 1,
                      "line " + std::to_string(line_no) +
                          " is not a JSON object (file damaged or edited)");
      continue;
    }
    checker.Feed(FeedRowFromJson(std::move(rec)));
  }
  if (checker.records() > 0 && checker.first_seq() != 1) {
    report.notes.push_back(
        "the export starts at seq " + std::to_string(checker.first_seq()) +
        "; its first prev_hash is taken as given (compare it with the hash of "
        "seq " + std::to_string(checker.first_seq() - 1) + " elsewhere)");
  }
  if (!checker.open_intents().empty()) {
    report.notes.push_back(std::to_string(checker.open_intents().size()) +
                           " intent(s) have no outcome within this export");
  }
  Conclude(checker, report);
  return report;
}

}  // namespace

nlohmann::json RowObject(SQLite::Statement& q) {
  nlohmann::json rec = nlohmann::json::object();
  const int n = q.getColumnCount();
  for (int i = 0; i < n; ++i) {
    const SQLite::Column c = q.getColumn(i);
    if (c.isNull()) continue;
    if (c.isInteger()) {
      rec[c.getName()] = c.getInt64();
    } else if (c.isText()) {
      rec[c.getName()] = c.getString();
    } else {
      throw std::runtime_error(std::string("column ") + c.getName() +
                               " holds a value of an unexpected type");
    }
  }
  return rec;
}

void WriteJsonlRows(SQLite::Database& db, std::int64_t from_seq,
                    std::int64_t to_seq, std::ostream& out,
                    std::int64_t& records) {
  RawQuery q(db,
             "SELECT * FROM audit_records WHERE seq >= ? AND seq <= ? "
             "ORDER BY seq");
  q.Bind(1, from_seq);
  q.Bind(2, to_seq);
  const RowCanonicalizer canon(q);
  std::string line;
  while (q.Step()) {
    line.clear();
    canon.Write(q, line, /*with_hash=*/true);
    line.push_back('\n');
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    ++records;
  }
}

std::optional<ChainProblem> CheckChainFrom(SQLite::Database& db,
                                           ChainPosition& pos) {
  ChainChecker checker(pos, false);
  RawQuery q(db, "SELECT * FROM audit_records WHERE seq > ? ORDER BY seq");
  q.Bind(1, pos.seq);
  const RowCanonicalizer canon(q);
  FeedRow row;
  while (q.Step()) {
    canon.Read(q, row);
    checker.Feed(row);
    if (!checker.problems().empty()) return checker.problems().front();
  }
  pos = checker.pos();
  return std::nullopt;
}

std::optional<std::pair<std::int64_t, std::string>> TrustedAnchor(
    SQLite::Database& db, const std::string& public_key_hex) {
  if (!db.tableExists("audit_checkpoints")) return std::nullopt;
  SQLite::Statement q(db, R"sql(
    SELECT c.seq, c.hash, c.time, c.key_id, c.public_key, c.signature,
           r.hash
    FROM audit_checkpoints c LEFT JOIN audit_records r ON r.seq = c.seq
    WHERE c.public_key = ? ORDER BY c.id DESC LIMIT 50)sql");
  q.bind(1, public_key_hex);
  while (q.executeStep()) {
    Checkpoint c;
    c.seq = q.getColumn(0).getInt64();
    c.hash = q.getColumn(1).getString();
    c.time = q.getColumn(2).getString();
    c.key_id = q.getColumn(3).getString();
    c.public_key = q.getColumn(4).getString();
    c.signature = q.getColumn(5).getString();
    const std::string record_hash =
        c.seq == 0 ? std::string(kGenesisHash)
                   : (q.getColumn(6).isNull() ? "" : q.getColumn(6).getString());
    if (record_hash == c.hash && CheckpointSignatureValid(c)) {
      return std::make_pair(c.seq, c.hash);
    }
  }
  return std::nullopt;
}

std::string CheckBeforeServing(const std::string& db_path,
                               const std::string& public_key_hex) {
  if (!std::filesystem::exists(db_path)) return "";
  const std::string hint = "; not starting. `agni-gateway audit verify --db " +
                           db_path +
                           "` lists every problem; keep the file as evidence "
                           "and start on a new audit.path";
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    db.setBusyTimeout(5000);
    if (!db.tableExists("audit_records")) return "";
    db.exec("BEGIN");
    // The whole chain, re-hashed, and every checkpoint this gateway's key
    // signed must still match: one of them beyond the last record means the
    // tail was cut off or the file replaced by an older copy.
    ChainChecker checker({0, std::string(kGenesisHash)}, false);
    if (!public_key_hex.empty()) {
      for (auto& [id, c] : StoredCheckpoints(db)) {
        if (c.public_key != public_key_hex) continue;
        const std::string label = "checkpoint #" + std::to_string(id) +
                                  " signed by this gateway's key";
        if (!CheckpointSignatureValid(c)) {
          checker.Problem(c.seq, label + " has an invalid signature");
        } else {
          checker.Expect(c.seq, {c.hash, label});
        }
      }
    }
    RawQuery q(db, "SELECT * FROM audit_records ORDER BY seq");
    const RowCanonicalizer canon(q);
    FeedRow row;
    while (q.Step()) {
      canon.Read(q, row);
      checker.Feed(row);
      if (!checker.problems().empty()) break;
    }
    db.exec("COMMIT");
    if (checker.problems().empty()) checker.Finish();
    if (!checker.problems().empty()) {
      auto& problems = checker.problems();
      const ChainProblem& first = *std::min_element(
          problems.begin(), problems.end(),
          [](const ChainProblem& a, const ChainProblem& b) {
            return a.seq < b.seq;
          });
      return "the audit chain in \"" + db_path + "\" is broken at seq " +
             std::to_string(first.seq) + ": " + first.what + hint;
    }
  } catch (const std::exception& e) {
    return "cannot check the audit log \"" + db_path + "\": " + e.what() + hint;
  }
  return "";
}

VerifyReport Verify(const VerifyOptions& o) {
  std::string pubkey;
  if (!o.public_key_file.empty()) {
    try {
      pubkey = LoadPublicKeyHex(o.public_key_file);
    } catch (const std::exception& e) {
      VerifyReport r;
      r.exit_code = kVerifyUnreadable;
      r.unreadable = e.what();
      return r;
    }
  }
  return o.jsonl_path.empty() ? VerifyDb(o, pubkey) : VerifyJsonl(o, pubkey);
}

std::string VerifyReport::Text() const {
  std::ostringstream out;
  if (exit_code == kVerifyUnreadable) {
    out << "UNREADABLE: " << unreadable << "\n";
    return out.str();
  }
  if (problems.empty()) {
    out << "OK: " << records << " records";
    if (records > 0) out << " up to seq " << last_seq << ", head " << last_hash;
    out << "; " << checkpoints << " stored checkpoint(s) verified\n";
  } else {
    out << "TAMPERED: first bad seq " << problems.front().seq << ": "
        << problems.front().what << "\n";
    const std::size_t shown = std::min<std::size_t>(problems.size(), 10);
    for (std::size_t i = 1; i < shown; ++i) {
      out << "  also seq " << problems[i].seq << ": " << problems[i].what
          << "\n";
    }
    if (problems.size() > shown) {
      out << "  ... and " << problems.size() - shown << " more\n";
    }
  }
  for (const std::string& n : notes) out << "note: " << n << "\n";
  return out.str();
}

}  // namespace agni::audit
