#include "engine/tfjs_reader.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"

namespace facekit::engine::tfjs {
namespace {
[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw Error(Error::Code::kBadModel, "TF.js model " + origin + ": " + what);
}
}  // namespace

float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::string base64Decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t buf = 0;  // only the low 14 bits matter (unsigned: the shift must not overflow)
  int bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) continue;  // '=' padding and whitespace
    buf = ((buf << 6) | uint32_t(v)) & 0x3fff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buf >> bits) & 0xff);
    }
  }
  return out;
}

// Attribute accessors: a malformed attribute (wrong JSON type, a number that is not one) is a
// bad model, reported as facekit::Error like everything else here.
std::vector<int> Node::ints(const std::string& key) const {
  std::vector<int> r;
  try {
    if (attr.is_object() && attr.contains(key) && attr[key].is_object() && attr[key].contains("list") && attr[key]["list"].is_object() &&
        attr[key]["list"].contains("i"))
      for (const auto& v : attr[key]["list"]["i"]) {
        const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
        size_t used = 0;
        r.push_back(std::stoi(s, &used));
        if (used != s.size()) throw std::invalid_argument(s);
      }
  } catch (const std::exception&) {
    throw Error(Error::Code::kBadModel, "TF.js node '" + name + "': attribute '" + key + "' is not a list of integers");
  }
  return r;
}

std::string Node::str(const std::string& key) const {
  if (!attr.is_object() || !attr.contains(key) || !attr[key].is_object() || !attr[key].contains("s")) return {};
  if (!attr[key]["s"].is_string()) throw Error(Error::Code::kBadModel, "TF.js node '" + name + "': attribute '" + key + "' is not a string");
  return base64Decode(attr[key]["s"].get<std::string>());
}

std::vector<std::string> Node::strs(const std::string& key) const {
  std::vector<std::string> r;
  if (attr.is_object() && attr.contains(key) && attr[key].is_object() && attr[key].contains("list") && attr[key]["list"].is_object() &&
      attr[key]["list"].contains("s"))
    for (const auto& v : attr[key]["list"]["s"]) {
      if (!v.is_string()) throw Error(Error::Code::kBadModel, "TF.js node '" + name + "': attribute '" + key + "' is not a list of strings");
      r.push_back(base64Decode(v.get<std::string>()));
    }
  return r;
}

const Node& Model::node(const std::string& name) const {
  for (const auto& n : nodes)
    if (n.name == name) return n;
  bad(origin, "no node named '" + name + "'");
}

const Weight& Model::weight(const std::string& name) const {
  auto it = weights.find(name);
  if (it == weights.end()) bad(origin, "no weight named '" + name + "'");
  return it->second;
}

Model load(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  return parse(readFileBytes(path), [&](const std::string& shard) { return readFileBytes((dir / shard).string()); }, path);
}

Model parse(const std::string& text, const std::function<std::string(const std::string&)>& read_shard, const std::string& path) {
  Model m;
  m.origin = path;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    bad(path, "not valid JSON");
  }
  // Every access below checks its JSON type: a field of the wrong type is a bad model (a
  // nlohmann::json type error would escape as an unexpected exception).
  try {
    if (!j.is_object() || !j.contains("modelTopology") || !j["modelTopology"].is_object() || !j["modelTopology"].contains("node") ||
        !j["modelTopology"]["node"].is_array() || !j.contains("weightsManifest") || !j["weightsManifest"].is_array())
      bad(path, "not a TF.js graph model (no modelTopology.node / weightsManifest)");
    if (j.contains("signature")) m.signature = j["signature"];
    for (const auto& n : j["modelTopology"]["node"]) {
      if (!n.is_object()) bad(path, "a node is not an object");
      Node node;
      node.name = n.value("name", "");
      node.op = n.value("op", "");
      if (n.contains("input")) {
        if (!n["input"].is_array()) bad(path, "node '" + node.name + "': input is not a list");
        for (const auto& in : n["input"]) {
          if (!in.is_string()) bad(path, "node '" + node.name + "': an input is not a string");
          std::string s = in.get<std::string>();
          if (const auto c = s.find(':'); c != std::string::npos) s.resize(c);
          if (!s.empty() && s[0] == '^') continue;  // control dependency
          node.inputs.push_back(s);
        }
      }
      if (n.contains("attr")) node.attr = n["attr"];
      m.nodes.push_back(std::move(node));
    }
    for (const auto& group : j["weightsManifest"]) {
      if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() || !group.contains("weights") || !group["weights"].is_array())
        bad(path, "a weightsManifest entry lacks paths / weights");
      std::string data;
      for (const auto& shard : group["paths"]) {
        if (!shard.is_string()) bad(path, "a weight shard path is not a string");
        data += read_shard(shard.get<std::string>());
      }
      size_t offset = 0;
      for (const auto& w : group["weights"]) {
        if (!w.is_object() || !w.contains("name") || !w["name"].is_string() || !w.contains("shape") || !w["shape"].is_array() ||
            !w.contains("dtype") || !w["dtype"].is_string())
          bad(path, "a weight lacks name / shape / dtype");
        Weight wt;
        const std::string name = w["name"];
        const std::string dtype = w["dtype"];
        std::string stored = dtype;
        if (w.contains("quantization")) {
          if (!w["quantization"].is_object()) bad(path, "weight '" + name + "': quantization is not an object");
          stored = w["quantization"].value("dtype", dtype);
        }
        const size_t elem = stored == "float16" ? 2 : stored == "float32" || stored == "int32" ? 4 : 0;
        if (!elem) bad(path, "weight '" + name + "' has unsupported storage type " + stored);
        // The element count, checked against the shard before anything is multiplied out of range.
        size_t numel = 1;
        const size_t room = (data.size() - std::min(offset, data.size())) / elem;
        for (const auto& d : w["shape"]) {
          if (!d.is_number_integer() || d.get<int64_t>() < 0) bad(path, "weight '" + name + "' has a bad dimension " + d.dump());
          const auto v = d.get<int64_t>();
          wt.shape.push_back(v);
          if (v == 0) numel = 0;
          else if (numel > room / size_t(v)) numel = room + 1;  // more than the shard holds: refused below
          else numel *= size_t(v);
        }
        if (numel > room) bad(path, "weight shard is too short (truncated?) at '" + name + "'");
        const char* p = data.data() + offset;
        if (stored == "float16") {
          wt.f.resize(numel);
          for (size_t k = 0; k < numel; ++k) {
            uint16_t h;
            std::memcpy(&h, p + 2 * k, 2);
            wt.f[k] = halfToFloat(h);
          }
        } else if (stored == "float32") {
          wt.f.resize(numel);
          if (numel) std::memcpy(wt.f.data(), p, numel * 4);
        } else {
          wt.i.resize(numel);
          if (numel) std::memcpy(wt.i.data(), p, numel * 4);
        }
        offset += numel * elem;
        m.weights.emplace(name, std::move(wt));
      }
      if (offset != data.size()) bad(path, "weight shard size does not match the manifest");
    }
  } catch (const nlohmann::json::exception& e) {
    bad(path, std::string("malformed model.json (") + e.what() + ")");
  }
  return m;
}

}  // namespace facekit::engine::tfjs
