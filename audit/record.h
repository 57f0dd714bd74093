// One audit record and its canonical byte form, which the hash chain covers.
// The canonical form is specified in audit/CHAIN.md so that a third party can
// re-implement verification.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace agni::audit {

inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// What a record is: a request's decision (answered by the gateway itself), a
// release's intent (before forwarding) or outcome (after), or an event of an
// approval request. Spelled as text only in the canonical form and the table.
// kArchived: the record `audit archive` leaves when it moves older records
// out of the live database (audit/archive.h).
enum class Stage { kDecision, kIntent, kOutcome, kApproval, kArchived };
std::string_view StageName(Stage stage);
std::optional<Stage> ParseStage(std::string_view name);

// What became of a forwarded release, as its outcome record says.
enum class ReleaseOutcome {
  kReleased,
  kRejectedByUpstream,
  kUnknown,
  kNotSent
};
std::string_view OutcomeName(ReleaseOutcome outcome);

// Field names are the column names of the audit_records table. Empty strings
// and unset numbers are stored as NULL and left out of the canonical form.
// Never holds a credential.
struct Record {
  // Assigned by the store.
  std::int64_t seq = 0;
  std::int64_t time_us = 0;  // UTC microseconds since the epoch
  std::string prev_hash;
  std::string hash;

  // Filled by the caller. The audit_records table requires a stage; a record
  // without one exists only in tests of the canonical form.
  std::optional<Stage> stage;
  std::string request_id;
  std::string principal;
  std::string groups;  // JSON array text
  std::string auth_method;
  std::string peer;
  std::string method;
  std::string path;
  std::string phone_number;
  std::string decision;  // allow | deny | error
  std::string rule_id;
  std::string reason;
  std::string approval_id;
  std::string policy_hash;
  std::string shadow;  // the shadow rules' would-be decision, "deny:rule-id"
  std::optional<std::int64_t> intent_seq;  // on an outcome: its intent
  std::optional<int> upstream_status;
  std::optional<std::int64_t> upstream_latency_us;
  std::optional<int> response_status;
  std::string outcome;  // released | rejected_by_upstream | unknown | not_sent
  std::string detail;
  // Set only on a summary of rejected requests
  // (gateway/pipeline/rejection_ledger.h): how many requests this one record
  // stands for. Unset: the record is one request's own.
  std::optional<std::int64_t> request_count;
};

// "2026-11-26T16:47:10.123456Z"
std::string FormatTime(std::int64_t time_us);

// The inverse of FormatTime; nullopt for any other form.
std::optional<std::int64_t> ParseTime(std::string_view text);

// The record as a JSON object (all fields but `hash`, nulls omitted).
nlohmann::json ToJson(const Record& r);

// Canonical bytes: ToJson(r) serialised compactly with keys in byte order and
// non-ASCII characters escaped, so the bytes do not depend on the writer.
std::string CanonicalBytes(const Record& r);

// hex(SHA-256(prev_hash_hex || canonical bytes)).
std::string ChainHash(const Record& r);

// How the stage is stored in the table: its name, or "" when unset.
std::string_view StageColumn(const Record& r);

}  // namespace agni::audit
