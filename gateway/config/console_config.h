// The "console" block of gateway.json: the web console at /ui/ and its
// cookie sessions (DESIGN.md §11).
//
//   "console": {
//     "enabled": true,                 // default true
//     "session_idle": "15m",           // default 15m
//     "session_max": "8h",             // default 8h, from sign-in
//     "public_url": "https://agni.example.com",  // the origin behind a proxy
//     "sessions_path": "sessions.db"   // default: next to audit.path
//   }
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "policies/errors.h"

namespace agni {

// Plain values, read once; immutable after loading.
struct ConsoleConfig {
  bool enabled = true;
  std::chrono::milliseconds session_idle{15 * 60 * 1000};
  std::chrono::milliseconds session_max{8 * 60 * 60 * 1000};
  // scheme://host[:port] a browser sees when a proxy terminates TLS; the
  // Origin a state-changing request may carry besides the request's own.
  std::string public_url;
  std::string sessions_path;  // SQLite file of the sessions
};

// Reads the block at `path` (null `value`: absent, every default) and fills
// in the default sessions path from the audit database's folder.
void ReadConsoleConfig(const nlohmann::json* value, const std::string& path,
                       const std::filesystem::path& base_dir,
                       const std::string& audit_path, ConsoleConfig& out,
                       ConfigErrors& errors);

}  // namespace agni
