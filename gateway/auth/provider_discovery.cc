#include "gateway/auth/provider_discovery.h"

#include "gateway/auth/provider_call.h"

namespace agni {

DiscoveryDocument FetchDiscovery(const std::string& issuer,
                                 const std::string& ca_file,
                                 std::chrono::milliseconds timeout) {
  DiscoveryDocument out;
  std::string base = issuer;
  while (base.ends_with("/")) base.pop_back();
  out.url = base + "/.well-known/openid-configuration";
  ProviderAnswer answer = GetProviderDocument(out.url, ca_file, timeout);
  if (!answer.error.empty()) {
    out.error = std::move(answer.error);
    return out;
  }
  nlohmann::json doc = nlohmann::json::parse(answer.body, nullptr, false);
  if (!doc.is_object()) {
    out.error = out.url + " is not a JSON object";
    return out;
  }
  const auto iss = doc.find("issuer");
  if (iss == doc.end() || !iss->is_string() || *iss != issuer) {
    out.error = out.url + " names a different issuer";
    return out;
  }
  out.document = std::move(doc);
  return out;
}

}  // namespace agni
