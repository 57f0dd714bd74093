// The `audit` subcommands of the agni-gateway binary: keygen, verify, export,
// tail, archive.
// They open the database read-only, so they run while a gateway writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/read/verify.h"

namespace CLI {
class App;
}

namespace agni {

// The report `audit verify` prints: OK, TAMPERED with the first problems, or
// UNREADABLE, then the notes.
std::string VerifyReportText(const audit::VerifyReport& report);

// The parsed options of the `audit` subcommands. Used by main's thread only.
class AuditCommands {
 public:
  // Registers `audit keygen|verify|export` on `app`.
  explicit AuditCommands(CLI::App& app);

  bool Parsed() const;
  // Runs the parsed subcommand; returns the process exit code.
  int Run() const;

 private:
  CLI::App* keygen_ = nullptr;
  CLI::App* verify_ = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* tail_ = nullptr;
  CLI::App* archive_ = nullptr;
  std::string private_file_, public_file_;
  std::string db_, jsonl_, pubkey_, checkpoint_;
  std::string export_db_, format_ = "jsonl", from_, to_, out_;
  std::string tail_db_;
  std::int64_t tail_after_ = 0;
  bool tail_follow_ = false;
  std::vector<std::string> archives_;
  std::string archive_db_, before_, archive_out_, archive_key_, archive_by_;
};

}  // namespace agni
