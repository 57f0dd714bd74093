#include "gateway/approvals/approval_webhook.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "base/crypto.h"

namespace agni {

std::string WebhookSignature(const std::string& secret, long long timestamp,
                             const std::string& body) {
  const std::string signed_text = std::to_string(timestamp) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()),
       signed_text.size(), mac, &mac_len);
  return HexEncode(
      std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

WebhookNotifier::WebhookNotifier(WebhookConfig config, Metrics& metrics,
                                 const Logger& log)
    : config_(std::move(config)), metrics_(metrics), log_(log) {
  worker_ = std::thread([this] { Run(); });
}

WebhookNotifier::~WebhookNotifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void WebhookNotifier::Enqueue(std::string body) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= config_.max_queue) {
      queue_.pop_front();
      metrics_.CountApprovalNotification("dropped");
    }
    queue_.push_back(std::move(body));
  }
  cv_.notify_one();
}

void WebhookNotifier::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const std::string body = std::move(queue_.front());
    queue_.pop_front();
    auto backoff = config_.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      lock.unlock();
      const bool ok = Deliver(body);
      lock.lock();
      if (ok) {
        metrics_.CountApprovalNotification("delivered");
        break;
      }
      if (attempt >= config_.max_attempts) {
        metrics_.CountApprovalNotification("failed");
        log_.Warn("approval notification not delivered; giving up",
                  {{"attempts", attempt}});
        break;
      }
      metrics_.CountApprovalNotification("retried");
      if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      backoff = std::min(backoff * 2, config_.max_backoff);
    }
  }
}

bool WebhookNotifier::Deliver(const std::string& body) {
  // scheme://host[:port] and the path, split for httplib.
  const std::size_t scheme_end = config_.url.find("://") + 3;
  const std::size_t path_start = config_.url.find('/', scheme_end);
  const std::string origin = config_.url.substr(0, path_start);
  const std::string path =
      path_start == std::string::npos ? "/" : config_.url.substr(path_start);
  httplib::Client client(origin);
  if (!client.is_valid()) return false;
  const auto timeout =
      std::chrono::duration_cast<std::chrono::microseconds>(config_.timeout)
          .count();
  client.set_connection_timeout(timeout / 1'000'000, timeout % 1'000'000);
  client.set_read_timeout(timeout / 1'000'000, timeout % 1'000'000);
  client.set_write_timeout(timeout / 1'000'000, timeout % 1'000'000);
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  httplib::Headers headers = {
      {"X-Agni-Signature", "t=" + std::to_string(now) + ",v1=" +
                               WebhookSignature(config_.secret, now, body)},
      {"User-Agent", "agni-gateway/" AGNI_VERSION}};
  auto res = client.Post(path, headers, body, "application/json");
  return res && res->status >= 200 && res->status < 300;
}

}  // namespace agni
