#include "gateway/console/provider_http.h"

#include "gateway/auth/provider_discovery.h"

namespace agni {

ProviderEndpoints DiscoverEndpoints(const std::string& issuer,
                                    const std::string& ca_file,
                                    std::chrono::milliseconds timeout) {
  const DiscoveryDocument discovery = FetchDiscovery(issuer, ca_file, timeout);
  if (!discovery.error.empty()) return {"", "", discovery.error};
  ProviderEndpoints out;
  for (auto [key, into] :
       {std::pair{"authorization_endpoint", &out.authorization_endpoint},
        std::pair{"token_endpoint", &out.token_endpoint}}) {
    const auto v = discovery.document.find(key);
    if (v == discovery.document.end() || !v->is_string() ||
        !IsAllowedKeyUrl(*v)) {
      return {"", "", discovery.url + " has no usable " + key};
    }
    *into = v->get<std::string>();
  }
  return out;
}

}  // namespace agni
