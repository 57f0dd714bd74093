#include "gateway/auth/jwt.h"

#include <algorithm>
#include <cmath>

namespace agni {
namespace {

using nlohmann::json;

// Parses a JSON object, refusing a key that appears twice in any object:
// nlohmann keeps the last, and a header with two "alg"s must not be read as
// whichever a library downstream happens to pick.
std::optional<json> ParseObject(std::string_view text) {
  std::vector<std::vector<std::string>> open;
  bool duplicate = false;
  json::parser_callback_t callback = [&](int, json::parse_event_t event,
                                         json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        auto& keys = open.back();
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
          duplicate = true;
        }
        keys.push_back(key);
        break;
      }
      default: break;
    }
    return true;
  };
  json doc = json::parse(text, callback, false);
  if (doc.is_discarded() || duplicate || !doc.is_object()) return std::nullopt;
  return doc;
}

// A NumericDate claim (RFC 7519 §2) as whole seconds; nullopt when absent,
// error when not a finite number.
struct NumericDate {
  bool present = false;
  bool valid = true;
  std::int64_t seconds = 0;
};

NumericDate ReadDate(const json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return {};
  if (it->is_number_integer() || it->is_number_unsigned()) {
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX / 2)) {
      return {true, true, INT64_MAX / 2};
    }
    return {true, true, it->get<std::int64_t>()};
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (!std::isfinite(v) || std::fabs(v) > 1e15) return {true, false, 0};
    return {true, true, static_cast<std::int64_t>(std::floor(v))};
  }
  return {true, false, 0};
}

bool AudienceMatches(const json& payload, const JwtRules& rules) {
  auto it = payload.find("aud");
  if (it == payload.end()) return false;
  auto wanted = [&](const json& v) {
    return v.is_string() &&
           std::find(rules.audiences.begin(), rules.audiences.end(),
                     v.get_ref<const std::string&>()) != rules.audiences.end();
  };
  if (it->is_string()) return wanted(*it);
  if (it->is_array()) return std::any_of(it->begin(), it->end(), wanted);
  return false;
}

// A name the audit, logs and policy can carry: printable ASCII, bounded.
bool IsUsableName(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
}

JwtVerification Fail(JwtCheck check) { return {std::nullopt, check}; }

}  // namespace

std::string_view JwtCheckName(JwtCheck check) {
  switch (check) {
    case JwtCheck::kTooLarge: return "too_large";
    case JwtCheck::kMalformed: return "malformed";
    case JwtCheck::kAlgorithm: return "algorithm";
    case JwtCheck::kIssuer: return "issuer";
    case JwtCheck::kUnknownKey: return "unknown_key";
    case JwtCheck::kSignature: return "signature";
    case JwtCheck::kAudience: return "audience";
    case JwtCheck::kExpired: return "expired";
    case JwtCheck::kNotYetValid: return "not_yet_valid";
    case JwtCheck::kUserClaim: return "user_claim";
  }
  return "malformed";
}

JwsParse ParseJws(std::string_view token) {
  if (token.size() > kMaxJwtBytes) return {std::nullopt, JwtCheck::kTooLarge};
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return {};
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos ||
      token.find('.', dot2 + 1) != std::string_view::npos) {
    return {};
  }
  std::string header_text, payload_text;
  Jws jws;
  if (dot1 == 0 || dot2 == dot1 + 1 ||
      !Base64UrlDecode(token.substr(0, dot1), header_text) ||
      !Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload_text) ||
      !Base64UrlDecode(token.substr(dot2 + 1), jws.signature)) {
    return {};
  }
  auto header = ParseObject(header_text);
  auto payload = ParseObject(payload_text);
  if (!header || !payload) return {};
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return {};
  jws.alg = alg->get<std::string>();
  if (auto kid = header->find("kid"); kid != header->end()) {
    if (!kid->is_string()) return {};
    jws.kid = kid->get<std::string>();
    jws.has_kid = true;
  }
  // A token that asks for critical extensions the gateway does not know must
  // be refused (RFC 7515 §4.1.11); it knows none.
  if (header->contains("crit")) return {};
  jws.header = std::move(*header);
  jws.payload = std::move(*payload);
  jws.signing_input = token.substr(0, dot2);
  return {std::move(jws), JwtCheck::kMalformed};
}

