// Dense float32 tensors for facekit's inference engine.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace facekit::engine {

// Shape of an NHWC tensor: batch, height, width, channels. NHWC is the layout of TFLite
// weights and of XNNPACK's kernels, so no layout conversion is needed on the fast path.
// A fully connected activation is {n, 1, 1, c}.
struct Shape {
  int n = 0, h = 0, w = 0, c = 0;
  size_t numel() const { return size_t(n) * size_t(h) * size_t(w) * size_t(c); }
  bool operator==(const Shape& o) const { return n == o.n && h == o.h && w == o.w && c == o.c; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;
};

// Owning NHWC float32 tensor. The buffer has kTailPadding spare floats at its end because
// XNNPACK kernels may read (never use) up to 16 bytes past the last element.
class Tensor {
 public:
  static constexpr size_t kTailPadding = 16;

  Tensor() = default;
  explicit Tensor(Shape s) { resize(s); }

  // Changes the shape; keeps capacity so ping-pong buffers stop allocating after warm-up.
  void resize(Shape s) {
    shape_ = s;
    data_.resize(s.numel() + kTailPadding);
  }
  const Shape& shape() const { return shape_; }
  size_t numel() const { return shape_.numel(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& at(int n, int y, int x, int c) { return data_[index(n, y, x, c)]; }
  float at(int n, int y, int x, int c) const { return data_[index(n, y, x, c)]; }

 private:
  size_t index(int n, int y, int x, int c) const {
    return ((size_t(n) * shape_.h + y) * shape_.w + x) * shape_.c + c;
  }
  Shape shape_;
  std::vector<float> data_;
};

}  // namespace facekit::engine
