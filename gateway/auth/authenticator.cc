#include "gateway/auth/authenticator.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "base/crypto.h"
#include "gateway/auth/identity.h"

namespace agni {
namespace {

std::string HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] =
        static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

bool StartsWithBearer(std::string_view v) {
  if (v.size() < 7) return false;
  static constexpr std::string_view kBearer = "bearer ";
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBearer[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// A Bearer JWT judged by the identity providers.
AuthResult FromJwt(const IdentityVerifier& identity, std::string_view token,
                   std::string_view token_sha256,
                   std::chrono::system_clock::time_point now) {
  JwtVerification v = identity.Verify(token, token_sha256, now);
  if (!v.ok) {
    const std::string_view check = JwtCheckName(v.failure);
    return {std::nullopt, std::string(check), "oidc", check};
  }
  Principal p{std::move(v.ok->name), std::move(v.ok->groups), "oidc",
              "iss=" + v.ok->issuer};
  if (!v.ok->jti.empty()) p.audit_detail += "; jti=" + v.ok->jti;
  return {std::move(p), "", "oidc", "success"};
}

}  // namespace

bool Principal::InAnyGroup(const std::vector<std::string>& any_of) const {
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(any_of.begin(), any_of.end(), g) != any_of.end();
  });
}

Authenticator::Authenticator(const std::vector<User>& users,
                             std::shared_ptr<const IdentityVerifier> identity)
    : identity_(std::move(identity)) {
  entries_.reserve(users.size());
  for (const User& u : users) {
    entries_.push_back({HexDecode(u.token_sha256),
                        Principal{u.name, u.groups, "", ""}, u.expires});
  }
}

bool Authenticator::IdentityReady() const {
  return identity_ == nullptr || identity_->Ready();
}

AuthResult Authenticator::Authenticate(
    const Credentials& credentials,
    std::chrono::system_clock::time_point now) const {
  const std::size_t sent = credentials.authorization.size() +
                           credentials.api_key.size() +
                           (credentials.authorization_too_large ? 1 : 0);
  if (sent == 0) {
    return {std::nullopt,
            "no credentials: send Authorization: Bearer <token> or X-Api-Key"};
  }
  if (sent > 1) {
    return {std::nullopt,
            "more than one credential header; send exactly one of "
            "Authorization or X-Api-Key"};
  }
  if (credentials.authorization_too_large) {
    // Far longer than any static token: a would-be JWT.
    const std::string_view method = identity_ != nullptr ? "oidc" : "bearer";
    return {std::nullopt, std::string(JwtCheckName(JwtCheck::kTooLarge)),
            method, "too_large"};
  }
  std::string_view token;
  std::string method;
  if (!credentials.authorization.empty()) {
    std::string_view v = Trim(credentials.authorization.front());
    if (v.size() == 6 && StartsWithBearer(std::string(v) + " ")) {
      return {std::nullopt, "the token is empty"};
    }
    if (!StartsWithBearer(v)) {
      return {std::nullopt, "the Authorization scheme must be Bearer"};
    }
    token = Trim(v.substr(7));
    method = "bearer";
  } else {
    token = Trim(credentials.api_key.front());
    method = "api_key";
  }
  if (token.empty()) return {std::nullopt, "the token is empty"};
  const std::string_view metric_method =
      method == "bearer" ? "bearer" : "api_key";

  const std::string presented = Sha256Raw(token);
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    // No early exit and no data-dependent branch beyond a pointer select.
    const bool equal = CRYPTO_memcmp(e.token_hash_raw.data(), presented.data(),
                                     presented.size()) == 0;
    match = equal ? &e : match;
  }
  if (match == nullptr && method == "bearer" && identity_ != nullptr &&
      !identity_->empty() && LooksLikeJwt(token)) {
    return FromJwt(*identity_, token, presented, now);
  }
  if (match == nullptr) {
    return {std::nullopt, "the token is not valid", metric_method, "invalid"};
  }
  const std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
          .count();
  if (match->expires && seconds >= *match->expires) {
    return {std::nullopt, "expired", metric_method, "expired"};
  }
  Principal p = match->principal;
  p.auth_method = std::move(method);
  return {std::move(p), "", metric_method, "success"};
}

bool Authenticator::IsKnownToken(std::string_view candidate) const {
  if (candidate.empty()) return false;
  const std::string presented = Sha256Raw(candidate);
  bool found = false;
  for (const Entry& e : entries_) {
    found |= CRYPTO_memcmp(e.token_hash_raw.data(), presented.data(),
                           presented.size()) == 0;
  }
  return found;
}

}  // namespace agni

namespace agni {

std::optional<Principal> Authenticator::FindUser(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.principal.name == name) {
      Principal p = e.principal;
      p.auth_method = "mtls";
      return p;
    }
  }
  return std::nullopt;
}

}  // namespace agni
