// Graceful shutdown of the main listener (see GatewayServer::DrainMain).
#include <httplib.h>

#include <condition_variable>
#include <memory>
#include <mutex>

#include "gateway/http/server.h"

namespace agni {

bool GatewayServer::DrainMain(std::chrono::milliseconds timeout) {
  // Closes the listening socket: new connections are refused, idle
  // keep-alive connections close now and busy ones after the request they
  // are serving. The listener thread returns once the pool has finished
  // every queued connection.
  main_->stop();
  main_wake_->Fire();
  if (!main_thread_.joinable()) return true;
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto state = std::make_shared<State>();
  drain_thread_ = std::thread([this, state] {
    main_thread_.join();
    std::lock_guard lock(state->mu);
    state->done = true;
    state->cv.notify_all();
  });
  std::unique_lock lock(state->mu);
  return state->cv.wait_for(lock, timeout, [&] { return state->done; });
}

}  // namespace agni
