#include "gateway/upstream/response_scrub.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/secret_spelling.h"

namespace agni {
namespace {

using ordered_json = nlohmann::ordered_json;

// Scrubs every string in `j`, object member names included. Returns whether
// anything changed.
bool ScrubStrings(ordered_json& j, std::string_view secret) {
  bool changed = false;
  if (j.is_string()) {
    std::string& s = j.get_ref<std::string&>();
    if (HasSpelling(s, secret)) {
      s = RedactSpellings(s, secret);
      changed = true;
    }
  } else if (j.is_array()) {
    for (ordered_json& e : j) changed = ScrubStrings(e, secret) || changed;
  } else if (j.is_object()) {
    ordered_json rebuilt = ordered_json::object();
    for (auto& [name, value] : j.items()) {
      ordered_json v = std::move(value);
      changed = ScrubStrings(v, secret) || changed;
      std::string n = name;
      if (HasSpelling(n, secret)) {
        n = RedactSpellings(n, secret);
        changed = true;
      }
      rebuilt[n] = std::move(v);
    }
    j = std::move(rebuilt);
  }
  return changed;
}

std::string WithheldBody(int status, std::optional<bool> success) {
  ordered_json p = {
      {"type", "urn:agni-gateway:problem:upstream_response_withheld"},
      {"title", "Upstream response withheld"},
      {"status", status},
      {"reason", "upstream_response_withheld"},
      {"detail",
       "the upstream's response held the gateway's upstream credential and "
       "was not passed on"},
  };
  // The upstream's own verdict, so that a refused release stays refused.
  if (success) p["success"] = *success;
  return p.dump();
}

}  // namespace

std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty() || !HasSpelling(text, secret)) return text;
  return RedactSpellings(text, secret);
}

ScrubbedResponse ScrubUpstreamResponse(int status, std::string body,
                                       std::string content_type,
                                       std::string_view secret) {
  ScrubbedResponse out;
  if (secret.empty() || (!MayHoldSpelling(body, secret) &&
                         !MayHoldSpelling(content_type, secret))) {
    // Nothing below could change either: no string of the body, nor the
    // body itself, spells the key.
    out.body = std::move(body);
    out.content_type = std::move(content_type);
    return out;
  }
  std::optional<bool> success;
  ordered_json j = ordered_json::parse(body, nullptr, false);
  if (!j.is_discarded()) {
    if (j.is_object()) {
      auto it = j.find("success");
      if (it != j.end() && it->is_boolean()) success = it->get<bool>();
    }
    // Written again from the scrubbed strings when anything spelled the key,
    // in a string or anywhere else in the text (a duplicate member name the
    // parser dropped): a JSON client can only decode what was written here.
    const bool changed = ScrubStrings(j, secret);
    if (changed || HasSpelling(body, secret)) {
      out.body = j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    } else {
      out.body = std::move(body);
    }
  } else {
    out.body = RedactSpellings(body, secret);
  }
  out.content_type = RedactSpellings(content_type, secret);
  // Fail closed: a spelling the rewrite cannot see (the key encoded twice,
  // or in a number or bare word of a JSON text) withholds the whole body.
  if (HasLayeredSpelling(out.body, secret) ||
      HasLayeredSpelling(out.content_type, secret)) {
    out.body = WithheldBody(status, success);
    out.content_type = "application/problem+json";
    out.withheld = true;
  }
  return out;
}

}  // namespace agni
