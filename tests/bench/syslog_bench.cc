// Syslog shipping rate, run by hand (never a test): a real rsyslog on
// loopback (tests/syslog/rsyslog_server.h, TLS, octet-counted frames, raw
// messages into a file) and a SyslogSink shipping an existing audit log from
// its first record, as after enabling audit.syslog on a deployment with
// history. Prints records per second until the peer confirmed the last one.
//
// Usage: syslog_bench DB_PATH [RECORDS]   (e.g. a log made by
// tests/bench/audit_bench); with RECORDS, only the last RECORDS records are
// shipped (the state file says the peer took the ones before), so a very
// large log is measured without copying all of it into rsyslog's file.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

#include "audit/ship/record_source.h"
#include "audit/ship/syslog_sink.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"
#include "tests/syslog/rsyslog_server.h"

int main(int argc, char** argv) {
  using namespace agni;
  using Clock = std::chrono::steady_clock;
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: syslog_bench DB_PATH [RECORDS]\n");
    return 2;
  }
  const std::string db = argv[1];
  testing::Pki pki;
  testing::TempDir dir;
  testing::RsyslogServer peer({.cert_file = pki.File("server.pem"),
                               .key_file = pki.File("server.key"),
                               .ca_file = pki.File("ca.pem")});
  audit::SyslogOptions o;
  o.address = peer.address();
  o.tls = {
      .host = "127.0.0.1", .port = peer.port(), .ca_file = pki.File("ca.pem")};
  o.state_file = dir.File("shipped");
  const std::int64_t head = audit::ShipRecordSource(db).HeadSeq();
  // Shipping a backlog: no idle wait before the last session is confirmed.
  o.idle_timeout = std::chrono::milliseconds(0);
  std::int64_t skipped = 0;
  if (argc == 3) {
    skipped = std::max<std::int64_t>(0, head - std::stoll(argv[2]));
    audit::WriteShippedSeq(o.state_file, skipped);
  }

  audit::SyslogSink sink(o, {});
  const Clock::time_point start = Clock::now();
  sink.Start(db);
  while (sink.shipped_seq() < head &&
         Clock::now() - start < std::chrono::minutes(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double confirmed =
      std::chrono::duration<double>(Clock::now() - start).count();
  const std::int64_t shipped = sink.shipped_seq() - skipped;
  sink.Stop();
  // rsyslog writes what it read through its own queue: count the lines of
  // its file (streamed, every 200 ms) until all are there.
  std::size_t written = 0;
  for (int i = 0; i < 3000 && written < static_cast<std::size_t>(shipped);
       ++i) {
    std::ifstream in(peer.received_file(), std::ios::binary);
    written = static_cast<std::size_t>(
        std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
    if (written < static_cast<std::size_t>(shipped)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  const double in_file =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "records=%lld confirmed_s=%.2f rate_confirmed=%.0f/s "
      "in_rsyslog_file=%zu file_s=%.2f rate_file=%.0f/s\n",
      static_cast<long long>(shipped), confirmed, shipped / confirmed, written,
      in_file, written / in_file);
  return shipped == head - skipped &&
                 written == static_cast<std::size_t>(shipped)
             ? 0
             : 1;
}
