#include "gateway/cli/healthcheck_cli.h"

#include <httplib.h>

#include <iostream>

#include "gateway/cli/config_cli.h"
#include "gateway/config/config.h"

namespace agni {

int HealthCheck(const std::string& config_path, const std::string& url) {
  if (!url.empty()) {
    httplib::Client probe(url);  // validates scheme://host:port
    if (!probe.is_valid()) {
      std::cerr << "unhealthy: invalid --url " << url << "\n";
      return 1;
    }
    probe.set_connection_timeout(2, 0);
    probe.set_read_timeout(2, 0);
    auto res = probe.Get("/readyz");
    if (!res || res->status != 200) {
      std::cerr << "unhealthy: " << url << "/readyz "
                << (res ? std::to_string(res->status)
                        : httplib::to_string(res.error()))
                << "\n";
      return 1;
    }
    std::cout << "healthy\n";
    return kExitOk;
  }
  ConfigLoad load = LoadConfig(config_path);
  if (!load.errors.empty()) {
    PrintConfigErrors(load.errors, std::cerr);
    return 1;
  }
  std::string host = load.config->admin_listen.host;
  const int port = load.config->admin_listen.port;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  httplib::Client probe(host, port);
  probe.set_connection_timeout(2, 0);
  probe.set_read_timeout(2, 0);
  auto res = probe.Get("/readyz");
  if (!res || res->status != 200) {
    std::cerr << "unhealthy: " << load.config->admin_listen.ToString()
              << "/readyz "
              << (res ? std::to_string(res->status) + " " + res->body
                      : httplib::to_string(res.error()))
              << "\n";
    return 1;
  }
  std::cout << "healthy\n";
  return kExitOk;
}

}  // namespace agni
