#include "engine/tfjs_reader.hpp"

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
  int buf = 0, bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) continue;  // '=' padding and whitespace
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buf >> bits) & 0xff);
    }
  }
  return out;
}

std::vector<int> Node::ints(const std::string& key) const {
  std::vector<int> r;
  if (attr.contains(key) && attr[key].contains("list") && attr[key]["list"].contains("i"))
    for (const auto& v : attr[key]["list"]["i"]) r.push_back(std::stoi(v.get<std::string>()));
  return r;
}

std::string Node::str(const std::string& key) const {
  if (!attr.contains(key) || !attr[key].contains("s")) return {};
  return base64Decode(attr[key]["s"].get<std::string>());
}

std::vector<std::string> Node::strs(const std::string& key) const {
  std::vector<std::string> r;
  if (attr.contains(key) && attr[key].contains("list") && attr[key]["list"].contains("s"))
    for (const auto& v : attr[key]["list"]["s"]) r.push_back(base64Decode(v.get<std::string>()));
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
  Model m;
  m.origin = path;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(readFileBytes(path));
  } catch (const nlohmann::json::exception&) {
    bad(path, "not valid JSON");
  }
  if (!j.contains("modelTopology") || !j["modelTopology"].contains("node") || !j.contains("weightsManifest"))
    bad(path, "not a TF.js graph model (no modelTopology.node / weightsManifest)");
  if (j.contains("signature")) m.signature = j["signature"];
  for (const auto& n : j["modelTopology"]["node"]) {
    Node node;
    node.name = n.value("name", "");
    node.op = n.value("op", "");
    if (n.contains("input"))
      for (const auto& in : n["input"]) {
        std::string s = in.get<std::string>();
        if (const auto c = s.find(':'); c != std::string::npos) s.resize(c);
        if (!s.empty() && s[0] == '^') continue;  // control dependency
        node.inputs.push_back(s);
      }
    if (n.contains("attr")) node.attr = n["attr"];
    m.nodes.push_back(std::move(node));
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (const auto& group : j["weightsManifest"]) {
    std::string data;
    for (const auto& shard : group["paths"]) data += readFileBytes((dir / shard.get<std::string>()).string());
    size_t offset = 0;
    for (const auto& w : group["weights"]) {
      Weight wt;
      const std::string name = w["name"];
      size_t numel = 1;
      for (const auto& d : w["shape"]) wt.shape.push_back(d.get<int64_t>()), numel *= size_t(d.get<int64_t>());
      const std::string dtype = w["dtype"];
      std::string stored = dtype;
      if (w.contains("quantization")) stored = w["quantization"].value("dtype", dtype);
      const size_t elem = stored == "float16" ? 2 : stored == "float32" || stored == "int32" ? 4 : 0;
      if (!elem) bad(path, "weight '" + name + "' has unsupported storage type " + stored);
      if (offset + numel * elem > data.size()) bad(path, "weight shard is too short (truncated?) at '" + name + "'");
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
        std::memcpy(wt.f.data(), p, numel * 4);
      } else {
        wt.i.resize(numel);
        std::memcpy(wt.i.data(), p, numel * 4);
      }
      offset += numel * elem;
      m.weights.emplace(name, std::move(wt));
    }
    if (offset != data.size()) bad(path, "weight shard size does not match the manifest");
  }
  return m;
}

}  // namespace facekit::engine::tfjs
