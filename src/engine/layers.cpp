#include "engine/layers.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/layers_impl.hpp"

namespace facekit::engine {

std::string Shape::str() const {
  return "[" + std::to_string(n) + "," + std::to_string(h) + "," + std::to_string(w) + "," + std::to_string(c) + "]";
}

const char* backendName(Backend b) { return b == Backend::kReference ? "reference" : "fast"; }

std::string activationName(float lo, float hi) {
  if (lo == -kNoClamp && hi == kNoClamp) return "";
  if (lo == 0.f && hi == kNoClamp) return "relu";
  if (lo == 0.f && hi == 6.f) return "relu6";
  std::ostringstream s;
  s << "clamp[" << lo << "," << hi << "]";
  return s.str();
}

namespace detail {

namespace {
// The geometry checks and the output size shared by every convolution: in.c must be `channels`,
// the padded input must hold the kernel.
// The fused clamp must be a non-empty range (XNNPACK refuses min >= max, so the reference
// refuses it too); NaN fails both comparisons and is refused with it.
void checkClampRange(const char* layer, float lo, float hi) {
  if (!(lo < hi)) badShape(layer, "output clamp [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is empty");
}

template <typename P>
void checkConvGeometry(const char* layer, const P& p) {
  if (p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0 || p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 ||
      p.pad_right < 0)
    badShape(layer, "invalid parameters");
  checkClampRange(layer, p.out_min, p.out_max);
}

std::string kernelString(int kh, int kw, int sh, int sw) {
  std::string s = std::to_string(kh) + "x" + std::to_string(kw) + "/" + std::to_string(sh);
  return sh == sw ? s : s + "x" + std::to_string(sw);
}

template <typename P>
Shape convOutput(const char* layer, const P& p, const Shape& in, int channels, int out_c) {
  if (in.c != channels) badShape(layer, "input has " + std::to_string(in.c) + " channels, expected " + std::to_string(channels));
  const int ph = in.h + p.pad_top + p.pad_bottom, pw = in.w + p.pad_left + p.pad_right;
  if (in.n <= 0 || ph < p.kh || pw < p.kw) badShape(layer, "input " + in.str() + " smaller than the kernel");
  return {in.n, (ph - p.kh) / p.stride_h + 1, (pw - p.kw) / p.stride_w + 1, out_c};
}
}  // namespace

Conv2dBase::Conv2dBase(const Conv2dParams& p) : p_(p) {
  checkConvGeometry("Conv2d", p);
  if (p.out_c <= 0 || p.in_c <= 0) badShape("Conv2d", "invalid parameters");
  if (p.weights.size() != size_t(p.out_c) * p.kh * p.kw * p.in_c)
    badShape("Conv2d", "weights have " + std::to_string(p.weights.size()) + " values, expected out*kh*kw*in = " +
                           std::to_string(size_t(p.out_c) * p.kh * p.kw * p.in_c));
  if (p.bias.size() != size_t(p.out_c)) badShape("Conv2d", "bias size != out_c");
}

Shape Conv2dBase::outputShape(const Shape& in) const { return convOutput("Conv2d", p_, in, p_.in_c, p_.out_c); }

LayerSummary Conv2dBase::summary(const Shape& in) const {
  const Shape o = outputShape(in);
  return {kernelString(p_.kh, p_.kw, p_.stride_h, p_.stride_w), activationName(p_.out_min, p_.out_max),
          p_.weights.size() + p_.bias.size(), uint64_t(o.numel()) * p_.kh * p_.kw * p_.in_c};
}

PReLUBase::PReLUBase(const std::vector<float>& slope) : slope_(slope) {
  if (slope.empty()) badShape("PReLU", "empty slope");
}

Shape PReLUBase::outputShape(const Shape& in) const {
  if (in.c != int(slope_.size())) badShape("PReLU", "input has " + std::to_string(in.c) + " channels, slope has " + std::to_string(slope_.size()));
  return in;
}

LayerSummary PReLUBase::summary(const Shape& in) const {
  outputShape(in);
  return {"", "", slope_.size(), 0};
}

MaxPoolBase::MaxPoolBase(const MaxPoolParams& p) : p_(p) {
  if (p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0) badShape("MaxPool", "invalid parameters");
}

static int pooledSize(int in, int k, int s, bool ceil_mode) {
  const int span = in - k;
  return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

Shape MaxPoolBase::outputShape(const Shape& in) const {
  if (in.n <= 0 || in.c <= 0 || in.h < p_.kh || in.w < p_.kw) badShape("MaxPool", "input " + in.str() + " smaller than the window");
  return {in.n, pooledSize(in.h, p_.kh, p_.stride_h, p_.ceil_mode), pooledSize(in.w, p_.kw, p_.stride_w, p_.ceil_mode), in.c};
}

LayerSummary MaxPoolBase::summary(const Shape& in) const {
  outputShape(in);
  return {kernelString(p_.kh, p_.kw, p_.stride_h, p_.stride_w), "", 0, 0};
}

FullyConnectedBase::FullyConnectedBase(const FullyConnectedParams& p) : p_(p) {
  if (p.in_features <= 0 || p.out_features <= 0) badShape("FullyConnected", "invalid parameters");
  if (p.weights.size() != size_t(p.in_features) * p.out_features) badShape("FullyConnected", "weights size != out*in");
  if (p.bias.size() != size_t(p.out_features)) badShape("FullyConnected", "bias size != out");
}

Shape FullyConnectedBase::outputShape(const Shape& in) const {
  if (size_t(in.h) * in.w * in.c != size_t(p_.in_features))
    badShape("FullyConnected", "input " + in.str() + " has " + std::to_string(size_t(in.h) * in.w * in.c) +
                                   " features per item, expected " + std::to_string(p_.in_features));
  return {in.n, 1, 1, p_.out_features};
}

LayerSummary FullyConnectedBase::summary(const Shape& in) const {
  const Shape o = outputShape(in);
  return {"", "", p_.weights.size() + p_.bias.size(), uint64_t(o.n) * p_.in_features * p_.out_features};
}

Shape SoftmaxBase::outputShape(const Shape& in) const {
  if (in.c <= 0) badShape("Softmax", "no channels");
  return in;
}

DepthwiseConv2dBase::DepthwiseConv2dBase(const DepthwiseConv2dParams& p) : p_(p) {
  checkConvGeometry("DepthwiseConv2d", p);
  if (p.channels <= 0) badShape("DepthwiseConv2d", "invalid parameters");
  if (p.weights.size() != size_t(p.kh) * p.kw * p.channels) badShape("DepthwiseConv2d", "weights size != kh*kw*channels");
  if (p.bias.size() != size_t(p.channels)) badShape("DepthwiseConv2d", "bias size != channels");
}

Shape DepthwiseConv2dBase::outputShape(const Shape& in) const {
  return convOutput("DepthwiseConv2d", p_, in, p_.channels, p_.channels);
}

LayerSummary DepthwiseConv2dBase::summary(const Shape& in) const {
  const Shape o = outputShape(in);
  return {kernelString(p_.kh, p_.kw, p_.stride_h, p_.stride_w), activationName(p_.out_min, p_.out_max),
          p_.weights.size() + p_.bias.size(), uint64_t(o.numel()) * p_.kh * p_.kw};
}

ClampBase::ClampBase(float min, float max) : min_(min), max_(max) { checkClampRange("Clamp", min, max); }

LayerSummary ClampBase::summary(const Shape&) const { return {"", activationName(min_, max_), 0, 0}; }

ChannelPadBase::ChannelPadBase(int before, int after) : before_(before), after_(after) {
  if (before < 0 || after < 0) badShape("ChannelPad", "negative padding");
}

Shape AddBase::outputShape(const Shape& a, const Shape& b) const {
  if (a != b) badShape("Add", "shapes differ: " + a.str() + " vs " + b.str());
  return a;
}

}  // namespace detail

void softmaxInPlace(float* v, int n) {
  float m = v[0];
  for (int i = 1; i < n; ++i) m = std::max(m, v[i]);
  float sum = 0.f;
  for (int i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - m));
  const float inv = 1.f / sum;
  for (int i = 0; i < n; ++i) v[i] *= inv;
}

std::unique_ptr<Layer> makeConv2d(const Conv2dParams& p, Backend b) {
  return b == Backend::kReference ? detail::makeRefConv2d(p) : detail::makeXnnConv2d(p);
}
std::unique_ptr<Layer> makePReLU(const std::vector<float>& slope, Backend b) {
  return b == Backend::kReference ? detail::makeRefPReLU(slope) : detail::makeXnnPReLU(slope);
}
std::unique_ptr<Layer> makeMaxPool(const MaxPoolParams& p, Backend b) {
  return b == Backend::kReference ? detail::makeRefMaxPool(p) : detail::makeXnnMaxPool(p);
}
std::unique_ptr<Layer> makeFullyConnected(const FullyConnectedParams& p, Backend b) {
  return b == Backend::kReference ? detail::makeRefFullyConnected(p) : detail::makeXnnFullyConnected(p);
}
std::unique_ptr<Layer> makeSoftmax(Backend b) {
  return b == Backend::kReference ? detail::makeRefSoftmax() : detail::makeFastSoftmax();
}

std::unique_ptr<Layer> makeDepthwiseConv2d(const DepthwiseConv2dParams& p, Backend b) {
  return b == Backend::kReference ? detail::makeRefDepthwiseConv2d(p) : detail::makeXnnDepthwiseConv2d(p);
}
std::unique_ptr<Layer> makeSigmoid(Backend b) {
  return b == Backend::kReference ? detail::makeRefSigmoid() : detail::makeXnnSigmoid();
}
std::unique_ptr<Layer> makeClamp(float min, float max, Backend b) {
  return b == Backend::kReference ? detail::makeRefClamp(min, max) : detail::makeXnnClamp(min, max);
}
std::unique_ptr<Layer> makeChannelPad(int before, int after, Backend b) {
  return b == Backend::kReference ? detail::makeRefChannelPad(before, after) : detail::makeXnnChannelPad(before, after);
}
std::unique_ptr<BinaryLayer> makeAdd(Backend b) { return b == Backend::kReference ? detail::makeRefAdd() : detail::makeXnnAdd(); }

Shape Sequential::outputShape(Shape in) const {
  for (const auto& l : layers_) in = l->outputShape(in);
  return in;
}

const Tensor& Sequential::forward(const Tensor& in, ThreadPool* pool, Tensor (&scratch)[2]) {
  const Tensor* src = &in;
  int next = 0;
  for (auto& l : layers_) {
    Tensor& dst = scratch[next];
    l->forward(*src, dst, pool);
    src = &dst;
    next ^= 1;
  }
  return *src;
}

}  // namespace facekit::engine
