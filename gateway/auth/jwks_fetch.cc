#include "gateway/auth/jwks_fetch.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace agni {
namespace {

JwksFetchResult Get(const std::string& url, const JwksSource& source) {
  ProviderCall get;
  get.url = url;
  get.ca_file = source.ca_file;
  get.timeout = source.timeout;
  ProviderAnswer answer = CallProvider(get);
  if (!answer.error.empty()) return {"", std::move(answer.error)};
  if (answer.status != 200) {
    return {"", url + " answered " + std::to_string(answer.status)};
  }
  return {std::move(answer.body), ""};
}

JwksFetchResult Discover(const JwksSource& source) {
  std::string base = source.issuer;
  while (base.ends_with("/")) base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  JwksFetchResult doc = Get(url, source);
  if (!doc.error.empty()) return doc;
  nlohmann::json j = nlohmann::json::parse(doc.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return {"", url + " is not a JSON object"};
  }
  // OpenID Connect Discovery §4.3: the document must name the issuer it was
  // fetched for, else its keys belong to someone else.
  auto iss = j.find("issuer");
  if (iss == j.end() || !iss->is_string() || *iss != source.issuer) {
    return {"", url + " names a different issuer"};
  }
  auto jwks_uri = j.find("jwks_uri");
  if (jwks_uri == j.end() || !jwks_uri->is_string()) {
    return {"", url + " has no jwks_uri"};
  }
  return Get(jwks_uri->get<std::string>(), source);
}

}  // namespace

JwksFetcher MakeJwksFetcher(JwksSource source) {
  return [source = std::move(source)]() -> JwksFetchResult {
    if (!source.jwks_file.empty()) {
      std::ifstream in(source.jwks_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in) return {"", "cannot read \"" + source.jwks_file + "\""};
      return {text.str(), ""};
    }
    if (!source.jwks_url.empty()) return Get(source.jwks_url, source);
    return Discover(source);
  };
}

}  // namespace agni
