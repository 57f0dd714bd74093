#include "audit/read/trust.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "audit/checkpoint.h"

namespace agni::audit {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read \"" + path + "\"");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::int64_t ExpectStoredCheckpoints(SQLite::Database& db,
                                     const std::string& pubkey,
                                     ChainChecker& checker,
                                     std::vector<std::string>& notes) {
  std::int64_t checked = 0;
  for (auto& [id, c] : StoredCheckpoints(db)) {
    ++checked;
    const std::string label = "checkpoint #" + std::to_string(id) + " (seq " +
                              std::to_string(c.seq) + ", signed " + c.time +
                              ")";
    if (!pubkey.empty() && c.public_key != pubkey) {
      checker.Problem(c.seq, label + " is not signed by the given public key");
    } else if (!CheckpointSignatureValid(c)) {
      checker.Problem(c.seq,
                      label + " has an invalid signature (checkpoint edited)");
    } else {
      checker.Expect(c.seq, {c.hash, label});
    }
  }
  if (checked > 0 && pubkey.empty()) {
    notes.push_back(
        "checkpoint signatures were checked against the keys stored with "
        "them; pass --pubkey to check they were made with your key");
  }
  return checked;
}

void ExpectOwnCheckpoints(SQLite::Database& db, const std::string& pubkey,
                          ChainChecker& checker) {
  if (pubkey.empty()) return;
  for (auto& [id, c] : StoredCheckpoints(db)) {
    if (c.public_key != pubkey) continue;
    const std::string label =
        "checkpoint #" + std::to_string(id) + " signed by this gateway's key";
    if (!CheckpointSignatureValid(c)) {
      checker.Problem(c.seq, label + " has an invalid signature");
    } else {
      checker.Expect(c.seq, {c.hash, label});
    }
  }
}

std::string ExpectExternalCheckpoint(const std::string& path,
                                     const std::string& pubkey,
                                     ChainChecker& checker,
                                     std::vector<std::string>& notes) {
  std::string text;
  try {
    text = ReadWholeFile(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("checkpoint")) j = j["checkpoint"];
  std::string error;
  auto c = CheckpointFromJson(j, error);
  if (!c) return "\"" + path + "\" is not a checkpoint: " + error;
  const std::string label = "the checkpoint in \"" + path + "\"";
  if (!pubkey.empty() && c->public_key != pubkey) {
    checker.Problem(c->seq, label + " (seq " + std::to_string(c->seq) +
                                ") is not signed by the given public key");
  } else if (c->signature.empty()) {
    checker.Expect(c->seq, {c->hash, label});
    notes.push_back(
        "the external checkpoint is unsigned (the gateway has no signing "
        "key); only its seq and hash were compared");
  } else if (!CheckpointSignatureValid(*c)) {
    checker.Problem(c->seq,
                    label + " (seq " + std::to_string(c->seq) +
                        ") has an invalid signature (checkpoint edited)");
  } else {
    checker.Expect(c->seq, {c->hash, label});
    if (pubkey.empty()) {
      notes.push_back(
          "the external checkpoint's signature was checked against the key it "
          "names (" +
          c->key_id + "); pass --pubkey to pin the key");
    }
  }
  return "";
}

}  // namespace agni::audit
