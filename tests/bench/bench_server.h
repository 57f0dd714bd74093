// The listener settings the benchmark's helper servers share with the gateway
// (gateway/server.cc), so that they measure the same stack: a fixed thread
// pool, TCP_NODELAY, a high keep-alive cap, SO_REUSEADDR only, and a listen
// backlog raised from cpp-httplib 0.11's 5 (a burst of connects would see SYN
// drops and 1 s retransmits).
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <memory>

// Applies the settings; bind with BindWithBacklog() afterwards.
inline std::shared_ptr<int> ConfigureBenchServer(httplib::Server& server,
                                                 int threads,
                                                 time_t keep_alive_s) {
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  auto listen_fd = std::make_shared<int>(-1);
  server.set_socket_options([listen_fd](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    *listen_fd = sock;
  });
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(keep_alive_s);
  return listen_fd;
}

// Binds 127.0.0.1:port and raises the backlog; false (after saying why) on
// failure.
inline bool BindWithBacklog(httplib::Server& server, int port,
                            const std::shared_ptr<int>& listen_fd,
                            const char* name) {
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "%s: cannot bind 127.0.0.1:%d\n", name, port);
    return false;
  }
  if (*listen_fd < 0 || ::listen(*listen_fd, 1024) != 0) {
    std::perror("listen backlog");
    return false;
  }
  return true;
}
