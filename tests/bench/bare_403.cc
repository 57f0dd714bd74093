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
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  // Like the gateway (gateway/server.cc): SO_REUSEADDR only, and the
  // listening socket kept so that its backlog can be raised below (cpp-httplib
  // 0.11 listens with a backlog of 5: a burst of connects sees SYN drops).
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = sock;
  });
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(5);
  server.set_pre_routing_handler(
      [](const httplib::Request&, httplib::Response& res) {
        res.status = 403;
        res.set_content(
            R"({"type":"urn:agni-gateway:problem:policy_denied","title":"Forbidden","status":403,"reason":"policy_denied","success":false})",
            "application/problem+json");
        return httplib::Server::HandlerResponse::Handled;
      });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "bare_403: cannot bind 127.0.0.1:%d\n", port);
    return 1;
  }
  if (listen_fd < 0 || ::listen(listen_fd, 1024) != 0) {
    std::perror("listen backlog");
    return 1;
  }
  std::printf("bare_403: 127.0.0.1:%d, %d threads\n", port, threads);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
