#include "gateway/auth/jwks_fetch.h"

#include <fstream>
#include <sstream>

#include "gateway/auth/provider_discovery.h"

namespace agni {
namespace {

JwksFetchResult Get(const std::string& url, const JwksSource& source) {
  ProviderAnswer answer =
      GetProviderDocument(url, source.ca_file, source.timeout);
  return {std::move(answer.body), std::move(answer.error)};
}

JwksFetchResult Discover(const JwksSource& source) {
  const DiscoveryDocument discovery =
      FetchDiscovery(source.issuer, source.ca_file, source.timeout);
  if (!discovery.error.empty()) return {"", discovery.error};
  const auto jwks_uri = discovery.document.find("jwks_uri");
  if (jwks_uri == discovery.document.end() || !jwks_uri->is_string()) {
    return {"", discovery.url + " has no jwks_uri"};
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
