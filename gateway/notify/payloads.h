// The bodies each channel type posts for one event (gateway/notify/
// notifier.h): the webhook's JSON as is, a Slack incoming-webhook message
// (`text` fallback + Block Kit `blocks`), a Microsoft Teams incoming-webhook
// message carrying an Adaptive Card. Pure functions over the event.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agni {

// What a person reading a chat message needs, taken from an event.
struct EventSummary {
  std::string title;   // "Release approval requested by alice"
  std::string who;     // the requester or the person who released
  std::string number;  // E.164
  std::string labels;  // "env=prod, team=sales"; empty when none
  std::string rule;
  std::string reason;  // the release's justification
  std::string votes;   // "1 of 2: olga"; for a review, who must review
  std::string link;    // the console's page; empty when not configured
  std::string id;      // the approval's or review's id
};
EventSummary Summarize(const nlohmann::json& event);

nlohmann::json SlackMessage(const nlohmann::json& event);
nlohmann::json TeamsMessage(const nlohmann::json& event);

// Text for an Adaptive Card TextBlock or Fact, which Teams renders as
// markdown: every character markdown could read as markup (`*`, `_`, `[`,
// `]`, `(`, `)`, `<`, `>`, `` ` ``, `~`, `#`, `|`, `!`, `&`, `\`, and a
// list marker at the start) is backslash-escaped (CommonMark §2.4), and line
// breaks become spaces, so names, labels and reasons show literally.
std::string TeamsEscape(const std::string& text);

// Slack's mrkdwn escaping: &, < and > (so a reason cannot ping a channel or
// forge a link).
std::string SlackEscape(const std::string& text);

}  // namespace agni
