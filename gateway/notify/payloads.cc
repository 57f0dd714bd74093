#include "gateway/notify/payloads.h"

namespace agni {
namespace {

using nlohmann::json;

std::string Text(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Join(const json& list, const char* key = nullptr) {
  std::string out;
  if (!list.is_array()) return out;
  for (const json& item : list) {
    const std::string s = key                ? Text(item, key)
                          : item.is_string() ? item.get<std::string>()
                                             : "";
    if (s.empty()) continue;
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// "1 of 2: olga" over every requirement of the approval.
std::string VotesOf(const json& approval) {
  long required = 0;
  if (auto r = approval.find("required");
      r != approval.end() && r->is_array()) {
    for (const json& req : *r) {
      if (req.contains("approvals") && req["approvals"].is_number_integer()) {
        required += req["approvals"].get<long>();
      }
    }
  }
  const json votes = approval.value("approvals", json::array());
  std::string out = std::to_string(votes.is_array() ? votes.size() : 0) +
                    " of " + std::to_string(required) + " approvals";
  if (const std::string names = Join(votes, "user"); !names.empty()) {
    out += ": " + names;
  }
  const json denials = approval.value("denials", json::array());
  if (const std::string names = Join(denials, "user"); !names.empty()) {
    out += "; denied by " + names;
  }
  return out;
}

std::string ApprovalTitle(const std::string& event, const std::string& actor,
                          const json& approval) {
  const std::string by = actor.empty() ? "" : " by " + actor;
  if (event == "created") {
    return "Release approval requested by " + Text(approval, "requester");
  }
  if (event == "executed") return "Approved release executed" + by;
  if (event == "expired") return "Release approval expired";
  return "Release approval " + event + by;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The index of the punctuation that would make `text` a list item or a rule
// ("- x", "+", "---", "1. x", "2)"), or npos. A leading "+" or "-" before a
// digit ("+14155550100") starts neither.
std::size_t ListMarker(const std::string& text) {
  if (text.empty()) return std::string::npos;
  if (text[0] == '-' || text[0] == '+') {
    return text.size() > 1 && IsDigit(text[1]) ? std::string::npos : 0;
  }
  std::size_t at = 0;
  while (at < text.size() && IsDigit(text[at])) ++at;
  if (at == 0 || at >= text.size() || (text[at] != '.' && text[at] != ')')) {
    return std::string::npos;
  }
  const bool blank_after =
      at + 1 == text.size() || text[at + 1] == ' ' || text[at + 1] == '\t';
  return blank_after ? at : std::string::npos;
}

}  // namespace

EventSummary Summarize(const json& event) {
  EventSummary s;
  const std::string type = Text(event, "type");
  const std::string actor = Text(event, "actor");
  s.link = Text(event, "link");
  if (auto labels = event.find("labels");
      labels != event.end() && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (!s.labels.empty()) s.labels += ", ";
      s.labels += key + "=" +
                  (value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  if (const json* a = event.contains("approval") ? &event["approval"] : nullptr;
      a != nullptr && a->is_object()) {
    const std::string name =
        type.starts_with("approval.") ? type.substr(9) : type;
    s.title = ApprovalTitle(name, actor, *a);
    s.who = Text(*a, "requester");
    s.number = Text(*a, "phone_number");
    s.rule = Text(*a, "rule_id");
    s.reason = Text(*a, "release_reason");
    s.votes = VotesOf(*a);
    s.id = Text(*a, "id");
    return s;
  }
  const json review = event.value("review", json::object());
  s.who = Text(review, "actor");
  s.number = Text(review, "phone_number");
  s.rule = Text(review, "rule_id");
  s.reason = Text(review, "reason");
  s.id = Text(review, "id");
  const std::string groups = Join(review.value("from_groups", json::array()));
  if (type == "break_glass") {
    s.title = "BREAK-GLASS release by " + s.who;
    s.votes = "review by " + groups + " due " + Text(review, "due_at");
  } else if (type == "review.overdue") {
    s.title = "Break-glass release by " + s.who + " is overdue for review";
    s.votes = "review by " + groups + " was due " + Text(review, "due_at");
  } else {
    s.title = "Break-glass release by " + s.who + " reviewed by " + actor;
    s.votes = "acknowledged by " + actor + ": " + Text(event, "reason");
  }
  return s;
}

std::string SlackEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string TeamsEscape(const std::string& text) {
  const std::size_t marker = ListMarker(text);
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '_':
      case '~':
      case '[':
      case ']':
      case '(':
      case ')':
      case '<':
      case '>':
      case '#':
      case '|':
      case '!':
      case '&':
      case '{':
      case '}':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '\n':
      case '\r':
      case '\t':
      case '\f':
      case '\v': out.push_back(' '); break;
      default:
        if (i == marker) out.push_back('\\');
        out.push_back(c);
    }
  }
  return out;
}

json SlackMessage(const json& event) {
  const EventSummary s = Summarize(event);
  auto field = [](const std::string& name, const std::string& value) {
    return json{{"type", "mrkdwn"},
                {"text", "*" + name + "*\n" +
                             (value.empty() ? "-" : SlackEscape(value))}};
  };
  const std::string number =
      s.labels.empty() ? s.number : s.number + " (" + s.labels + ")";
  json blocks = json::array();
  blocks.push_back(
      {{"type", "section"},
       {"text",
        {{"type", "plain_text"}, {"text", s.title}, {"emoji", false}}}});
  blocks.push_back(
      {{"type", "section"},
       {"fields",
        {field("Who", s.who), field("Number", number), field("Rule", s.rule),
         field("Reason", s.reason), field("Votes", s.votes)}}});
  std::string context = std::string("`") + SlackEscape(s.id) + "`";
  // Slack's link syntax; the URL comes from the config, not from a request.
  if (!s.link.empty()) {
    context = std::string("<") + SlackEscape(s.link) +
              "|Open in the console> · " + context;
  }
  blocks.push_back({{"type", "context"},
                    {"elements", {{{"type", "mrkdwn"}, {"text", context}}}}});
  std::string text = s.title + ": " + number;
  if (!s.rule.empty()) text += ", rule " + s.rule;
  if (!s.reason.empty()) text += ", reason: " + s.reason;
  return {{"text", SlackEscape(text)}, {"blocks", std::move(blocks)}};
}

json TeamsMessage(const json& event) {
  const EventSummary s = Summarize(event);
  json facts = json::array();
  auto fact = [&](const char* title, const std::string& value) {
    facts.push_back({{"title", title},
                     {"value", value.empty() ? "-" : TeamsEscape(value)}});
  };
  fact("Who", s.who);
  fact("Number", s.number);
  fact("Labels", s.labels);
  fact("Rule", s.rule);
  fact("Reason", s.reason);
  fact("Votes", s.votes);
  fact("Id", s.id);
  json card = {
      {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
      {"type", "AdaptiveCard"},
      {"version", "1.4"},
      {"body",
       {{{"type", "TextBlock"},
         {"text", TeamsEscape(s.title)},
         {"weight", "Bolder"},
         {"size", "Medium"},
         {"wrap", true}},
        {{"type", "FactSet"}, {"facts", std::move(facts)}}}}};
  if (!s.link.empty()) {
    card["actions"] = {{{"type", "Action.OpenUrl"},
                        {"title", "Open in the console"},
                        {"url", s.link}}};
  }
  return {{"type", "message"},
          {"attachments",
           {{{"contentType", "application/vnd.microsoft.card.adaptive"},
             {"contentUrl", nullptr},
             {"content", std::move(card)}}}}};
}

}  // namespace agni
