// The syslog sink's settings (gateway/config/syslog_config.h reads them from
// audit.syslog). Plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace agni::audit {

// Where the sink connects and how it proves who it talks to.
struct SyslogTlsOptions {
  std::string host;
  int port = 6514;
  std::string server_name;       // checked in the peer's certificate; "": host
  std::string ca_file;           // the CAs the peer's certificate must chain to
  std::string client_cert_file;  // both or neither: client certificate
  std::string client_key_file;
};

// audit.syslog as the sink uses it (gateway/config/syslog_config.h reads it).
struct SyslogOptions {
  std::string address;  // "host:port", as configured (for logs)
  SyslogTlsOptions tls;
  std::string app_name = "agni-gateway";
  std::size_t queue = 4096;  // records held in memory for the sink
  // The seq of the last record the peer took; default "<audit.path>.syslog".
  std::string state_file;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::size_t batch_records = 512;  // per write
  std::size_t max_session_records = 20000;
  // A session that has caught up stays open this long for more records, so
  // a trickle of releases shares one connection (0: close at once).
  std::chrono::milliseconds idle_timeout{5000};
  // A session ends (and its records count as taken) at least this often,
  // however busy: it bounds how far shipped_seq trails and how much one
  // peer crash can send twice.
  std::chrono::milliseconds confirm_interval{10000};
  // At Stop(): how long the sink may still ship what is waiting.
  std::chrono::milliseconds stop_flush{2000};
};

}  // namespace agni::audit
