#include "gateway/notify/notifications.h"

namespace agni {

using nlohmann::json;

std::string ConsoleLink(const std::string& public_url, const json& event) {
  if (public_url.empty()) return "";
  std::string base = public_url;
  while (base.ends_with('/')) base.pop_back();
  for (const char* kind : {"approval", "review"}) {
    auto it = event.find(kind);
    if (it == event.end() || !it->is_object()) continue;
    const std::string id = it->value("id", "");
    if (!id.empty()) return base + "/ui/?" + kind + "=" + id;
  }
  return base + "/ui/";
}

Notifications::Notifications(const std::vector<NotifyChannelConfig>& channels,
                             std::string console_url, Metrics& metrics,
                             const Logger& log)
    : console_url_(std::move(console_url)) {
  for (const NotifyChannelConfig& c : channels) {
    channels_.push_back(std::make_unique<NotifyChannel>(c, metrics, log));
  }
}

void Notifications::UseInventory(std::shared_ptr<const Inventory> inventory) {
  std::lock_guard lock(mu_);
  inventory_ = std::move(inventory);
}

void Notifications::Publish(const json& event) {
  if (channels_.empty()) return;
  json full = event;
  std::string number;
  for (const char* kind : {"approval", "review"}) {
    if (auto it = event.find(kind); it != event.end() && it->is_object()) {
      number = it->value("phone_number", "");
    }
  }
  std::shared_ptr<const Inventory> inventory;
  {
    std::lock_guard lock(mu_);
    inventory = inventory_;
  }
  if (inventory) {
    if (auto it = inventory->find(number); it != inventory->end()) {
      full["labels"] = it->second;
    }
  }
  if (const std::string link = ConsoleLink(console_url_, event);
      !link.empty()) {
    full["link"] = link;
  }
  for (const auto& channel : channels_) channel->Enqueue(full);
}

}  // namespace agni