bool LooksLikeJwt(std::string_view token) {
  // Exactly two dots, found with find() (memchr) rather than a count over
  // every byte: this runs on each request with a Bearer token.
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return false;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos ||
      token.find('.', dot2 + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view first = token.substr(0, dot1);
  // "eyJ" is base64url of `{"`; a static gateway token never starts so.
  return first.starts_with("eyJ") && first.size() <= kMaxJwtBytes;
}

std::optional<JwtCheck> CheckTokenTimes(
    const TokenTimes& times, std::chrono::seconds leeway,
    std::chrono::system_clock::time_point now) {
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
          .count();
  const std::int64_t skew = leeway.count();
  if (t >= times.expires + skew) return JwtCheck::kExpired;
  if ((times.not_before && t + skew < *times.not_before) ||
      (times.issued_at && t + skew < *times.issued_at)) {
    return JwtCheck::kNotYetValid;
  }
  return std::nullopt;
}

std::optional<JwsAlg> AllowedAlgorithm(const Jws& jws, const JwtRules& rules) {
  const std::optional<JwsAlg> alg = ParseJwsAlg(jws.alg);
  if (!alg || std::find(rules.algorithms.begin(), rules.algorithms.end(),
                        *alg) == rules.algorithms.end()) {
    return std::nullopt;
  }
  return alg;
}

std::optional<std::string> IssuerOf(const Jws& jws) {
  auto it = jws.payload.find("iss");
  if (it == jws.payload.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

JwtVerification VerifyJwt(const Jws& jws, JwsAlg alg, const JwtRules& rules,
                          const Jwk* key,
                          std::chrono::system_clock::time_point now) {
  if (key == nullptr) return Fail(JwtCheck::kUnknownKey);
  if (!VerifyJwsSignature(*key, alg, jws.signing_input, jws.signature)) {
    return Fail(JwtCheck::kSignature);
  }
  const json& p = jws.payload;
  if (IssuerOf(jws) != rules.issuer) return Fail(JwtCheck::kIssuer);
  if (!AudienceMatches(p, rules)) return Fail(JwtCheck::kAudience);

  const NumericDate exp = ReadDate(p, "exp");
  const NumericDate nbf = ReadDate(p, "nbf");
  const NumericDate iat = ReadDate(p, "iat");
  if (!exp.valid || !nbf.valid || !iat.valid) return Fail(JwtCheck::kMalformed);
  if (!exp.present) return Fail(JwtCheck::kExpired);
  VerifiedJwt v;
  v.times.expires = exp.seconds;
  if (nbf.present) v.times.not_before = nbf.seconds;
  if (iat.present) v.times.issued_at = iat.seconds;
  if (auto failed = CheckTokenTimes(v.times, rules.leeway, now)) {
    return Fail(*failed);
  }

  v.issuer = rules.issuer;
  auto user = p.find(rules.user_claim);
  if (user == p.end() || !user->is_string() ||
      !IsUsableName(user->get_ref<const std::string&>())) {
    return Fail(JwtCheck::kUserClaim);
  }
  v.name = user->get<std::string>();
  if (auto jti = p.find("jti");
      jti != p.end() && jti->is_string() &&
      IsUsableName(jti->get_ref<const std::string&>())) {
    v.jti = jti->get<std::string>();
  }
  if (auto groups = p.find(rules.groups_claim);
      groups != p.end() && groups->is_array()) {
    for (const json& g : *groups) {
      if (!g.is_string()) continue;
      std::string name = g.get<std::string>();
      if (auto mapped = rules.group_map.find(name);
          mapped != rules.group_map.end()) {
        name = mapped->second;
      }
      if (rules.declared_groups.contains(name) &&
          std::find(v.groups.begin(), v.groups.end(), name) == v.groups.end()) {
        v.groups.push_back(std::move(name));
      }
    }
  }
  return {std::move(v), JwtCheck::kMalformed};
}

}  // namespace agni
