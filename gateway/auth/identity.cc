#include "gateway/auth/identity.h"

#include <algorithm>

#include "base/crypto.h"
#include "gateway/auth/jwks_fetch.h"

namespace agni {

IdentityVerifier::IdentityVerifier(
    const IdentityConfig& config,
    const std::vector<std::string>& declared_groups, FetchObserver on_fetch,
    FetcherFactory fetchers, CacheObserver on_cache)
    : on_cache_(std::move(on_cache)) {
  if (config.token_cache_size > 0) {
    cache_ = std::make_unique<VerifiedTokenCache>(config.token_cache_size);
  }
  for (const OidcIssuerConfig& o : config.oidc) {
    Issuer issuer;
    JwtRules& r = issuer.rules;
    r.issuer = o.issuer;
    r.audiences = o.audiences;
    for (const std::string& a : o.algorithms) {
      if (auto alg = ParseJwsAlg(a)) r.algorithms.push_back(*alg);
    }
    r.leeway = std::chrono::duration_cast<std::chrono::seconds>(o.leeway);
    r.user_claim = o.user_claim;
    r.groups_claim = o.groups_claim;
    r.group_map = o.group_map;
    r.declared_groups.insert(declared_groups.begin(), declared_groups.end());
    JwksFetcher fetcher =
        fetchers ? fetchers(o)
                 : MakeJwksFetcher({o.issuer, o.jwks_url, o.jwks_file,
                                    o.ca_file, std::chrono::seconds(5)});
    JwksCache::Options options{o.jwks_refresh, o.jwks_min_refresh, nullptr};
    if (on_fetch) {
      options.on_fetch = [on_fetch, label = o.name](bool ok,
                                                    const std::string& error) {
        on_fetch(label, ok, error);
      };
    }
    issuer.keys =
        std::make_unique<JwksCache>(std::move(fetcher), std::move(options));
    issuers_.push_back(std::move(issuer));
  }
}

IdentityVerifier::~IdentityVerifier() {
  for (Issuer& i : issuers_) i.keys->Stop();
}

void IdentityVerifier::Start() {
  for (Issuer& i : issuers_) i.keys->Start();
}

bool IdentityVerifier::Ready() const {
  return std::all_of(issuers_.begin(), issuers_.end(),
                     [](const Issuer& i) { return i.keys->Loaded(); });
}

JwtVerification IdentityVerifier::Verify(
    std::string_view token, std::chrono::system_clock::time_point now) const {
  if (cache_ == nullptr || token.size() > kMaxJwtBytes) {
    return VerifyUncached(token, now, std::nullopt);
  }
  return Verify(token, Sha256Raw(token), now);
}

JwtVerification IdentityVerifier::Verify(
    std::string_view token, std::string_view sha256_raw,
    std::chrono::system_clock::time_point now) const {
  std::optional<VerifiedTokenCache::Digest> digest;
  if (cache_ != nullptr && token.size() <= kMaxJwtBytes) {
    digest = VerifiedTokenCache::ToDigest(sha256_raw);
  }
  if (digest) {
    if (std::optional<JwtVerification> cached = FromCache(*digest, now)) {
      if (on_cache_) on_cache_(true);
      return std::move(*cached);
    }
    if (on_cache_) on_cache_(false);
  }
  return VerifyUncached(token, now, digest);
}

std::optional<JwtVerification> IdentityVerifier::FromCache(
    const VerifiedTokenCache::Digest& digest,
    std::chrono::system_clock::time_point now) const {
  std::optional<CachedToken> hit = cache_->Find(digest);
  if (!hit || hit->issuer >= issuers_.size()) return std::nullopt;
  const Issuer& issuer = issuers_[hit->issuer];
  // Keys refreshed since (perhaps without this token's key): verified again.
  if (!SameKeySet(hit->keys, issuer.keys->Keys())) return std::nullopt;
  if (const std::optional<JwtCheck> failed =
          CheckTokenTimes(hit->verified.times, issuer.rules.leeway, now)) {
    cache_->Erase(digest);
    return JwtVerification{std::nullopt, *failed};
  }
  return JwtVerification{std::move(hit->verified), JwtCheck::kMalformed};
}

JwtVerification IdentityVerifier::VerifyUncached(
    std::string_view token, std::chrono::system_clock::time_point now,
    const std::optional<VerifiedTokenCache::Digest>& digest) const {
  JwsParse parsed = ParseJws(token);
  if (!parsed.jws) return {std::nullopt, parsed.failure};
  const Jws& jws = *parsed.jws;
  const std::optional<std::string> iss = IssuerOf(jws);
  std::size_t index = issuers_.size();
  for (std::size_t i = 0; i < issuers_.size(); ++i) {
    if (iss && issuers_[i].rules.issuer == *iss) index = i;
  }
  if (index == issuers_.size()) return {std::nullopt, JwtCheck::kIssuer};
  const Issuer& issuer = issuers_[index];
  const std::optional<JwsAlg> alg = AllowedAlgorithm(jws, issuer.rules);
  if (!alg) return {std::nullopt, JwtCheck::kAlgorithm};
  std::shared_ptr<const JwkSet> keys = issuer.keys->Keys();
  const Jwk* key = keys ? keys->Find(jws.kid, jws.has_kid, *alg) : nullptr;
  if (key == nullptr) {
    keys = issuer.keys->RefetchForUnknownKey();
    key = keys ? keys->Find(jws.kid, jws.has_kid, *alg) : nullptr;
  }
  JwtVerification verified = VerifyJwt(jws, *alg, issuer.rules, key, now);
  if (verified.ok && digest) {
    cache_->Insert(*digest, CachedToken{*verified.ok, index, keys});
  }
  return verified;
}

std::size_t IdentityVerifier::CachedTokens() const {
  return cache_ ? cache_->size() : 0;
}

JwtVerification IdentityVerifier::VerifyIdToken(
    std::string_view token, std::string_view issuer_name,
    std::string_view client_id, std::chrono::system_clock::time_point now,
    std::string& nonce) const {
  nonce.clear();
  JwsParse parsed = ParseJws(token);
  if (!parsed.jws) return {std::nullopt, parsed.failure};
  const Jws& jws = *parsed.jws;
  const Issuer* issuer = nullptr;
  for (const Issuer& i : issuers_) {
    if (i.rules.issuer == issuer_name) issuer = &i;
  }
  if (issuer == nullptr || IssuerOf(jws) != issuer->rules.issuer) {
    return {std::nullopt, JwtCheck::kIssuer};
  }
  JwtRules rules = issuer->rules;
  rules.audiences = {std::string(client_id)};
  const std::optional<JwsAlg> alg = AllowedAlgorithm(jws, rules);
  if (!alg) return {std::nullopt, JwtCheck::kAlgorithm};
  std::shared_ptr<const JwkSet> keys = issuer->keys->Keys();
  const Jwk* key = keys ? keys->Find(jws.kid, jws.has_kid, *alg) : nullptr;
  if (key == nullptr) {
    keys = issuer->keys->RefetchForUnknownKey();
    key = keys ? keys->Find(jws.kid, jws.has_kid, *alg) : nullptr;
  }
  JwtVerification verified = VerifyJwt(jws, *alg, rules, key, now);
  const auto claim = jws.payload.find("nonce");
  if (verified.ok && claim != jws.payload.end() && claim->is_string()) {
    nonce = claim->get<std::string>();
  }
  return verified;
}

}  // namespace agni
