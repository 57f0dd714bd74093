// A local notification receiver for the notify tests: an in-process httplib
// server that records every POST (path, headers, body). While held, every
// delivery waits inside the handler until released, the way a hanging chat
// service would.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace agni::testing {

struct Delivery {
  std::string path;
  std::string signature;  // X-Agni-Signature, when sent
  std::string content_type;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

class Receiver {
 public:
  Receiver() {
    server_.Post(".*", [this](const httplib::Request& req,
                              httplib::Response& res) {
      std::unique_lock lock(mu_);
      ++arrived_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !holding_; });
      deliveries_.push_back({req.path, req.get_header_value("X-Agni-Signature"),
                             req.get_header_value("Content-Type"), req.body});
      cv_.notify_all();
      res.status = 200;
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~Receiver() {
    Hold(false);
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void Hold(bool on) {
    {
      std::lock_guard lock(mu_);
      holding_ = on;
    }
    cv_.notify_all();
  }
  // Waits (bounded) until `n` deliveries were recorded; returns them all.
  std::vector<Delivery> WaitFor(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20),
                 [&] { return deliveries_.size() >= n; });
    return deliveries_;
  }
  // Waits (bounded) until `n` requests reached the handler, held or not.
  int WaitArrived(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return arrived_ >= n; });
    return arrived_;
  }
  std::size_t recorded() {
    std::lock_guard lock(mu_);
    return deliveries_.size();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  int arrived_ = 0;
  std::vector<Delivery> deliveries_;
};

}  // namespace agni::testing
