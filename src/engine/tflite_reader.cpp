#include "engine/tflite_reader.hpp"

#include <algorithm>
#include <cstring>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"

namespace facekit::engine::tflite {
namespace {

// Bounds-checked view of a FlatBuffer. A table starts with an int32 offset back to its
// vtable; the vtable lists uint16 field offsets (0 = absent). Reference fields hold a uint32
// offset relative to their own position. Vectors and strings start with a uint32 length.
class Fb {
 public:
  Fb(const std::string& b, const std::string& origin) : b_(b), origin_(origin) {}

  uint32_t u32(size_t o) const { return read<uint32_t>(o); }
  int32_t i32(size_t o) const { return read<int32_t>(o); }
  uint16_t u16(size_t o) const { return read<uint16_t>(o); }
  uint8_t u8(size_t o) const { return read<uint8_t>(o); }

  // Absolute position of field `i` of the table at `t`, or 0 if the field is absent.
  size_t field(size_t t, int i) const {
    const int64_t vt = int64_t(t) - i32(t);
    if (vt < 0) fail("bad vtable offset");
    const uint16_t vsize = u16(size_t(vt));
    const size_t entry = 4 + 2 * size_t(i);
    if (entry + 2 > vsize) return 0;
    const uint16_t off = u16(size_t(vt) + entry);
    return off ? t + off : 0;
  }
  size_t deref(size_t at) const {
    const size_t r = at + u32(at);
    if (r >= b_.size()) fail("reference out of range");
    return r;
  }
  // Vector field: (position of first element, length), or (0,0) when absent.
  std::pair<size_t, uint32_t> vec(size_t t, int i, size_t elem_size) const {
    const size_t f = field(t, i);
    if (!f) return {0, 0};
    const size_t v = deref(f);
    const uint32_t n = u32(v);
    if (v + 4 + size_t(n) * elem_size > b_.size()) fail("vector runs past the end of the file (truncated?)");
    return {v + 4, n};
  }
  std::vector<size_t> tables(size_t t, int i) const {
    auto [p, n] = vec(t, i, 4);
    std::vector<size_t> r;
    for (uint32_t k = 0; k < n; ++k) r.push_back(deref(p + 4 * k));
    return r;
  }
  std::vector<int32_t> ints(size_t t, int i) const {
    auto [p, n] = vec(t, i, 4);
    std::vector<int32_t> r;
    for (uint32_t k = 0; k < n; ++k) r.push_back(i32(p + 4 * k));
    return r;
  }
  std::string str(size_t t, int i) const {
    auto [p, n] = vec(t, i, 1);
    return p ? b_.substr(p, n) : std::string();
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Error::Code::kBadModel, "TFLite file " + origin_ + ": " + what);
  }

 private:
  template <typename T>
  T read(size_t o) const {
    if (o + sizeof(T) > b_.size()) fail("offset out of range (truncated file?)");
    T v;
    std::memcpy(&v, b_.data() + o, sizeof(T));
    return v;
  }
  const std::string& b_;
  const std::string& origin_;
};

}  // namespace

Model parse(const std::string& bytes, const std::string& origin) {
  Fb fb(bytes, origin);
  if (bytes.size() < 8 || bytes.compare(4, 4, "TFL3") != 0) fb.fail("not a TFLite model (no TFL3 identifier)");
  Model m;
  m.origin = origin;
  const size_t root = fb.deref(0);
  // Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers.
  if (size_t f = fb.field(root, 0)) m.version = fb.u32(f);
  std::vector<int> opcodes;
  for (size_t oc : fb.tables(root, 1)) {
    // OperatorCode: 0 deprecated_builtin_code (int8), 3 builtin_code (int32); the larger wins.
    int dep = 0, code = 0;
    if (size_t f = fb.field(oc, 0)) dep = int8_t(fb.u8(f));
    if (size_t f = fb.field(oc, 3)) code = fb.i32(f);
    opcodes.push_back(std::max(dep, code));
  }
  std::vector<std::pair<size_t, uint32_t>> buffers;
  for (size_t b : fb.tables(root, 4)) buffers.push_back(fb.vec(b, 0, 1));  // Buffer: 0 data
  const auto subgraphs = fb.tables(root, 2);
  if (subgraphs.empty()) fb.fail("no subgraph");
  const size_t sg = subgraphs[0];
  // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators.
  for (size_t t : fb.tables(sg, 0)) {
    // Tensor: 0 shape, 1 type, 2 buffer, 3 name.
    Tensor x;
    x.shape = fb.ints(t, 0);
    if (size_t f = fb.field(t, 1)) x.type = fb.u8(f);
    uint32_t buf = 0;
    if (size_t f = fb.field(t, 2)) buf = fb.u32(f);
    x.name = fb.str(t, 3);
    if (buf >= buffers.size() && buf != 0) fb.fail("tensor '" + x.name + "' names buffer " + std::to_string(buf) + " that does not exist");
    if (buf < buffers.size() && buffers[buf].second)
      x.data.assign(bytes.begin() + long(buffers[buf].first), bytes.begin() + long(buffers[buf].first + buffers[buf].second));
    m.tensors.push_back(std::move(x));
  }
  m.inputs = fb.ints(sg, 1);
  m.outputs = fb.ints(sg, 2);
  for (size_t o : fb.tables(sg, 3)) {
    // Operator: 0 opcode_index, 1 inputs, 2 outputs.
    Operator op;
    uint32_t idx = 0;
    if (size_t f = fb.field(o, 0)) idx = fb.u32(f);
    if (idx >= opcodes.size()) fb.fail("operator refers to a missing opcode");
    op.builtin_code = opcodes[idx];
    op.inputs = fb.ints(o, 1);
    op.outputs = fb.ints(o, 2);
    for (int32_t i : op.inputs)
      if (i >= int32_t(m.tensors.size())) fb.fail("operator refers to a missing tensor");
    m.operators.push_back(std::move(op));
  }
  return m;
}

Model load(const std::string& path) { return parse(readFileBytes(path), path); }

const Tensor& Model::tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  throw Error(Error::Code::kBadModel, "TFLite file " + origin + ": no tensor named '" + name + "'");
}

std::vector<float> Model::floats(const std::string& name) const {
  const Tensor& t = tensor(name);
  if (t.type != int(TensorType::kFloat32)) throw Error(Error::Code::kBadModel, "TFLite file " + origin + ": tensor '" + name + "' is not float32");
  // The element count without overflow (a shape like [2^31, 2^31, 5] wraps to 0 bytes in 64 bits).
  uint64_t numel = 1;
  bool too_big = false;
  for (auto d : t.shape) {
    if (d < 0) throw Error(Error::Code::kBadModel, "TFLite file " + origin + ": tensor '" + name + "' has a negative dimension");
    if (__builtin_mul_overflow(numel, uint64_t(d), &numel) || numel > t.data.size()) too_big = true;
  }
  if (numel == 0) too_big = false;
  if (too_big || t.data.size() != numel * 4)
    throw Error(Error::Code::kBadModel, "TFLite file " + origin + ": tensor '" + name + "' has " + std::to_string(t.data.size()) +
                                            " bytes of data, which does not match its shape");
  std::vector<float> v(numel);
  if (numel) std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

}  // namespace facekit::engine::tflite
