// Training configs (tools/train/train_config.cpp, compiled here without libtorch): loadConfig on
// the JSON before the input's first NUL byte, then each following line as a --cfg-options
// override (applyOverride), then the typed getters the trainer calls on the keys it overrode, then
// the landmark trainer's readers of the "data" and "augment" sections (tools/train/landmark_data.cpp,
// the range checks of every value).
#include <sstream>

#include "facekit/error.hpp"
#include "fuzz_util.hpp"
#include "landmark_data.hpp"
#include "train_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static facekit::fuzz::MemFile file("config.json");
  const auto [config_text, overrides] = facekit::fuzz::splitAtNul(data, size);
  file.set(reinterpret_cast<const uint8_t*>(config_text.data()), config_text.size());
  using namespace facekit::train;
  try {
    Json config = loadConfig(file.path());
    std::istringstream lines(overrides);
    for (std::string line; std::getline(lines, line);) {
      try {
        applyOverride(config, line);
      } catch (const facekit::Error&) {
      }
      const std::string key = line.substr(0, line.find('='));
      try {
        get<int>(config, key);
      } catch (const facekit::Error&) {
      }
      try {
        get<double>(config, key);
      } catch (const facekit::Error&) {
      }
      try {
        get<bool>(config, key);
      } catch (const facekit::Error&) {
      }
      try {
        get<std::string>(config, key);
      } catch (const facekit::Error&) {
      }
      try {
        get<std::vector<std::string>>(config, key);
      } catch (const facekit::Error&) {
      }
      try {
        get<std::vector<std::vector<int>>>(config, key);
      } catch (const facekit::Error&) {
      }
    }
    try {
      (void)DataOptions::fromConfig(at(config, "data"));
    } catch (const facekit::Error&) {
    }
    try {
      (void)AugmentOptions::fromConfig(at(config, "augment"));
    } catch (const facekit::Error&) {
    }
  } catch (const facekit::Error&) {
  }
  return 0;
}
