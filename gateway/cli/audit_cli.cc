#include "gateway/cli/audit_cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "audit/archive.h"
#include "audit/checkpoint.h"
#include "audit/read/export.h"
#include "audit/read/tail.h"

namespace agni {
namespace {

constexpr const char* kReadOnlyDb = "Audit database (read-only)";

// The failure of a subcommand whose result has exit_code and error, on
// stderr; returns its exit code.
template <typename Result>
int ReportFailure(const char* command, const Result& r) {
  std::cerr << "audit " << command << ": " << r.error << "\n";
  return r.exit_code;
}

}  // namespace

std::string VerifyReportText(const audit::VerifyReport& report) {
  std::ostringstream out;
  if (report.exit_code == audit::kVerifyUnreadable) {
    out << "UNREADABLE: " << report.unreadable << "\n";
    return out.str();
  }
  const auto& problems = report.problems;
  if (problems.empty()) {
    out << "OK: " << report.records << " records";
    if (report.records > 0) {
      out << " up to seq " << report.last_seq << ", head " << report.last_hash;
    }
    out << "; " << report.checkpoints << " stored checkpoint(s) verified\n";
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
  for (const std::string& n : report.notes) out << "note: " << n << "\n";
  return out.str();
}

AuditCommands::AuditCommands(CLI::App& app) {
  CLI::App* audit = app.add_subcommand(
      "audit",
      "Audit log tools: signing keys, verification, export, tail, archive");
  audit->require_subcommand(1);

  keygen_ = audit->add_subcommand(
      "keygen",
      "Create an Ed25519 key pair for signing checkpoints: the private key "
      "(mode 0600, never overwritten) goes to audit.signing_key_file, the "
      "public key to whoever runs `audit verify --pubkey`");
  keygen_->add_option("--private", private_file_, "Private key file to create")
      ->required();
  keygen_->add_option("--public", public_file_, "Public key file to write")
      ->required();

  verify_ = audit->add_subcommand(
      "verify",
      "Re-hash every record, check seq has no gaps, every intent has an "
      "outcome, and every checkpoint signature. Exit 0 OK, 1 tampered (the "
      "first bad seq is named), 2 unreadable");
  auto* db = verify_->add_option("--db", db_, kReadOnlyDb);
  auto* jsonl = verify_->add_option("--jsonl", jsonl_,
                                    "A JSONL file written by `audit export`");
  db->excludes(jsonl);
  verify_->add_option("--pubkey", pubkey_,
                      "Public key (PEM) the checkpoints must be signed with");
  verify_->add_option(
      "--checkpoint", checkpoint_,
      "A checkpoint kept outside the gateway (GET /v1/audit/head output): "
      "detects a cut-off tail or an older copy of the database");
  verify_
      ->add_option("--archive", archives_,
                   "An archive written by `audit archive` (repeat, oldest "
                   "first; its signed head <file>.head.json is checked too): "
                   "the chain is verified from seq 1 through the archives "
                   "into the live database")
      ->needs(db);

  export_ = audit->add_subcommand(
      "export",
      "Stream records with seq, prev_hash and hash as JSONL or CSV (RFC "
      "4180) in constant memory");
  export_->add_option("--db", export_db_, kReadOnlyDb)->required();
  export_->add_option("--format", format_, "jsonl (default) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  export_->add_option("--from", from_,
                      "First record: a seq, or a UTC time (2026-11-26 or "
                      "2026-11-26T16:00:00Z)");
  export_->add_option("--to", to_, "Last record: a seq or a UTC time");
  export_->add_option("-o,--out", out_, "Output file (default: stdout)");

  tail_ = audit->add_subcommand(
      "tail",
      "Print the records after --after-seq as JSONL (the lines of `audit "
      "export`), and with --follow keep printing new ones as they commit "
      "(within a second), for Vector, Fluent Bit or rsyslog to ship. Reads "
      "without ever blocking the gateway's writes");
  tail_->add_option("--db", tail_db_, kReadOnlyDb)->required();
  tail_
      ->add_option("--after-seq", tail_after_,
                   "Start after this seq (default 0: from the first record); "
                   "a shipper passes the last seq it stored")
      ->check(CLI::NonNegativeNumber);
  tail_->add_flag("-f,--follow", tail_follow_,
                  "Keep running and print new records as they commit");

  archive_ = audit->add_subcommand(
      "archive",
      "Move the records older than --before out of the database into a JSONL "
      "file (the export's lines) with a head <out>.head.json, signed with "
      "--signing-key, then remove them in one transaction that appends an "
      "`archived` record naming the archive's last seq and hash. Refuses "
      "while a gateway runs on the database (its lock file)");
  archive_->add_option("--db", archive_db_, "Audit database")->required();
  archive_
      ->add_option("--before", before_,
                   "Records strictly older than this UTC date or time "
                   "(2026-11-26 or 2026-11-26T16:00:00Z) are archived")
      ->required();
  archive_
      ->add_option("--out", archive_out_,
                   "The archive to create (never overwritten)")
      ->required();
  archive_->add_option(
      "--signing-key", archive_key_,
      "Private key (PEM, the gateway's audit.signing_key_file) "
      "that signs the archive's head");
  archive_->add_option("--by", archive_by_,
                       "Who archives, recorded in the archived record "
                       "(default: $USER)");
}

bool AuditCommands::Parsed() const {
  return keygen_->parsed() || verify_->parsed() || export_->parsed() ||
         tail_->parsed() || archive_->parsed();
}

int AuditCommands::Run() const {
  if (keygen_->parsed()) {
    const std::string error =
        audit::GenerateKeyFiles(private_file_, public_file_);
    if (!error.empty()) {
      std::cerr << "error: " << error << "\n";
      return 2;
    }
    const std::string pub = audit::LoadPublicKeyHex(public_file_);
    std::cout << "wrote " << private_file_ << " (private, mode 0600) and "
              << public_file_ << " (public); key id " << audit::KeyId(pub)
              << "\nSet \"audit\": {\"signing_key_file\": \"" << private_file_
              << "\"} in the gateway config.\n";
    return 0;
  }
  if (verify_->parsed()) {
    if (db_.empty() == jsonl_.empty()) {
      std::cerr << "audit verify: give --db FILE or --jsonl FILE\n";
      return audit::kVerifyUnreadable;
    }
    const audit::VerifyReport report =
        audit::Verify({db_, jsonl_, pubkey_, checkpoint_, archives_});
    (report.exit_code == audit::kVerifyOk ? std::cout : std::cerr)
        << VerifyReportText(report);
    return report.exit_code;
  }
  if (archive_->parsed()) {
    std::string by = archive_by_;
    if (by.empty() && std::getenv("USER")) by = std::getenv("USER");
    const audit::ArchiveResult r =
        audit::Archive({archive_db_, before_, archive_out_, archive_key_, by});
    if (r.exit_code != 0) return ReportFailure("archive", r);
    std::cout << "archived " << r.records << " records through seq "
              << r.through_seq << " (hash " << r.through_hash << ") to "
              << archive_out_ << ", head " << r.head_file
              << "; the archived record is seq " << r.archived_record_seq
              << "\n";
    return 0;
  }
  if (tail_->parsed()) {
    std::ios::sync_with_stdio(false);
    audit::TailOptions options;
    options.db_path = tail_db_;
    options.after_seq = tail_after_;
    options.follow = tail_follow_;
    const audit::TailResult r = audit::Tail(options, std::cout);
    return r.exit_code != 0 ? ReportFailure("tail", r) : 0;
  }
  std::ofstream file;
  if (!out_.empty()) {
    file.open(out_, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "audit export: cannot write \"" << out_ << "\"\n";
      return 2;
    }
  }
  std::ios::sync_with_stdio(false);  // stdout at file speed
  std::ostream& out = out_.empty() ? std::cout : file;
  const audit::ExportResult r =
      audit::Export({export_db_, format_, from_, to_}, out);
  if (r.exit_code != 0) return ReportFailure("export", r);
  std::cerr << "exported " << r.records << " records\n";
  return 0;
}

}  // namespace agni
