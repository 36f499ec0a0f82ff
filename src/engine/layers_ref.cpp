// Reference layers: direct loops written for clarity, accumulated in double. They define the
// expected result for the fast layers' parity tests; speed does not matter here.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/layers_impl.hpp"

namespace facekit::engine::detail {
namespace {

// Calls tap(iy, ix, ky, kx) for each kernel tap of output pixel (oy, ox) that lands inside the
// input; taps on the zero padding contribute nothing and are skipped.
template <typename P, typename Tap>
void forEachTap(const P& p, const Shape& is, int oy, int ox, Tap tap) {
  for (int ky = 0; ky < p.kh; ++ky) {
    const int iy = oy * p.stride_h + ky - p.pad_top;
    if (iy < 0 || iy >= is.h) continue;
    for (int kx = 0; kx < p.kw; ++kx) {
      const int ix = ox * p.stride_w + kx - p.pad_left;
      if (ix >= 0 && ix < is.w) tap(iy, ix, ky, kx);
    }
  }
}

// The fused activation of the convolutions and the Clamp layer.
float clamp(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

class RefConv2d final : public Conv2dBase {
 public:
  using Conv2dBase::Conv2dBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape is = in.shape(), os = outputShape(is);
    out.resize(os);
    for (int n = 0; n < os.n; ++n)
      for (int oy = 0; oy < os.h; ++oy)
        for (int ox = 0; ox < os.w; ++ox)
          for (int o = 0; o < os.c; ++o) {
            double acc = p_.bias[o];
            forEachTap(p_, is, oy, ox, [&](int iy, int ix, int ky, int kx) {
              const float* w = &p_.weights[((size_t(o) * p_.kh + ky) * p_.kw + kx) * p_.in_c];
              for (int i = 0; i < p_.in_c; ++i) acc += double(w[i]) * in.at(n, iy, ix, i);
            });
            out.at(n, oy, ox, o) = clamp(float(acc), p_.out_min, p_.out_max);
          }
  }
};

class RefPReLU final : public PReLUBase {
 public:
  using PReLUBase::PReLUBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape s = outputShape(in.shape());
    out.resize(s);
    for (int n = 0; n < s.n; ++n)
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x)
          for (int c = 0; c < s.c; ++c) {
            const float v = in.at(n, y, x, c);
            out.at(n, y, x, c) = v > 0.f ? v : slope_[c] * v;
          }
  }
};

class RefMaxPool final : public MaxPoolBase {
 public:
  using MaxPoolBase::MaxPoolBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape is = in.shape(), os = outputShape(is);
    out.resize(os);
    for (int n = 0; n < os.n; ++n)
      for (int oy = 0; oy < os.h; ++oy)
        for (int ox = 0; ox < os.w; ++ox)
          for (int c = 0; c < os.c; ++c) {
            float m = -std::numeric_limits<float>::infinity();
            // Windows that run past the border (ceil mode) use only the pixels inside.
            for (int y = oy * p_.stride_h; y < std::min(oy * p_.stride_h + p_.kh, is.h); ++y)
              for (int x = ox * p_.stride_w; x < std::min(ox * p_.stride_w + p_.kw, is.w); ++x)
                m = std::max(m, in.at(n, y, x, c));
            out.at(n, oy, ox, c) = m;
          }
  }
};

class RefFullyConnected final : public FullyConnectedBase {
 public:
  using FullyConnectedBase::FullyConnectedBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape os = outputShape(in.shape());
    out.resize(os);
    for (int n = 0; n < os.n; ++n) {
      const float* x = in.data() + size_t(n) * p_.in_features;
      for (int o = 0; o < p_.out_features; ++o) {
        double acc = p_.bias[o];
        const float* w = &p_.weights[size_t(o) * p_.in_features];
        for (int i = 0; i < p_.in_features; ++i) acc += double(w[i]) * x[i];
        out.data()[size_t(n) * p_.out_features + o] = float(acc);
      }
    }
  }
};

