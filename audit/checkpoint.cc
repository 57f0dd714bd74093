#include "audit/checkpoint.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "audit/archive.h"
#include "audit/chain_check.h"
#include "audit/record.h"
#include "audit/sqlite_store.h"
#include "audit/store.h"
#include "base/crypto.h"

namespace agni::audit {
namespace {

constexpr const char* kCheckpointSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  id         INTEGER PRIMARY KEY,
  seq        INTEGER NOT NULL,
  hash       TEXT    NOT NULL,
  time       TEXT    NOT NULL,
  key_id     TEXT    NOT NULL,
  public_key TEXT    NOT NULL,
  signature  TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update
  BEFORE UPDATE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete
  BEFORE DELETE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
)sql";

// The newest checkpoints signed by one key, at most a given number, each
// with the hash of the record at its seq (NULL when there is none).
constexpr const char* kOwnCheckpointsSql = R"sql(
    SELECT c.seq, c.hash, c.time, c.key_id, c.public_key, c.signature,
           r.hash
    FROM audit_checkpoints c LEFT JOIN audit_records r ON r.seq = c.seq
    WHERE c.public_key = ? ORDER BY c.id DESC LIMIT ?)sql";

// The checkpoints whose seq lies in a closed range, with their ids, oldest
// first.
constexpr const char* kCheckpointsBetweenSql = R"sql(
    SELECT seq, hash, time, key_id, public_key, signature, id
    FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY id)sql";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string RawPublicKey(EVP_PKEY* key) {
  unsigned char pub[32];
  std::size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32) {
    throw std::runtime_error("cannot read the Ed25519 public key: " +
                             OpenSslError());
  }
  return std::string(reinterpret_cast<char*>(pub), len);
}

Pkey PrivateFromSeed(const std::string& seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  if (!key) throw std::runtime_error("bad Ed25519 key: " + OpenSslError());
  return key;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read \"" + path +
                             "\": " + std::strerror(errno));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The Ed25519 key, private or public, in the PEM file at `path`. Throws
// std::runtime_error: the quoted path and `not_a_key` when the file holds
// anything else.
Pkey ReadEd25519Pem(const std::string& path, bool private_key,
                    const char* not_a_key) {
  const std::string pem = ReadFile(path);
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(private_key
               ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
               : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    throw std::runtime_error("\"" + path + "\" " + not_a_key);
  }
  return key;
}

bool IsHex(std::string_view s, std::size_t len) {
  return s.size() == len && HexDecode(s).has_value();
}

Checkpoint FromRow(SQLite::Statement& q) {
  Checkpoint c;
  c.seq = q.getColumn(0).getInt64();
  c.hash = q.getColumn(1).getString();
  c.time = q.getColumn(2).getString();
  c.key_id = q.getColumn(3).getString();
  c.public_key = q.getColumn(4).getString();
  c.signature = q.getColumn(5).getString();
  return c;
}

// The checkpoints the rows of `q` hold, each with the id in column 6.
std::vector<std::pair<std::int64_t, Checkpoint>> WithIds(SQLite::Statement& q) {
  std::vector<std::pair<std::int64_t, Checkpoint>> out;
  while (q.executeStep()) {
    out.emplace_back(q.getColumn(6).getInt64(), FromRow(q));
  }
  return out;
}

// The newest of the `scan` newest checkpoints signed by `public_key_hex`
// whose signature verifies and whose seq/hash match the record there.
std::optional<ChainPosition> OwnAnchor(SQLite::Database& db,
                                       const std::string& public_key_hex,
                                       std::int64_t scan) {
  if (!db.tableExists("audit_checkpoints")) return std::nullopt;
  SQLite::Statement q =
      BoundStatement(db, kOwnCheckpointsSql, public_key_hex, scan);
  while (q.executeStep()) {
    Checkpoint c = FromRow(q);
    const std::string record_hash =
        c.seq == 0
            ? std::string(kGenesisHash)
            : (q.getColumn(6).isNull() ? "" : q.getColumn(6).getString());
    if (record_hash == c.hash && CheckpointSignatureValid(c)) {
      return ChainPosition{c.seq, c.hash};
    }
  }
  return std::nullopt;
}

}  // namespace

