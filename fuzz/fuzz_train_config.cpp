// Training configs (tools/train/train_config.cpp, compiled here without libtorch): loadConfig on
// the JSON before the input's first NUL byte, then each following line as a --cfg-options
// override (applyOverride), then the typed getters the trainer calls on the keys it overrode.
#include <sstream>

#include "facekit/error.hpp"
#include "fuzz_util.hpp"
#include "train_config.hpp"

// Known findings in tools/train/train_config.cpp (docs/reliability.md; reported to its owner).
// Until they are fixed, inputs that reach them are skipped (-DFACEKIT_FUZZ_CONFIG_ALL=1 sends
// them in anyway):
//  10. get<T>() reports a value of the wrong type with Json::dump(), which throws
//      nlohmann::json::type_error (316) for a string that is not valid UTF-8, from inside the
//      catch block, so it escapes instead of a facekit::Error: inputs with invalid UTF-8.
//  11. loadConfig and applyOverride catch only Json::parse_error; a number beyond double's range
//      (1e400) throws out_of_range (406), which escapes: inputs whose JSON parts throw that.
//  17. get<int>() (and get<std::vector<std::vector<int>>>) converts a JSON float to int with
//      nlohmann's unchecked cast: 1e50 (say, train.max_epochs=1e50) is undefined behaviour
//      (UBSan: "outside the range of representable values of type 'int'"): those two getters
//      are not called on values holding a float beyond int's range.
// Well-formed UTF-8 as Unicode defines it (table 3-7): what nlohmann's dump() accepts.
static bool validUtf8(const uint8_t* s, size_t n) {
  for (size_t i = 0; i < n;) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return false;
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Every float in v (recursively) converts to int without undefined behaviour.
static bool floatsFitInt(const facekit::train::Json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d > -2147483649.0 && d < 2147483648.0;
  }
  if (v.is_structured())
    for (const auto& e : v)
      if (!floatsFitInt(e)) return false;
  return true;
}

static bool throwsBeyondParseError(const std::string& text, bool comments) {
  try {
    (void)facekit::train::Json::parse(text, nullptr, true, comments);
  } catch (const facekit::train::Json::parse_error&) {
  } catch (const facekit::train::Json::exception&) {
    return true;
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#if !FACEKIT_FUZZ_CONFIG_ALL
  if (!validUtf8(data, size)) return 0;  // 10
  {
    const auto parts = facekit::fuzz::splitAtNul(data, size);
    if (throwsBeyondParseError(parts.first, true)) return 0;  // 11
    std::istringstream lines(parts.second);
    for (std::string line; std::getline(lines, line);)
      if (line.find('=') != std::string::npos && throwsBeyondParseError(line.substr(line.find('=') + 1), false)) return 0;  // 11
  }
#endif
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
      bool ints_ok = true;
      try {
#if !FACEKIT_FUZZ_CONFIG_ALL
        ints_ok = floatsFitInt(at(config, key));  // 17
#endif
        if (ints_ok) get<int>(config, key);
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
        if (ints_ok) get<std::vector<std::vector<int>>>(config, key);
      } catch (const facekit::Error&) {
      }
    }
  } catch (const facekit::Error&) {
  }
  return 0;
}