class RefSoftmax final : public SoftmaxBase {
 public:
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape s = outputShape(in.shape());
    out.resize(s);
    const size_t rows = size_t(s.n) * s.h * s.w;
    for (size_t r = 0; r < rows; ++r) {
      const float* x = in.data() + r * s.c;
      double m = x[0], sum = 0.0;
      for (int c = 1; c < s.c; ++c) m = std::max<double>(m, x[c]);
      for (int c = 0; c < s.c; ++c) sum += std::exp(double(x[c]) - m);
      for (int c = 0; c < s.c; ++c) out.data()[r * s.c + c] = float(std::exp(double(x[c]) - m) / sum);
    }
  }
};

class RefDepthwiseConv2d final : public DepthwiseConv2dBase {
 public:
  using DepthwiseConv2dBase::DepthwiseConv2dBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape is = in.shape(), os = outputShape(is);
    out.resize(os);
    for (int n = 0; n < os.n; ++n)
      for (int oy = 0; oy < os.h; ++oy)
        for (int ox = 0; ox < os.w; ++ox)
          for (int c = 0; c < os.c; ++c) {
            double acc = p_.bias[c];
            forEachTap(p_, is, oy, ox, [&](int iy, int ix, int ky, int kx) {
              acc += double(p_.weights[(size_t(ky) * p_.kw + kx) * p_.channels + c]) * in.at(n, iy, ix, c);
            });
            out.at(n, oy, ox, c) = clamp(float(acc), p_.out_min, p_.out_max);
          }
  }
};

class RefSigmoid final : public SigmoidBase {
 public:
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    out.resize(in.shape());
    for (size_t i = 0; i < in.numel(); ++i) out.data()[i] = float(1.0 / (1.0 + std::exp(-double(in.data()[i]))));
  }
};

class RefClamp final : public ClampBase {
 public:
  using ClampBase::ClampBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    out.resize(in.shape());
    for (size_t i = 0; i < in.numel(); ++i) out.data()[i] = clamp(in.data()[i], min_, max_);
  }
};

class RefChannelPad final : public ChannelPadBase {
 public:
  using ChannelPadBase::ChannelPadBase;
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape is = in.shape(), os = outputShape(is);
    out.resize(os);
    for (int n = 0; n < os.n; ++n)
      for (int y = 0; y < os.h; ++y)
        for (int x = 0; x < os.w; ++x)
          for (int c = 0; c < os.c; ++c) {
            const int ic = c - before_;
            out.at(n, y, x, c) = ic >= 0 && ic < is.c ? in.at(n, y, x, ic) : 0.f;
          }
  }
};

class RefAdd final : public AddBase {
 public:
  void forward(const Tensor& a, const Tensor& b, Tensor& out, ThreadPool*) override {
    out.resize(outputShape(a.shape(), b.shape()));
    for (size_t i = 0; i < a.numel(); ++i) out.data()[i] = a.data()[i] + b.data()[i];
  }
};

}  // namespace

std::unique_ptr<Layer> makeRefDepthwiseConv2d(const DepthwiseConv2dParams& p) { return std::make_unique<RefDepthwiseConv2d>(p); }
std::unique_ptr<Layer> makeRefSigmoid() { return std::make_unique<RefSigmoid>(); }
std::unique_ptr<Layer> makeRefClamp(float min, float max) { return std::make_unique<RefClamp>(min, max); }
std::unique_ptr<Layer> makeRefChannelPad(int before, int after) { return std::make_unique<RefChannelPad>(before, after); }
std::unique_ptr<BinaryLayer> makeRefAdd() { return std::make_unique<RefAdd>(); }

std::unique_ptr<Layer> makeRefConv2d(const Conv2dParams& p) { return std::make_unique<RefConv2d>(p); }
std::unique_ptr<Layer> makeRefPReLU(const std::vector<float>& s) { return std::make_unique<RefPReLU>(s); }
std::unique_ptr<Layer> makeRefMaxPool(const MaxPoolParams& p) { return std::make_unique<RefMaxPool>(p); }
std::unique_ptr<Layer> makeRefFullyConnected(const FullyConnectedParams& p) { return std::make_unique<RefFullyConnected>(p); }
std::unique_ptr<Layer> makeRefSoftmax() { return std::make_unique<RefSoftmax>(); }

}  // namespace facekit::engine::detail
