// Delivers approval events to an operator's webhook, off the request path.
//
// Each event is POSTed as JSON with
//   X-Agni-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//   "<t>.<body>")>
// so a receiver can check authenticity and reject replays (an old t). Failed
// deliveries are retried with exponential backoff up to max_attempts. The
// queue is bounded: when full, the oldest event is dropped and counted, so a
// dead receiver costs a bounded amount of memory and never blocks a decision.
//
// Thread-safe: Enqueue() may be called from any thread; one worker delivers.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/config/approvals_config.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"

namespace agni {

// hex(HMAC-SHA256(secret, "<timestamp>.<body>")); exposed for receivers' tests.
std::string WebhookSignature(const std::string& secret, long long timestamp,
                             const std::string& body);

class WebhookNotifier {
 public:
  WebhookNotifier(WebhookConfig config, Metrics& metrics, const Logger& log);
  ~WebhookNotifier();  // stops after the delivery in progress, drops the rest

  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Never blocks on the network.
  void Enqueue(std::string body);

 private:
  void Run();
  bool Deliver(const std::string& body);

  const WebhookConfig config_;
  Metrics& metrics_;
  const Logger& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace agni
