#include "inputs.hpp"

#include <algorithm>
#include <filesystem>

#include "facekit/error.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

bool isImageFile(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* x : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
    if (e == x) return true;
  return false;
}

std::vector<std::string> expandImageInputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && isImageFile(it->path().string())) found.push_back(it->path().string());
      if (ec) throw Error(Error::Code::kIoError, in + ": cannot list folder: " + ec.message());
      std::sort(found.begin(), found.end());
      if (found.empty()) throw Error(Error::Code::kIoError, in + ": folder holds no image files");
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);
    }
  }
  return out;
}

}  // namespace facekit::cli
