// One notification channel (an approvals.notify[] entry): its own bounded
// queue and worker thread, so a slow or dead receiver delays nothing but its
// own deliveries.
//
// The worker formats each event for the channel's type (gateway/notify/
// payloads.h) and POSTs it. A `webhook` channel signs the body:
//   X-Agni-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//   "<t>.<body>")>
// so a receiver can check authenticity and reject replays (an old t). A
// failed delivery is retried with exponential backoff up to max_attempts.
// When the queue is full the oldest event is dropped and counted. The URL is
// a secret (chat webhooks carry their credential in it) and is never logged.
//
// Thread-safe: Enqueue() may be called from any thread; one worker delivers.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/config/approvals_config.h"
#include "gateway/ops/log.h"
#include "gateway/ops/metrics.h"

namespace agni {

// hex(HMAC-SHA256(secret, "<timestamp>.<body>")); exposed for receivers' tests.
std::string WebhookSignature(const std::string& secret, long long timestamp,
                             const std::string& body);

// The body a channel of `type` posts for `event`.
std::string ChannelBody(NotifyChannelConfig::Type type,
                        const nlohmann::json& event);

class NotifyChannel {
 public:
  NotifyChannel(NotifyChannelConfig config, Metrics& metrics,
                const Logger& log);
  ~NotifyChannel();  // stops after the delivery in progress, drops the rest

  NotifyChannel(const NotifyChannel&) = delete;
  NotifyChannel& operator=(const NotifyChannel&) = delete;

  // Never blocks on the network.
  void Enqueue(nlohmann::json event);

 private:
  void Run();
  bool Deliver(const std::string& body);
  void Count(std::string_view result);

  const NotifyChannelConfig config_;
  Metrics& metrics_;
  const Logger& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace agni
