// Loading libfacekit_imgcodecs.so (src/plugins/imgcodecs_plugin.h) on first use, and the calls
// through it. Looked for, in order:
//   $FACEKIT_IMGCODECS_PLUGIN (a file; when set, nothing else is tried),
//   beside the file this code runs from (libfacekit.so, the program, the Python module, where
//   the build tree and pip put it),
//   in the facekit folder of the install tree's lib folder, found from that file (libfacekit.so
//   in <libdir>, facekit in <prefix>/bin: a moved prefix works), then of the configured one,
//   and in the build tree this library was built in (tests, fuzz targets, build/python).
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "facekit/error.hpp"
#include "package/data_dir.hpp"
#include "pipeline/codecs.hpp"
#include "plugins/imgcodecs_plugin.h"

#ifndef FACEKIT_BINDIR_TO_LIBDIR
#define FACEKIT_BINDIR_TO_LIBDIR "../lib"
#endif
#ifndef FACEKIT_INSTALL_LIBDIR
#define FACEKIT_INSTALL_LIBDIR "/usr/local/lib"
#endif
#ifndef FACEKIT_BUILD_PLUGIN_DIR
#define FACEKIT_BUILD_PLUGIN_DIR ""
#endif

namespace facekit::codecs {
namespace {
namespace fs = std::filesystem;

constexpr const char* kPluginFile = "libfacekit_imgcodecs.so";

struct Plugin {
  void* handle = nullptr;
  facekit_imgcodecs_decode_fn decode = nullptr;
  facekit_imgcodecs_encode_fn encode = nullptr;
  std::string path;
  std::string why;  // why it could not be loaded
};

std::vector<fs::path> candidates() {
  if (const char* env = std::getenv("FACEKIT_IMGCODECS_PLUGIN"); env && *env) return {fs::path(env)};
  std::vector<fs::path> dirs;
  const fs::path self = package::ownFile();
  if (!self.empty()) {
    dirs.push_back(self.parent_path());
    dirs.push_back(self.parent_path() / "facekit");
    dirs.push_back((self.parent_path() / FACEKIT_BINDIR_TO_LIBDIR / "facekit").lexically_normal());
  }
  dirs.push_back(fs::path(FACEKIT_INSTALL_LIBDIR) / "facekit");
  if (*FACEKIT_BUILD_PLUGIN_DIR) dirs.push_back(FACEKIT_BUILD_PLUGIN_DIR);
  std::vector<fs::path> files;
  for (const auto& d : dirs) files.push_back(d / kPluginFile);
  return files;
}

Plugin load() {
  Plugin p;
  std::error_code ec;
  std::string looked;
  for (const fs::path& file : candidates()) {
    looked += (looked.empty() ? "" : ", ") + file.parent_path().string();
    if (!fs::is_regular_file(file, ec)) continue;
    void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      p.why = std::string("cannot load ") + file.string() + ": " + (e ? e : "unknown error");
      return p;
    }
    auto abi = reinterpret_cast<facekit_imgcodecs_abi_fn>(dlsym(h, "facekit_imgcodecs_abi"));
    auto decode = reinterpret_cast<facekit_imgcodecs_decode_fn>(dlsym(h, "facekit_imgcodecs_decode"));
    auto encode = reinterpret_cast<facekit_imgcodecs_encode_fn>(dlsym(h, "facekit_imgcodecs_encode"));
    if (!abi || !decode || !encode || abi() != FACEKIT_IMGCODECS_ABI) {
      dlclose(h);
      p.why = file.string() + " is not a facekit image codecs plugin of this version (ABI " + std::to_string(FACEKIT_IMGCODECS_ABI) + ")";
      return p;
    }
    p.handle = h, p.decode = decode, p.encode = encode, p.path = file.string();
    return p;
  }
  p.why = std::string(kPluginFile) + " not found (looked in " + looked + ")";
  return p;
}

const Plugin& plugin() {
  static const Plugin p = load();  // once, thread-safe; never unloaded
  return p;
}

const Plugin& pluginFor(const std::string& name, const std::string& what, Error::Code code) {
  const Plugin& p = plugin();
  if (!p.handle)
    throw Error(code, name + ": " + what + " needs facekit's image codecs plugin, which cannot be loaded: " + p.why);
  return p;
}

void* allocString(void* context, size_t bytes) {
  try {
    auto* s = static_cast<std::string*>(context);
    s->resize(bytes);
    return s->data();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

std::string pluginPath(std::string* why) {
  const Plugin& p = plugin();
  if (why) *why = p.why;
  return p.path;
}

PluginImage pluginDecode(const std::string& bytes, int cv_flags, const std::string& format, const std::string& name) {
  const Plugin& p = pluginFor(name, "reading " + format + " images", Error::Code::kBadImage);
  PluginImage img;
  char error[512] = "";
  const int rc = p.decode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), cv_flags, &img.rows, &img.cols,
                          &img.channels, &img.depth, allocString, &img.pixels, error, sizeof error);
  if (rc == 2) throw std::bad_alloc();
  if (rc != 0) throw Error(Error::Code::kBadImage, name + ": " + error);
  return img;
}

std::string pluginEncode(const ImageView& v, const std::string& ext, const std::string& name) {
  const Plugin& p = pluginFor(name, "writing " + ext + " images", Error::Code::kIoError);
  std::string out;
  size_t size = 0;
  char error[512] = "";
  const int rc = p.encode(ext.c_str(), v.data, v.height, v.width, channelsOf(v.format), v.rowBytes(), allocString, &out, &size, error,
                          sizeof error);
  if (rc != 0) throw Error(Error::Code::kIoError, name + ": " + error);
  out.resize(size);
  return out;
}

}  // namespace facekit::codecs