void InsertCheckpoint(SQLite::Database& db, const Checkpoint& c) {
  ExecBound(db, R"sql(
    INSERT INTO audit_checkpoints (seq, hash, time, key_id, public_key,
                                   signature) VALUES (?, ?, ?, ?, ?, ?))sql",
            c.seq, c.hash, c.time, c.key_id, c.public_key, c.signature);
}

std::string CheckpointMessage(const Checkpoint& c) {
  return nlohmann::json{{"hash", c.hash}, {"seq", c.seq}, {"time", c.time}}
      .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

nlohmann::json CheckpointToJson(const Checkpoint& c) {
  return {{"seq", c.seq},
          {"hash", c.hash},
          {"time", c.time},
          {"key_id", c.key_id},
          {"public_key", c.public_key},
          {"signature", c.signature},
          {"algorithm", "ed25519"}};
}

std::optional<Checkpoint> CheckpointFromJson(const nlohmann::json& j,
                                             std::string& error) {
  if (!j.is_object()) {
    error = "a checkpoint must be a JSON object";
    return std::nullopt;
  }
  Checkpoint c;
  auto text = [&](const char* key, std::string& out, bool required = true) {
    auto it = j.find(key);
    if (it == j.end() && !required) return;
    if (it == j.end() || !it->is_string()) {
      if (error.empty())
        error = std::string("\"") + key + "\" must be a string";
      return;
    }
    out = it->get<std::string>();
  };
  auto seq = j.find("seq");
  if (seq == j.end() || !seq->is_number_integer() ||
      seq->get<long long>() < 0) {
    error = "\"seq\" must be a non-negative integer";
  } else {
    c.seq = seq->get<std::int64_t>();
  }
  text("hash", c.hash);
  text("time", c.time, false);
  // An unsigned head (a gateway without a signing key) has none of these.
  text("key_id", c.key_id, false);
  text("public_key", c.public_key, false);
  text("signature", c.signature, false);
  if (error.empty() && !IsHex(c.hash, 64))
    error = "\"hash\" must be 64 hex digits";
  if (!error.empty()) return std::nullopt;
  return c;
}

std::string KeyId(const std::string& public_key_hex) {
  auto raw = HexDecode(public_key_hex);
  return Sha256Hex(raw ? *raw : public_key_hex).substr(0, 16);
}

bool CheckpointSignatureValid(const Checkpoint& c) {
  auto pub = HexDecode(c.public_key);
  auto sig = HexDecode(c.signature);
  if (!pub || pub->size() != 32 || !sig || sig->size() != 64) return false;
  if (c.key_id != KeyId(c.public_key)) return false;
  Pkey key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(pub->data()), pub->size()));
  if (!key) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const std::string msg = CheckpointMessage(c);
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) ==
          1 &&
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()),
          sig->size(), reinterpret_cast<const unsigned char*>(msg.data()),
          msg.size()) == 1;
  ERR_clear_error();
  return ok;
}

SigningKey SigningKey::Generate() {
  SigningKey k;
  k.raw_private_ = RandomBytes(32);
  Pkey key = PrivateFromSeed(k.raw_private_);
  k.public_hex_ = HexEncode(RawPublicKey(key.get()));
  k.key_id_ = KeyId(k.public_hex_);
  return k;
}

SigningKey SigningKey::LoadPem(const std::string& path) {
  Pkey key = ReadEd25519Pem(path, /*private_key=*/true,
                            "is not an Ed25519 private key in PEM form "
                            "(make one with `agni-gateway audit keygen`)");
  unsigned char seed[32];
  std::size_t len = sizeof seed;
  if (EVP_PKEY_get_raw_private_key(key.get(), seed, &len) != 1 || len != 32) {
    throw std::runtime_error("cannot read the key in \"" + path + "\"");
  }
  SigningKey k;
  k.raw_private_.assign(reinterpret_cast<char*>(seed), len);
  OPENSSL_cleanse(seed, sizeof seed);
  k.public_hex_ = HexEncode(RawPublicKey(key.get()));
  k.key_id_ = KeyId(k.public_hex_);
  return k;
}

