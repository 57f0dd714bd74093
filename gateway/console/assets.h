// The web console's files (gateway/console/assets/), compiled into the
// binary at build time (cmake/embed_assets.cmake), so the gateway serves the
// console with no files on disk and nothing fetched at run time. Immutable.
#pragma once

#include <optional>
#include <string_view>

namespace agni {

struct ConsoleAsset {
  std::string_view content_type;
  std::string_view body;
};

// The file `name` ("index.html", "app.js"), or nullopt.
std::optional<ConsoleAsset> FindConsoleAsset(std::string_view name);

}  // namespace agni
