// The demo page's files (tools/serve/web), compiled into the facekit binary by CMake
// (embed_web.cmake), so `facekit serve` needs nothing beside it.
#pragma once

#include <string>
#include <vector>

namespace facekit::cli {
struct WebAsset {
  const char* path;          // URL path, e.g. "/index.html"
  const char* content_type;
  std::string content;
};
const std::vector<WebAsset>& webAssets();
}  // namespace facekit::cli