Checkpoint SigningKey::Sign(std::int64_t seq, std::string hash,
                            std::string time) const {
  Checkpoint c;
  c.seq = seq;
  c.hash = std::move(hash);
  c.time = std::move(time);
  c.key_id = key_id_;
  c.public_key = public_hex_;
  Pkey key = PrivateFromSeed(raw_private_);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const std::string msg = CheckpointMessage(c);
  unsigned char sig[64];
  std::size_t len = sizeof sig;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) !=
          1 ||
      EVP_DigestSign(ctx.get(), sig, &len,
                     reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed: " + OpenSslError());
  }
  c.signature = HexEncode(std::string_view(reinterpret_cast<char*>(sig), len));
  return c;
}

std::string SigningKey::PrivatePem() const {
  Pkey key = PrivateFromSeed(raw_private_);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr,
                                       0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot encode the private key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string SigningKey::PublicPem() const {
  Pkey key = PrivateFromSeed(raw_private_);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    throw std::runtime_error("cannot encode the public key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string LoadPublicKeyHex(const std::string& path) {
  Pkey key = ReadEd25519Pem(path, /*private_key=*/false,
                            "is not an Ed25519 public key in PEM form");
  return HexEncode(RawPublicKey(key.get()));
}

std::string GenerateKeyFiles(const std::string& private_path,
                             const std::string& public_path) {
  SigningKey key = SigningKey::Generate();
  const std::string priv = key.PrivatePem();
  const int fd = ::open(private_path.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return "cannot create \"" + private_path + "\": " + std::strerror(errno) +
           (errno == EEXIST ? " (refusing to overwrite an existing key)" : "");
  }
  const bool written = ::write(fd, priv.data(), priv.size()) ==
                           static_cast<ssize_t>(priv.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(private_path.c_str());
    return "cannot write \"" + private_path + "\"";
  }
  std::ofstream pub(public_path, std::ios::binary | std::ios::trunc);
  pub << key.PublicPem();
  if (!pub.flush()) return "cannot write \"" + public_path + "\"";
  return "";
}

void EnsureCheckpointSchema(SQLite::Database& db) {
  db.exec(kCheckpointSchema);
}

std::optional<Checkpoint> LatestCheckpoint(SQLite::Database& db) {
  if (!db.tableExists("audit_checkpoints")) return std::nullopt;
  SQLite::Statement q(db, R"sql(
    SELECT seq, hash, time, key_id, public_key, signature
    FROM audit_checkpoints ORDER BY id DESC LIMIT 1)sql");
  if (!q.executeStep()) return std::nullopt;
  return FromRow(q);
}

std::vector<std::pair<std::int64_t, Checkpoint>> StoredCheckpoints(
    SQLite::Database& db) {
  if (!db.tableExists("audit_checkpoints")) return {};
  SQLite::Statement q(db, R"sql(
    SELECT seq, hash, time, key_id, public_key, signature, id
    FROM audit_checkpoints ORDER BY id)sql");
  return WithIds(q);
}

std::vector<std::pair<std::int64_t, Checkpoint>> StoredCheckpointsBetween(
    SQLite::Database& db, std::int64_t lo, std::int64_t hi) {
  if (!db.tableExists("audit_checkpoints")) return {};
  SQLite::Statement q = BoundStatement(db, kCheckpointsBetweenSql, lo, hi);
  return WithIds(q);
}

std::optional<ChainPosition> TrustedAnchor(SQLite::Database& db,
                                           const std::string& public_key_hex) {
  return OwnAnchor(db, public_key_hex, /*scan=*/50);
}

std::optional<ChainPosition> NewestOwnAnchor(
    SQLite::Database& db, const std::string& public_key_hex) {
  return OwnAnchor(db, public_key_hex, /*scan=*/1);
}

Checkpointer::Checkpointer(std::string db_path, SigningKey key,
                           std::chrono::milliseconds interval,
                           std::function<void(const std::string&)> on_error)
    : db_path_(std::move(db_path)),
      key_(std::move(key)),
      interval_(interval),
      on_error_(std::move(on_error)) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::SetWitness(
    std::string dir, std::function<void(const std::string&)> on_failure) {
  witness_dir_ = std::move(dir);
  on_witness_failure_ = std::move(on_failure);
}

std::string WriteWitnessFile(const std::string& dir, const Checkpoint& c) {
  std::string stamp;
  for (char ch : c.time) {
    if (std::isalnum(static_cast<unsigned char>(ch))) stamp.push_back(ch);
  }
  char seq[24];
  std::snprintf(seq, sizeof seq, "%012lld", static_cast<long long>(c.seq));
  const std::string name =
      std::string("checkpoint-") + seq + "-" + c.key_id + "-" + stamp + ".json";
  const std::string path = dir + "/" + name;
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string body = CheckpointToJson(c).dump() + "\n";
  auto failed = [&](const std::string& what) {
    const std::string error =
        what + " \"" + path + "\": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return error;
  };
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("cannot create");
  const bool written = ::write(fd, body.data(), body.size()) ==
                           static_cast<ssize_t>(body.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return failed("cannot write");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("cannot rename");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return failed("cannot sync the folder of");
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return failed("cannot sync the folder of");
  return "";
}

void Checkpointer::Start(std::optional<ChainPosition> verified) {
  if (verified) {
    std::lock_guard lock(write_mu_);
    verified_seq_ = verified->seq;
    verified_hash_ = verified->hash;
  }
  std::string error;
  if (!WriteNow(/*force=*/true, error)) {
    throw std::runtime_error("cannot write the start checkpoint: " + error);
  }
  thread_ = std::thread([this] { Loop(); });
}

void Checkpointer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::string error;
  if (!WriteNow(/*force=*/true, error) && on_error_) on_error_(error);
}

void Checkpointer::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [&] { return stopping_; })) {
    lock.unlock();
    std::string error;
    if (!WriteNow(/*force=*/false, error) && !error.empty() && on_error_) {
      on_error_(error);
    }
    lock.lock();
  }
}

