// See data_dir.hpp.
#include "package/data_dir.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "facekit/detector.hpp"

#ifndef FACEKIT_LIBDIR_TO_DATADIR
#define FACEKIT_LIBDIR_TO_DATADIR "../share/facekit"
#endif
#ifndef FACEKIT_BINDIR_TO_DATADIR
#define FACEKIT_BINDIR_TO_DATADIR "../share/facekit"
#endif

namespace facekit::package {
namespace fs = std::filesystem;

fs::path ownFile() {
  Dl_info info{};
  std::error_code ec;
  if (dladdr(reinterpret_cast<void*>(&dataDir), &info) && info.dli_fname && std::string(info.dli_fname).find('/') != std::string::npos) {
    const fs::path p = fs::canonical(info.dli_fname, ec);
    if (!ec) return p;
  }
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  return ec ? fs::path() : exe;
}

namespace {
std::string installedDataDir() {
  const fs::path self = ownFile();
  if (self.empty()) return {};
  std::error_code ec;
  for (const char* rel : {FACEKIT_LIBDIR_TO_DATADIR, FACEKIT_BINDIR_TO_DATADIR}) {
    const fs::path dir = (self.parent_path() / rel).lexically_normal();
    if (fs::is_regular_file(dir / "mtcnn.safetensors", ec)) return dir.string();
  }
  return {};
}
}  // namespace

const char* dataDir(const char* configured) {
  static const std::string installed = installedDataDir();  // thread-safe, computed once
  return installed.empty() ? configured : installed.c_str();
}

}  // namespace facekit::package

namespace facekit {
std::string defaultModelPath(const std::string& file_name) {
  if (const char* dir = std::getenv("FACEKIT_MODEL_DIR"); dir && *dir) return std::string(dir) + "/" + file_name;
  // Converted models (make models) live in models/, weights that the repository ships in weights/
  // (an install tree holds both in share/facekit).
  const std::string converted = std::string(package::dataDir(FACEKIT_SOURCE_MODEL_DIR)) + "/" + file_name;
  const std::string shipped = std::string(package::dataDir(FACEKIT_SOURCE_WEIGHTS_DIR)) + "/" + file_name;
  return !std::ifstream(converted) && std::ifstream(shipped) ? shipped : converted;
}
}  // namespace facekit
