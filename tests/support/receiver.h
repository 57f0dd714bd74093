// A local notification receiver for the notification tests (webhook,
// Slack, Teams): an in-process httplib server on loopback that records every
// POST (path, signature, content type, body) and answers 200. While held,
// every delivery waits inside the handler until released, the way a hanging
// chat service would. Thread-safe.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "gateway/notify/channel.h"

namespace agni::testing {

struct Delivery {
  std::string path;
  std::string signature;  // X-Agni-Signature, when sent
  std::string content_type;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// Whether `d` carries an X-Agni-Signature (t=<unix s>,v1=<hex HMAC>) made
// with `secret` over its body within the last five minutes.
inline bool SignedWith(const Delivery& d, const std::string& secret) {
  const std::size_t comma = d.signature.find(",v1=");
  if (!d.signature.starts_with("t=") || comma == std::string::npos) {
    return false;
  }
  const long long t = std::atoll(d.signature.substr(2, comma - 2).c_str());
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return std::llabs(now - t) < 300 &&
         ConstantTimeEquals(d.signature.substr(comma + 4),
                            WebhookSignature(secret, t, d.body));
}

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
