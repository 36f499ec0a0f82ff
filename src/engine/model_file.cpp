#include "engine/model_file.hpp"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "facekit/error.hpp"

namespace facekit::engine {
namespace {
[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw Error(Error::Code::kBadModel, "model file " + origin + ": " + what);
}
}  // namespace

size_t NamedTensor::numel() const {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return n;
}

std::string shapeString(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::string readFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(Error::Code::kIoError, "cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(Error::Code::kIoError, "cannot read " + path);
  return ss.str();
}

ModelFile ModelFile::load(const std::string& path) { return parse(readFileBytes(path), path); }

ModelFile ModelFile::parse(const std::string& bytes, const std::string& origin) {
  ModelFile m;
  m.origin = origin;
  if (bytes.size() < 8) bad(origin, "too short to be a facekit model (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
  if (n < 2 || n > bytes.size() - 8) bad(origin, "header size " + std::to_string(n) + " does not fit the file (truncated or not a facekit model)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  } catch (const std::exception&) {
    bad(origin, "header is not valid JSON (not a facekit model?)");
  }
  if (!header.is_object()) bad(origin, "header is not a JSON object");
  const size_t data_start = 8 + size_t(n), data_size = bytes.size() - data_start;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) bad(origin, "__metadata__ is not an object");
      for (auto& [k, s] : v.items())
        if (s.is_string()) m.metadata[k] = s.get<std::string>();
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad(origin, "tensor '" + name + "' lacks dtype/shape/data_offsets");
    if (v["dtype"] != "F32") bad(origin, "tensor '" + name + "' has dtype " + v["dtype"].dump() + "; only F32 is supported");
    NamedTensor t;
    try {
      t.shape = v["shape"].get<std::vector<int64_t>>();
    } catch (const std::exception&) {
      bad(origin, "tensor '" + name + "' has a malformed shape");
    }
    size_t numel = 1;
    for (auto d : t.shape) {
      if (d < 0 || d > (int64_t(1) << 31)) bad(origin, "tensor '" + name + "' has a bad dimension");
      numel *= size_t(d);
    }
    const auto off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad(origin, "tensor '" + name + "' has malformed data_offsets");
    const uint64_t b = off[0], e = off[1];
    if (b > e || e > data_size) bad(origin, "tensor '" + name + "' data lies outside the file (truncated?)");
    if (e - b != numel * sizeof(float))
      bad(origin, "tensor '" + name + "' has " + std::to_string(e - b) + " bytes, shape " + shapeString(t.shape) + " needs " +
                      std::to_string(numel * sizeof(float)));
    t.data.resize(numel);
    if (numel) std::memcpy(t.data.data(), bytes.data() + data_start + b, numel * sizeof(float));
    m.tensors_.emplace(name, std::move(t));
  }
  if (m.tensors_.empty()) bad(origin, "contains no tensors");
  return m;
}

void ModelFile::add(const std::string& name, std::vector<int64_t> shape, std::vector<float> data) {
  NamedTensor t{std::move(shape), std::move(data)};
  if (t.numel() != t.data.size()) throw Error(Error::Code::kInvalidArgument, "tensor '" + name + "': data size does not match shape");
  tensors_[name] = std::move(t);
}

const NamedTensor& ModelFile::get(const std::string& name, const std::vector<int64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad(origin, "missing tensor '" + name + "' (wrong model file?)");
  if (it->second.shape != shape)
    bad(origin, "tensor '" + name + "' has shape " + shapeString(it->second.shape) + ", expected " + shapeString(shape));
  return it->second;
}

std::string ModelFile::serialize() const {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& [name, t] : tensors_) {  // std::map: deterministic order, so files are reproducible
    const uint64_t size = t.data.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h += ' ';  // align the data to 8 bytes, as safetensors writers do
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
  out += h;
  for (auto& [name, t] : tensors_) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  return out;
}

void ModelFile::save(const std::string& path) const {
  const std::string bytes = serialize();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(Error::Code::kIoError, "cannot write " + path + ": " + std::strerror(errno));
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw Error(Error::Code::kIoError, "error writing " + path);
}

}  // namespace facekit::engine