std::optional<Checkpoint> Checkpointer::WriteNow(bool force,
                                                 std::string& error) {
  std::lock_guard lock(write_mu_);
  try {
    if (!db_) {
      db_ =
          std::make_unique<SQLite::Database>(db_path_, SQLite::OPEN_READWRITE);
      db_->setBusyTimeout(5000);
      EnsureCheckpointSchema(*db_);
    }
    // Re-hash what was appended since the last checked point, in a read
    // transaction: the store's writer is never held up by this, and the
    // signature vouches for exactly the records just checked.
    std::int64_t from_seq = verified_seq_ < 0 ? 0 : verified_seq_;
    std::string from_hash =
        verified_seq_ < 0 ? std::string(kGenesisHash) : verified_hash_;
    ChainPosition head{from_seq, from_hash};
    std::int64_t intents_closed_through = 0;
    std::int64_t start_seq = from_seq;
    {
      SQLite::Transaction read(*db_, SQLite::TransactionBehavior::DEFERRED);
      if (verified_seq_ < 0) {
        // First run in this process: start from the newest checkpoint whose
        // signature is ours and whose record still matches, else from seq 1.
        if (auto anchor = TrustedAnchor(*db_, key_.public_key_hex())) {
          head = *anchor;
        } else if (LiveStartResult live = LiveStart(*db_); !live.problem) {
          head = live.pos;  // after the archived records, if any
        }
      }
      start_seq = head.seq;
      if (auto problem = CheckChainFrom(*db_, head)) {
        error = "the audit chain is broken at seq " +
                std::to_string(problem->seq) + ": " + problem->what +
                "; refusing to sign it";
        return std::nullopt;
      }
      // Intents before the first one still open have outcomes: the next
      // start looks for open intents after that point only.
      const std::int64_t mark = IntentsClosedThrough(*db_);
      const auto open = FirstOpenIntent(*db_, mark, head.seq);
      intents_closed_through = open ? *open - 1 : head.seq;
      read.commit();
    }
    rehashed_ += head.seq - start_seq;
    verified_seq_ = head.seq;
    verified_hash_ = head.hash;
    if (!force && latest_ && latest_->seq == head.seq) return latest_;
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    Checkpoint c = key_.Sign(head.seq, head.hash, FormatTime(now));
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    InsertCheckpoint(*db_, c);
    SetIntentsClosedThrough(*db_, intents_closed_through);
    tx.commit();
    latest_ = c;
    if (!witness_dir_.empty()) {
      if (std::string e = WriteWitnessFile(witness_dir_, c);
          !e.empty() && on_witness_failure_) {
        on_witness_failure_(e);
      }
    }
    return c;
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

}  // namespace agni::audit
