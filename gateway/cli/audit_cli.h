// The `audit` subcommands of the agni-gateway binary: keygen, verify, export.
// They open the database read-only, so they run while a gateway writes.
#pragma once

#include <string>

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
  std::string private_file_, public_file_;
  std::string db_, jsonl_, pubkey_, checkpoint_;
  std::string export_db_, format_ = "jsonl", from_, to_, out_;
};

}  // namespace agni
