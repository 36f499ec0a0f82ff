#include "engine/model_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
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

std::string readFileBytes(const std::string& path) { return readFileBytes(path, UINT64_MAX); }

std::string readFileBytes(const std::string& path, uint64_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(Error::Code::kIoError, "cannot open " + path + ": " + std::strerror(errno));
  auto too_big = [&] {
    throw Error(Error::Code::kIoError, path + ": file is larger than " + std::to_string(max_bytes) + " bytes");
  };
  std::string out;
  std::error_code ec;
  const auto size = std::filesystem::is_regular_file(path, ec) ? std::filesystem::file_size(path, ec) : uintmax_t(0);
  if (!ec && size > max_bytes) too_big();
  if (!ec && size) out.reserve(size_t(size));
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    out.append(buf, size_t(f.gcount()));
    if (out.size() > max_bytes) too_big();
  }
  if (f.bad()) throw Error(Error::Code::kIoError, "cannot read " + path);
  return out;
}

void writeFileAtomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // A name no other writer uses: process id, a per-process counter and the time.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                                  std::to_string(counter++) + "-" +
                                  std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000)))
                              .string();
  auto fail = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
    throw Error(Error::Code::kIoError, "cannot write " + path + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);  // mode as umask allows, like ofstream
  if (fd < 0) throw Error(Error::Code::kIoError, "cannot write " + path + ": " + std::strerror(errno));
  long pause_ms = 0;
  if (const char* e = std::getenv("FACEKIT_TEST_WRITE_PAUSE_MS")) pause_ms = std::atol(e);
  size_t done = 0;
  while (done < bytes.size()) {
    size_t n = bytes.size() - done;
    if (pause_ms > 0 && done < bytes.size() / 2) n = bytes.size() / 2 - done;
    const ssize_t w = ::write(fd, bytes.data() + done, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      fail("write error", w < 0 ? err : 0);
    }
    done += size_t(w);
    if (pause_ms > 0 && done == bytes.size() / 2) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync", err);
  }
  if (::close(fd) != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
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
    // The element count, without overflow: a header may claim terabytes (e.g. [2^31, 2^31, 4],
    // whose byte count wraps to 0 in 64 bits); anything beyond the file's data is refused here.
    uint64_t numel = 1;
    bool zero = false, too_big = false;
    for (auto d : t.shape) {
      if (d < 0 || d > (int64_t(1) << 31)) bad(origin, "tensor '" + name + "' has a bad dimension");
      if (d == 0) zero = true;
      else if (__builtin_mul_overflow(numel, uint64_t(d), &numel) || numel > data_size / sizeof(float)) too_big = true;
    }
    if (zero) numel = 0;
    else if (too_big)
      bad(origin, "tensor '" + name + "' has shape " + shapeString(t.shape) + ", more data than the file's " + std::to_string(data_size) +
                      " bytes (truncated or corrupt)");
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

void ModelFile::save(const std::string& path) const { writeFileAtomically(path, serialize()); }

}  // namespace facekit::engine
