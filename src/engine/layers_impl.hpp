// Internal: parameter validation and shape logic shared by the reference and fast layers, so
// the two implementations differ only in how they compute, never in what they accept.
#pragma once

#include <string>

#include "engine/layers.hpp"
#include "facekit/error.hpp"

namespace facekit::engine::detail {

[[noreturn]] inline void badShape(const char* layer, const std::string& what) {
  throw Error(Error::Code::kInvalidArgument, std::string(layer) + ": " + what);
}

class Conv2dBase : public Layer {
 public:
  explicit Conv2dBase(const Conv2dParams& p);
  const char* type() const override { return "Conv2d"; }
  Shape outputShape(const Shape& in) const override;
  LayerSummary summary(const Shape& in) const override;

 protected:
  Conv2dParams p_;
};

class PReLUBase : public Layer {
 public:
  explicit PReLUBase(const std::vector<float>& slope);
  const char* type() const override { return "PReLU"; }
  Shape outputShape(const Shape& in) const override;
  LayerSummary summary(const Shape& in) const override;

 protected:
  std::vector<float> slope_;
};

class MaxPoolBase : public Layer {
 public:
  explicit MaxPoolBase(const MaxPoolParams& p);
  const char* type() const override { return "MaxPool"; }
  Shape outputShape(const Shape& in) const override;
  LayerSummary summary(const Shape& in) const override;

 protected:
  MaxPoolParams p_;
};

class FullyConnectedBase : public Layer {
 public:
  explicit FullyConnectedBase(const FullyConnectedParams& p);
  const char* type() const override { return "FullyConnected"; }
  Shape outputShape(const Shape& in) const override;
  LayerSummary summary(const Shape& in) const override;

 protected:
  FullyConnectedParams p_;
};

class SoftmaxBase : public Layer {
 public:
  const char* type() const override { return "Softmax"; }
  Shape outputShape(const Shape& in) const override;
};

class DepthwiseConv2dBase : public Layer {
 public:
  explicit DepthwiseConv2dBase(const DepthwiseConv2dParams& p);
  const char* type() const override { return "DepthwiseConv2d"; }
  Shape outputShape(const Shape& in) const override;
  LayerSummary summary(const Shape& in) const override;

 protected:
  DepthwiseConv2dParams p_;
};

class SigmoidBase : public Layer {
 public:
  const char* type() const override { return "Sigmoid"; }
  Shape outputShape(const Shape& in) const override { return in; }
};

class ClampBase : public Layer {
 public:
  ClampBase(float min, float max);
  const char* type() const override { return "Clamp"; }
  Shape outputShape(const Shape& in) const override { return in; }
  LayerSummary summary(const Shape& in) const override;

 protected:
  float min_, max_;
};

class ChannelPadBase : public Layer {
 public:
  ChannelPadBase(int before, int after);
  const char* type() const override { return "ChannelPad"; }
  Shape outputShape(const Shape& in) const override { return {in.n, in.h, in.w, in.c + before_ + after_}; }

 protected:
  int before_, after_;
};

class AddBase : public BinaryLayer {
 public:
  const char* type() const override { return "Add"; }
  Shape outputShape(const Shape& a, const Shape& b) const override;
};

// Reference implementations (layers_ref.cpp).
std::unique_ptr<Layer> makeRefDepthwiseConv2d(const DepthwiseConv2dParams& p);
std::unique_ptr<Layer> makeRefSigmoid();
std::unique_ptr<Layer> makeRefClamp(float min, float max);
std::unique_ptr<Layer> makeRefChannelPad(int before, int after);
std::unique_ptr<BinaryLayer> makeRefAdd();
std::unique_ptr<Layer> makeRefConv2d(const Conv2dParams& p);
std::unique_ptr<Layer> makeRefPReLU(const std::vector<float>& slope);
std::unique_ptr<Layer> makeRefMaxPool(const MaxPoolParams& p);
std::unique_ptr<Layer> makeRefFullyConnected(const FullyConnectedParams& p);
std::unique_ptr<Layer> makeRefSoftmax();

// Fast implementations (layers_xnnpack.cpp).
std::unique_ptr<Layer> makeXnnConv2d(const Conv2dParams& p);
std::unique_ptr<Layer> makeXnnPReLU(const std::vector<float>& slope);
std::unique_ptr<Layer> makeXnnMaxPool(const MaxPoolParams& p);
std::unique_ptr<Layer> makeXnnFullyConnected(const FullyConnectedParams& p);
std::unique_ptr<Layer> makeFastSoftmax();
std::unique_ptr<Layer> makeXnnDepthwiseConv2d(const DepthwiseConv2dParams& p);
std::unique_ptr<Layer> makeXnnSigmoid();
std::unique_ptr<Layer> makeXnnClamp(float min, float max);
std::unique_ptr<Layer> makeXnnChannelPad(int before, int after);
std::unique_ptr<BinaryLayer> makeXnnAdd();

}  // namespace facekit::engine::detail
