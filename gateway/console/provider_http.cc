#include "gateway/console/provider_http.h"

#include <nlohmann/json.hpp>

namespace agni {

ProviderEndpoints DiscoverEndpoints(const std::string& issuer,
                                    const std::string& ca_file,
                                    std::chrono::milliseconds timeout) {
  std::string base = issuer;
  while (base.ends_with("/")) base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  ProviderCall get;
  get.url = url;
  get.ca_file = ca_file;
  get.timeout = timeout;
  const ProviderAnswer doc = CallProvider(get);
  if (!doc.error.empty()) return {"", "", doc.error};
  if (doc.status != 200) {
    return {"", "", url + " answered " + std::to_string(doc.status)};
  }
  const nlohmann::json j = nlohmann::json::parse(doc.body, nullptr, false);
  if (!j.is_object()) return {"", "", url + " is not a JSON object"};
  // Discovery §4.3: a document that names another issuer is someone else's.
  const auto iss = j.find("issuer");
  if (iss == j.end() || !iss->is_string() || *iss != issuer) {
    return {"", "", url + " names a different issuer"};
  }
  ProviderEndpoints out;
  for (auto [key, into] :
       {std::pair{"authorization_endpoint", &out.authorization_endpoint},
        std::pair{"token_endpoint", &out.token_endpoint}}) {
    const auto v = j.find(key);
    if (v == j.end() || !v->is_string() || !IsAllowedKeyUrl(*v)) {
      return {"", "", url + " has no usable " + key};
    }
    *into = v->get<std::string>();
  }
  return out;
}

}  // namespace agni
