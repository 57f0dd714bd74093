// Signed checkpoints of the audit chain: an Ed25519 signature over
// {seq, hash, time} of the chain head, stored in the audit_checkpoints table
// and served by GET /v1/audit/head so that an operator can keep a copy where
// the gateway cannot write. A copy kept elsewhere is what lets `audit verify`
// notice a cut-off tail or a database replaced by an older copy, which the
// chain alone cannot show. The format is specified in audit/CHAIN.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/chain_check.h"

namespace SQLite {
class Database;
}  // namespace SQLite

namespace agni::audit {

// One signed statement "the chain had `hash` at `seq` at `time`".
struct Checkpoint {
  std::int64_t seq = 0;    // 0: the empty log (hash is the genesis hash)
  std::string hash;        // 64 lowercase hex
  std::string time;        // FormatTime() of when it was signed
  std::string key_id;      // KeyId() of the signing key
  std::string public_key;  // raw Ed25519 public key, 64 lowercase hex
  std::string signature;   // raw Ed25519 signature, 128 lowercase hex
};

// The bytes that are signed: {"hash":...,"seq":...,"time":...} in the
// canonical JSON form of CHAIN.md.
std::string CheckpointMessage(const Checkpoint& c);

nlohmann::json CheckpointToJson(const Checkpoint& c);
// Accepts the object CheckpointToJson() writes (as GET /v1/audit/head serves
// it). Returns nullopt and sets `error` when a field is missing or malformed.
std::optional<Checkpoint> CheckpointFromJson(const nlohmann::json& j,
                                             std::string& error);

// First 16 hex digits of SHA-256 over the raw 32-byte public key.
std::string KeyId(const std::string& public_key_hex);

// True when `c.signature` is a valid Ed25519 signature by `c.public_key` over
// CheckpointMessage(c) and key_id matches the key.
bool CheckpointSignatureValid(const Checkpoint& c);

// An Ed25519 private key. Immutable after construction; thread-safe.
class SigningKey {
 public:
  // Reads a PKCS#8 PEM private key ("openssl genpkey -algorithm ed25519"
  // writes the same). Throws std::runtime_error naming the file.
  static SigningKey LoadPem(const std::string& path);
  static SigningKey Generate();

  Checkpoint Sign(std::int64_t seq, std::string hash, std::string time) const;
  std::string PrivatePem() const;
  std::string PublicPem() const;
  const std::string& public_key_hex() const { return public_hex_; }
  const std::string& key_id() const { return key_id_; }

 private:
  std::string raw_private_;  // 32-byte seed
  std::string public_hex_;
  std::string key_id_;
};

// Reads an Ed25519 public key from a PEM file (SubjectPublicKeyInfo, as
// `audit keygen` writes it) and returns it as 64 hex digits. Throws
// std::runtime_error naming the file.
std::string LoadPublicKeyHex(const std::string& path);

// Writes a new key pair: `private_path` (mode 0600, refuses to overwrite) and
// `public_path`. Returns an error message, empty on success.
std::string GenerateKeyFiles(const std::string& private_path,
                             const std::string& public_path);

// Creates audit_checkpoints (append-only through triggers) if missing.
void EnsureCheckpointSchema(SQLite::Database& db);

// Appends `c` to audit_checkpoints; the caller holds the write transaction.
void InsertCheckpoint(SQLite::Database& db, const Checkpoint& c);

// The newest stored checkpoint, if any.
std::optional<Checkpoint> LatestCheckpoint(SQLite::Database& db);

// Every stored checkpoint with its id, oldest first.
std::vector<std::pair<std::int64_t, Checkpoint>> StoredCheckpoints(
    SQLite::Database& db);
// The same for the checkpoints with `lo <= seq <= hi`.
std::vector<std::pair<std::int64_t, Checkpoint>> StoredCheckpointsBetween(
    SQLite::Database& db, std::int64_t lo, std::int64_t hi);

// The newest stored checkpoint signed by `public_key_hex` whose signature
// verifies and whose seq/hash match the record there, as a chain position.
std::optional<ChainPosition> TrustedAnchor(SQLite::Database& db,
                                           const std::string& public_key_hex);

// The newest stored checkpoint signed by `public_key_hex`, as a chain
// position, when its signature verifies and the record at its seq still has
// its hash; nullopt when there is none or it fails either test (the caller
// then checks the whole chain, which names the problem).
std::optional<ChainPosition> NewestOwnAnchor(SQLite::Database& db,
                                             const std::string& public_key_hex);

// Writes `c` as JSON (the form GET /v1/audit/head serves and `audit verify
// --checkpoint` reads) into a new file in `dir`, named after its seq, key and
// time: written to a temporary name, synced, renamed, and the folder synced.
// Returns an error message, empty on success.
std::string WriteWitnessFile(const std::string& dir, const Checkpoint& c);

// Signs the audit chain head at start, every `interval` while the head moves,
// and at Stop(). Uses its own SQLite connection (the store's is used by the
// store's committing callers); before signing it re-hashes the records added
// since its previous checkpoint, so it never signs over a chain that was
// altered under it.
//
// Thread-safe: Latest() may be called from any thread; Start/Stop from one.
class Checkpointer {
 public:
  Checkpointer(std::string db_path, SigningKey key,
               std::chrono::milliseconds interval,
               std::function<void(const std::string&)> on_error = nullptr);
  ~Checkpointer();

  // Also writes every checkpoint it signs into `dir` (one file each, written
  // atomically and synced). A failure there goes to `on_failure` and never
  // stops the signing. Call before Start().
  void SetWitness(std::string dir,
                  std::function<void(const std::string&)> on_failure);

  // Writes the start checkpoint and starts the periodic thread. Throws
  // std::runtime_error when the first checkpoint cannot be written.
  // `verified`: a position the caller has just re-hashed up to (the start
  // check's), so only the records after it are re-hashed here; without it
  // the first pass starts from this key's newest checkpoint, else seq 1.
  void Start(std::optional<ChainPosition> verified = std::nullopt);
  // Stops the thread and writes a final checkpoint (clean shutdown).
  void Stop();
  // Signs the current head now (unless it is already the latest checkpoint
  // and `force` is false). Returns the checkpoint written, or an error.
  std::optional<Checkpoint> WriteNow(bool force, std::string& error);
  // Records re-hashed by this checkpointer so far (seq distance covered).
  std::int64_t rehashed() const { return rehashed_.load(); }

 private:
  void Loop();

  std::string db_path_;
  SigningKey key_;
  std::chrono::milliseconds interval_;
  std::function<void(const std::string&)> on_error_;
  std::string witness_dir_;
  std::function<void(const std::string&)> on_witness_failure_;
  std::mutex write_mu_;  // one WriteNow() at a time
  std::unique_ptr<SQLite::Database> db_;
  std::int64_t verified_seq_ = -1;  // -1: nothing checked yet
  std::string verified_hash_;
  std::optional<Checkpoint> latest_;
  std::atomic<std::int64_t> rehashed_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace agni::audit
