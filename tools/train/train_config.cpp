#include "train_config.hpp"

#include <fstream>
#include <sstream>

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
}  // namespace

Json loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(Error::Code::kIoError, path + ": cannot read the config");
  try {
    Json j = Json::parse(in, nullptr, true, /*ignore_comments=*/true);
    if (!j.is_object()) bad(path + ": the top level must be an object");
    return j;
  } catch (const Json::parse_error& e) {
    bad(path + ": not valid JSON (" + std::string(e.what()) + ")");
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
  try {
    return v.get<T>();
  } catch (const Json::exception&) {
    bad("key '" + dotted + "' has the wrong type (" + v.dump() + ")");
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
