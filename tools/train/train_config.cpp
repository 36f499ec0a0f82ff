#include "train_config.hpp"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "facekit/error.hpp"

namespace facekit::train {
namespace {
std::vector<std::string> splitDots(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  return parts;
}
[[noreturn]] void bad(const std::string& what) { throw Error(Error::Code::kInvalidArgument, "config: " + what); }

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string jsonWhat(const Json::exception& e) {
  const std::string w = e.what();
  const size_t end = w.find("] ");
  return w.compare(0, 16, "[json.exception.") == 0 && end != std::string::npos ? w.substr(end + 2) : w;
}

// A value for an error message: one line, at most about 60 characters, bytes that are not
// UTF-8 replaced (plain dump() throws on them).
std::string show(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// A JSON number that converts to int without loss or undefined behaviour (a float beyond
// int's range is UB in a plain cast, which nlohmann's get<int>() is).
bool fitsInt(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<int>::max());
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    return i >= std::numeric_limits<int>::min() && i <= std::numeric_limits<int>::max();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d >= double(std::numeric_limits<int>::min()) && d <= double(std::numeric_limits<int>::max()) && d == std::floor(d);
  }
  return true;  // not a number: get<int>() reports the type
}
bool allFitInt(const Json& v) {
  if (v.is_structured())
    for (const auto& e : v)
      if (!allFitInt(e)) return false;
  return fitsInt(v);
}
}  // namespace

Json loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(Error::Code::kIoError, path + ": cannot read the config");
  try {
    Json j = Json::parse(in, nullptr, true, /*ignore_comments=*/true);
    if (!j.is_object()) bad(path + ": the top level must be an object");
    return j;
  } catch (const Json::exception& e) {  // syntax, and numbers beyond double's range (1e400)
    bad(path + ": not valid JSON (" + jsonWhat(e) + ")");
  }
}

const Json& at(const Json& config, const std::string& dotted) {
  const Json* node = &config;
  for (const auto& part : splitDots(dotted)) {
    if (!node->is_object() || !node->contains(part)) bad("missing key '" + dotted + "'");
    node = &(*node)[part];
  }
  return *node;
}

template <typename T>
T get(const Json& config, const std::string& dotted) {
  const Json& v = at(config, dotted);
  if constexpr (std::is_same_v<T, int>) {
    if (!fitsInt(v)) bad("key '" + dotted + "' must be a whole number within int's range (" + show(v) + ")");
  } else if constexpr (std::is_same_v<T, std::vector<std::vector<int>>>) {
    if (!allFitInt(v)) bad("key '" + dotted + "' must hold whole numbers within int's range (" + show(v) + ")");
  }
  try {
    return v.get<T>();
  } catch (const Json::exception&) {
    bad("key '" + dotted + "' has the wrong type (" + show(v) + ")");
  }
}
template int get<int>(const Json&, const std::string&);
template double get<double>(const Json&, const std::string&);
template bool get<bool>(const Json&, const std::string&);
template std::string get<std::string>(const Json&, const std::string&);
template std::vector<std::string> get<std::vector<std::string>>(const Json&, const std::string&);
template std::vector<std::vector<int>> get<std::vector<std::vector<int>>>(const Json&, const std::string&);
template std::vector<double> get<std::vector<double>>(const Json&, const std::string&);

void applyOverride(Json& config, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) bad("override '" + kv + "' is not KEY=VALUE");
  const std::string key = kv.substr(0, eq), text = kv.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // a bare string: paths, names
    try {
      (void)value.dump();  // the config is written into logs and models as JSON: UTF-8 only
    } catch (const Json::type_error&) {
      bad("override '" + kv + "': the value is not valid UTF-8");
    }
  } catch (const Json::exception& e) {  // JSON, but not usable: a number beyond double's range
    bad("override '" + kv + "': " + jsonWhat(e));
  }
  Json* node = &config;
  const auto parts = splitDots(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!node->is_object() || !node->contains(parts[i])) bad("unknown key '" + key + "' in override '" + kv + "'");
    node = &(*node)[parts[i]];
  }
  // Numbers may replace numbers of either kind; otherwise the type must stay.
  const bool numeric = node->is_number() && value.is_number();
  if (!numeric && node->type() != value.type() && !node->is_null())
    bad("override '" + kv + "': expected " + std::string(node->type_name()) + ", got " + value.type_name());
  *node = value;
}

void applyOverrides(Json& config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) applyOverride(config, o);
}

}  // namespace facekit::train
