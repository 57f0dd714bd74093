#include "gateway/notify/channel.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "base/crypto.h"
#include "gateway/notify/payloads.h"

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

std::string ChannelBody(NotifyChannelConfig::Type type,
                        const nlohmann::json& event) {
  using nlohmann::json;
  const auto dump = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  switch (type) {
    case NotifyChannelConfig::Type::kSlack: return dump(SlackMessage(event));
    case NotifyChannelConfig::Type::kTeams: return dump(TeamsMessage(event));
    case NotifyChannelConfig::Type::kWebhook: break;
  }
  return dump(event);
}

NotifyChannel::NotifyChannel(NotifyChannelConfig config, Metrics& metrics,
                             const Logger& log)
    : config_(std::move(config)), metrics_(metrics), log_(log) {
  metrics_.DeclareNotificationChannel(config_.name);
  worker_ = std::thread([this] { Run(); });
}

NotifyChannel::~NotifyChannel() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void NotifyChannel::Count(std::string_view result) {
  metrics_.CountNotification(config_.name, result);
  // The older all-channels series, kept for existing dashboards.
  metrics_.CountApprovalNotification(result);
}

void NotifyChannel::Enqueue(nlohmann::json event) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= config_.delivery.max_queue) {
      queue_.pop_front();
      Count("dropped");
    }
    queue_.push_back(std::move(event));
  }
  cv_.notify_one();
}

void NotifyChannel::Run() {
  const WebhookConfig& d = config_.delivery;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const nlohmann::json event = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const std::string body = ChannelBody(config_.type, event);
    lock.lock();
    auto backoff = d.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      lock.unlock();
      const bool ok = Deliver(body);
      lock.lock();
      if (ok) {
        Count("delivered");
        break;
      }
      if (attempt >= d.max_attempts) {
        Count("failed");
        log_.Warn("notification not delivered; giving up",
                  {{"channel", config_.name}, {"attempts", attempt}});
        break;
      }
      Count("retried");
      if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      backoff = std::min(backoff * 2, d.max_backoff);
    }
  }
}

bool NotifyChannel::Deliver(const std::string& body) {
  const std::string& url = config_.delivery.url;
  // scheme://host[:port] and the path, split for httplib.
  const std::size_t scheme_end = url.find("://") + 3;
  const std::size_t path_start = url.find('/', scheme_end);
  const std::string origin = url.substr(0, path_start);
  const std::string path =
      path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  if (!client.is_valid()) return false;
  client.enable_server_certificate_verification(true);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
                           config_.delivery.timeout)
                           .count();
  client.set_connection_timeout(timeout / 1'000'000, timeout % 1'000'000);
  client.set_read_timeout(timeout / 1'000'000, timeout % 1'000'000);
  client.set_write_timeout(timeout / 1'000'000, timeout % 1'000'000);
  httplib::Headers headers = {{"User-Agent", "agni-gateway/" AGNI_VERSION}};
  if (config_.type == NotifyChannelConfig::Type::kWebhook) {
    const long long now =
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    headers.emplace("X-Agni-Signature",
                    "t=" + std::to_string(now) + ",v1=" +
                        WebhookSignature(config_.delivery.secret, now, body));
  }
  auto res = client.Post(path, headers, body, "application/json");
  return res && res->status >= 200 && res->status < 300;
}

}  // namespace agni
