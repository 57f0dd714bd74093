// The deny path's ceiling for tests/bench/bench.sh: a bare cpp-httplib server
// (Debian's 0.11.4 .so) with the gateway's listener settings and thread
// count that answers every request with 403 and a small problem+json body.
// No authentication, no policy, no audit.
//
//   bare_403 LISTEN_PORT [THREADS]
//
// Built by bench.sh (g++ -O2, pkg-config cpp-httplib), never by the project's
// CMake build.
#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

#include "bench_server.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT [THREADS]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int threads = argc > 2 ? std::atoi(argv[2]) : 64;
  if (port <= 0 || threads <= 0) {
    std::fprintf(stderr, "invalid port or thread count\n");
    return 2;
  }
  httplib::Server server;
  const auto listen_fd = ConfigureBenchServer(server, threads, 5);
  server.set_pre_routing_handler([](const httplib::Request&,
                                    httplib::Response& res) {
    res.status = 403;
    res.set_content(
        R"({"type":"urn:agni-gateway:problem:policy_denied","title":"Forbidden","status":403,"reason":"policy_denied","success":false})",
        "application/problem+json");
    return httplib::Server::HandlerResponse::Handled;
  });
  if (!BindWithBacklog(server, port, listen_fd, "bare_403")) return 1;
  std::printf("bare_403: 127.0.0.1:%d, %d threads\n", port, threads);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
