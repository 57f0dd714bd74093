// A slow stand-in for the vendor, for tests/bench/isolation.sh: answers
// DELETE /api/v1/phone-numbers/{n}/release/ with the Agni success JSON after a
// fixed delay, with enough worker threads (cpp-httplib holds one per
// connection) for hundreds of releases held open at once.
//
//   slow_upstream LISTEN_PORT [DELAY_MS=5000] [THREADS=640]
//
// Every request's arrival is counted; GET /count answers
// "received=N in_flight=M max_in_flight=K". Built by isolation.sh (g++ -O2,
// pkg-config cpp-httplib), never by the project's CMake build.
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench_server.h"

namespace {
std::atomic<long> received{0};
std::atomic<long> in_flight{0};
std::atomic<long> max_in_flight{0};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT [DELAY_MS] [THREADS]\n",
                 argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int delay_ms = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 640;
  if (port <= 0 || delay_ms < 0 || threads <= 0) {
    std::fprintf(stderr, "invalid port, delay or thread count\n");
    return 2;
  }
  httplib::Server server;
  const auto listen_fd = ConfigureBenchServer(server, threads, 30);
  server.set_read_timeout(60, 0);
  server.set_write_timeout(60, 0);
  server.Get("/count", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "received=" + std::to_string(received.load()) +
            " in_flight=" + std::to_string(in_flight.load()) +
            " max_in_flight=" + std::to_string(max_in_flight.load()) + "\n",
        "text/plain");
  });
  server.Delete(R"(/api/v1/phone-numbers/([^/]+)/release/)", [delay_ms](
                                                                 const httplib::
                                                                     Request&
                                                                         req,
                                                                 httplib::
                                                                     Response&
                                                                         res) {
    received.fetch_add(1);
    const long now = in_flight.fetch_add(1) + 1;
    long seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    in_flight.fetch_sub(1);
    res.set_content(
        R"({"success":true,"message":"Phone number released","data":{"phone_number":")" +
            req.matches[1].str() +
            R"(","status":"released","released_at":"2026-01-01T00:00:00Z"}})",
        "application/json");
  });
  if (!BindWithBacklog(server, port, listen_fd, "slow_upstream")) return 1;
  std::printf("slow_upstream: 127.0.0.1:%d, delay %d ms, %d threads\n", port,
              delay_ms, threads);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
