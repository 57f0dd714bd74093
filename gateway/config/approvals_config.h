// The "approvals" block of gateway.json: where approval requests are stored
// and where their notifications go.
//
//   "approvals": {
//     "path": "approvals.db",                 // default: next to audit.path
//     "max_open_per_user": 20,                // open requests per requester
//     "webhook": {
//       "url": "https://hooks.example.com/agni",
//       "secret_env": "AGNI_WEBHOOK_SECRET",  // or "secret_file": "hook.key"
//       "timeout": "2s", "max_queue": 1000, "max_attempts": 5,
//       "initial_backoff": "500ms"
//     },
//     "notify": [                             // every event to every channel
//       {"type": "slack", "url_file": "slack-hook.url"},
//       {"type": "teams", "name": "teams-ops", "url_file": "teams.url"},
//       {"type": "webhook", "url": "https://hooks.example.com/agni",
//        "secret_file": "hook.key"}
//     ],
//     "reviews_path": "reviews.db"            // default: next to audit.path
//   }
//
// `webhook` is the older spelling of one notify[] channel of type webhook
// named "webhook"; both may be used, with distinct names.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/errors.h"

namespace agni {

struct WebhookConfig {
  std::string url;     // empty: notifications off
  std::string secret;  // HMAC-SHA256 key; never logged
  std::chrono::milliseconds timeout{2000};
  std::size_t max_queue = 1000;
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

// One approvals.notify[] entry: where a channel posts and how it retries.
// `delivery.secret` is the webhook type's HMAC key (empty for slack and
// teams); `delivery.url` may have come from a file and is a secret too.
struct NotifyChannelConfig {
  enum class Type { kWebhook, kSlack, kTeams };
  Type type = Type::kWebhook;
  std::string name;  // the metric's channel label; unique, default the type
  WebhookConfig delivery;
};

struct ApprovalsConfig {
  std::string path;  // SQLite file of approval requests
  WebhookConfig webhook;
  // A requester's pending and approved requests at most; one more is a 429
  // too_many_open_approvals and nothing is created.
  std::size_t max_open_per_user = 20;
  // Every channel, `webhook` included (as the channel named "webhook").
  std::vector<NotifyChannelConfig> notify;
  std::string reviews_path;  // SQLite file of break-glass reviews
};

// Reads the block at `path` (null `value`: absent) and fills in the default
// database path from the audit database's folder. `get_env` reads an
// environment variable (injected for tests).
void ReadApprovalsConfig(const nlohmann::json* value, const std::string& path,
                         const std::filesystem::path& base_dir,
                         const std::string& audit_path, ApprovalsConfig& out,
                         ConfigErrors& errors);

}  // namespace agni
