// facekit engine layers: a small registry of the operators facekit's networks use.
//
// Every layer exists twice: a plain reference implementation (obvious loops, the ground
// truth) and a fast implementation (XNNPACK kernels). Both take the same parameters and must
// agree to 1e-4 relative; tests/test_layers.cpp checks that on random inputs with fixed seeds.
//
// Thread safety: a Layer object is not safe for concurrent forward() calls (the fast path keeps
// per-input-size state). Use one network instance per thread.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace facekit::engine {

enum class Backend { kReference, kFast };
const char* backendName(Backend b);

class ThreadPool;  // engine/thread_pool.hpp

// What a layer is and costs at one input shape, for reports (`facekit info`). Computed from the
// layer's parameters alone, so both backends report the same.
struct LayerSummary {
  std::string kernel;      // "3x3/2" (kh x kw / stride) for convolutions and pooling, else ""
  std::string activation;  // a fused output clamp: "relu", "relu6", "clamp[lo,hi]"; "" if none
  size_t parameters = 0;   // weights + biases (+ PReLU slopes)
  // Multiply-accumulates, counted as PyTorch FLOP counters (thop, fvcore) count "FLOPs":
  // conv out_h*out_w*out_c*kh*kw*in_c, depthwise out_h*out_w*C*kh*kw, FC in*out per item;
  // biases, activations, pooling and other elementwise work count 0.
  uint64_t macs = 0;
};

// The name LayerSummary::activation gives an output clamp [lo, hi].
std::string activationName(float lo, float hi);

class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* type() const = 0;
  // Output shape for an input shape; throws facekit::Error(kInvalidArgument) if the input
  // does not fit the layer (wrong channel count, smaller than the kernel, ...).
  virtual Shape outputShape(const Shape& in) const = 0;
  // Computes out from in. out is resized to outputShape(in.shape()). pool may be null.
  virtual void forward(const Tensor& in, Tensor& out, ThreadPool* pool) = 0;
  // Kernel, parameter count and MACs at input shape `in` (which must fit, as for outputShape).
  // The default suits layers without weights whose work is elementwise.
  virtual LayerSummary summary(const Shape& in) const { return {}; }
};

constexpr float kNoClamp = std::numeric_limits<float>::infinity();

// 2-D convolution, NHWC input, kernel in OHWI order [out_c][kh][kw][in_c], bias [out_c].
// Explicit zero padding; output size = (in + pad_before + pad_after - k) / stride + 1.
// out_min/out_max clamp the result after the bias: a fused activation (ReLU = [0, inf),
// ReLU6 = [0, 6]) that costs no extra pass over the output on the fast path. out_min < out_max.
struct Conv2dParams {
  int out_c = 0, kh = 0, kw = 0, in_c = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::vector<float> weights;  // out_c * kh * kw * in_c
  std::vector<float> bias;     // out_c
  float out_min = -kNoClamp, out_max = kNoClamp;
};
std::unique_ptr<Layer> makeConv2d(const Conv2dParams& p, Backend b);

// Parametric ReLU with one slope per channel: y = x > 0 ? x : slope[c] * x.
std::unique_ptr<Layer> makePReLU(const std::vector<float>& slope, Backend b);

// Max pooling without padding. ceil_mode = true reproduces Caffe's rounding (the one the
// original MTCNN was trained with): out = ceil((in - k) / s) + 1, the last window clipped at
// the border; ceil_mode = false floors. Input must be at least k x k.
struct MaxPoolParams {
  int kh = 2, kw = 2, stride_h = 2, stride_w = 2;
  bool ceil_mode = true;
};
std::unique_ptr<Layer> makeMaxPool(const MaxPoolParams& p, Backend b);

// Fully connected: each batch item's h*w*c values (NHWC order) are one input vector.
// weights [out][in], bias [out]; output {n, 1, 1, out}.
struct FullyConnectedParams {
  int in_features = 0, out_features = 0;
  std::vector<float> weights;
  std::vector<float> bias;
};
std::unique_ptr<Layer> makeFullyConnected(const FullyConnectedParams& p, Backend b);

// Softmax over the channel axis at every (n, y, x).
std::unique_ptr<Layer> makeSoftmax(Backend b);

// Depthwise 2-D convolution: one kh x kw filter per channel. weights [kh][kw][channels]
// (TensorFlow's [kh, kw, C, 1]), bias [channels]; explicit zero padding and fused output clamp
// as in Conv2dParams.
struct DepthwiseConv2dParams {
  int channels = 0, kh = 0, kw = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::vector<float> weights;
  std::vector<float> bias;
  float out_min = -kNoClamp, out_max = kNoClamp;
};
std::unique_ptr<Layer> makeDepthwiseConv2d(const DepthwiseConv2dParams& p, Backend b);

// Logistic sigmoid, elementwise.
std::unique_ptr<Layer> makeSigmoid(Backend b);

// Elementwise clamp to [min, max] (min < max; either may be infinite): an activation for
// graphs that keep it apart from the convolution (fusing it there is cheaper).
std::unique_ptr<Layer> makeClamp(float min, float max, Backend b);

// Zero padding of the channel axis: `before` zeros, the input channels, `after` zeros.
std::unique_ptr<Layer> makeChannelPad(int before, int after, Backend b);

// Elementwise sum of two tensors of equal shape (residual connections).
class BinaryLayer {
 public:
  virtual ~BinaryLayer() = default;
  virtual const char* type() const = 0;
  virtual Shape outputShape(const Shape& a, const Shape& b) const = 0;
  virtual void forward(const Tensor& a, const Tensor& b, Tensor& out, ThreadPool* pool) = 0;
};
std::unique_ptr<BinaryLayer> makeAdd(Backend b);

// Numerically stable in-place softmax over n values (shared by the layer and by pipelines
// that apply softmax to a slice of a fused output).
void softmaxInPlace(float* v, int n);

// A chain of layers with two ping-pong buffers. Not thread-safe (see above).
class Sequential {
 public:
  void add(std::unique_ptr<Layer> layer) { layers_.push_back(std::move(layer)); }
  Shape outputShape(Shape in) const;
  // Runs all layers; returns a reference to an internal buffer valid until the next call.
  const Tensor& forward(const Tensor& in, ThreadPool* pool) { return forward(in, pool, buf_); }
  // The same with caller-owned ping-pong buffers, so several networks can share one workspace;
  // the result lives in one of them.
  const Tensor& forward(const Tensor& in, ThreadPool* pool, Tensor (&scratch)[2]);
  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_[i]; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  Tensor buf_[2];
};

}  // namespace facekit::engine
