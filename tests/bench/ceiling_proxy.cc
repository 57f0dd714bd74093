// The stack's ceiling for tests/bench/bench.sh: the least a cpp-httplib
// reverse proxy can do for the guarded call. Same library (Debian's
// cpp-httplib 0.11.4 .so), same listener settings and thread count as the
// gateway, keep-alive and TCP_NODELAY on both sides, but no authentication,
// no policy, no audit, no metrics, no logging.
//
//   ceiling_proxy LISTEN_PORT UPSTREAM_PORT [THREADS] [API_KEY]
//
// DELETE /api/v1/phone-numbers/{n}/release/ is forwarded to
// 127.0.0.1:UPSTREAM_PORT with the raw target and a fixed X-Api-Key through a
// per-thread keep-alive client; status, Content-Type and body come back.
// Anything else is a 404. Built by bench.sh (g++ -O2, pkg-config cpp-httplib),
// never by the project's CMake build.
#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "bench_server.h"

namespace {

constexpr std::string_view kPrefix = "/api/v1/phone-numbers/";
constexpr std::string_view kSuffix = "/release/";

bool IsRelease(const httplib::Request& req) {
  const std::string& p = req.path;
  return req.method == "DELETE" && p.size() > kPrefix.size() + kSuffix.size() &&
         p.compare(0, kPrefix.size(), kPrefix) == 0 &&
         p.compare(p.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

int upstream_port = 0;
std::string api_key;  // NOLINT: set once in main before the server starts

httplib::ClientImpl& ThreadClient() {
  // One keep-alive connection per worker thread (the pool's threads live as
  // long as the server).
  thread_local std::unique_ptr<httplib::ClientImpl> client;
  if (!client) {
    client = std::make_unique<httplib::ClientImpl>("127.0.0.1", upstream_port);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    client->set_url_encode(false);
    client->set_compress(false);
    client->set_decompress(false);
    client->set_connection_timeout(3, 0);
    client->set_read_timeout(30, 0);
    client->set_write_timeout(30, 0);
  }
  return *client;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s LISTEN_PORT UPSTREAM_PORT [THREADS] [API_KEY]\n",
                 argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  upstream_port = std::atoi(argv[2]);
  const int threads = argc > 3 ? std::atoi(argv[3]) : 64;
  api_key = argc > 4 ? argv[4] : "bench-key";
  if (port <= 0 || upstream_port <= 0 || threads <= 0) {
    std::fprintf(stderr, "invalid port or thread count\n");
    return 2;
  }

  httplib::Server server;
  const auto listen_fd = ConfigureBenchServer(server, threads, 5);
  server.set_pre_routing_handler(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!IsRelease(req)) {
          res.status = 404;
          res.set_content(R"({"success":false,"message":"Not found"})",
                          "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }
        httplib::ClientImpl& client = ThreadClient();
        const httplib::Headers headers = {{"X-Api-Key", api_key},
                                          {"Accept", "application/json"}};
        httplib::Result result = client.Delete(req.target, headers);
        if (!result) {
          res.status = 502;
          res.set_content(R"({"success":false,"message":"upstream error"})",
                          "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }
        res.status = result->status;
        res.set_content(std::move(result->body),
                        result->get_header_value("Content-Type"));
        return httplib::Server::HandlerResponse::Handled;
      });
  if (!BindWithBacklog(server, port, listen_fd, "ceiling_proxy")) return 1;
  std::printf("ceiling_proxy: 127.0.0.1:%d -> 127.0.0.1:%d, %d threads\n", port,
              upstream_port, threads);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
