// The "audit.syslog" block of gateway.json: the syslog sink
// (audit/ship/syslog_sink.h). Always TLS; there is no plain-TCP mode, since
// it carries the audit log.
//
//   "audit": {"syslog": {
//     "address": "siem.example.com:6514",    // host:port, [v6]:port
//     "ca_file": "siem-ca.pem",              // CAs the peer must chain to
//     "server_name": "siem.example.com",     // default: the address's host
//     "client_cert_file": "gw.pem", "client_key_file": "gw.key",  // optional
//     "app_name": "agni-gateway", "queue": 4096,
//     "state_file": "audit.db.syslog"        // default: <audit.path>.syslog
//   }}
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "audit/ship/syslog_options.h"
#include "policies/errors.h"

namespace agni {

// Reads the block at `path` into `out`; relative files resolve against
// `base_dir`. The TLS files are loaded once here, so a wrong one is reported
// with its path by check-config and at start.
void ReadSyslogConfig(const nlohmann::json& value, const std::string& path,
                      const std::filesystem::path& base_dir,
                      const std::string& audit_path,
                      std::optional<audit::SyslogOptions>& out,
                      ConfigErrors& errors);

}  // namespace agni
