// Every approvals.notify[] channel behind one Notifier: an event is
// completed with the number's inventory labels and the console link, then
// handed to each channel's own queue (gateway/notify/channel.h).
//
// Thread-safe: Publish() and UseInventory() may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/notify/channel.h"
#include "gateway/notify/notifier.h"

namespace agni {

// The console page of an approval or review: <public_url>/ui/?approval=<id>
// (or ?review=<id>); empty without a public_url.
std::string ConsoleLink(const std::string& public_url,
                        const nlohmann::json& event);

class Notifications final : public Notifier {
 public:
  // `console_url`: console.public_url (may be empty: no links).
  Notifications(const std::vector<NotifyChannelConfig>& channels,
                std::string console_url, Metrics& metrics, const Logger& log);

  void Publish(const nlohmann::json& event) override;
  // The inventory the labels come from (start and every reload).
  void UseInventory(std::shared_ptr<const Inventory> inventory);

 private:
  const std::string console_url_;
  std::mutex mu_;
  std::shared_ptr<const Inventory> inventory_;
  std::vector<std::unique_ptr<NotifyChannel>> channels_;
};

}  // namespace agni
