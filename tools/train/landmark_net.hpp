// The facekit-106 network in libtorch: a MobileNetV1-style stem (3x3 convolution, 3x3 depthwise,
// both stride 2), MobileNetV2 inverted residual stages (1x1 expand, 3x3 depthwise, 1x1 project,
// ReLU6, residual when shapes allow), a 3x3 stride-2 head convolution and a fully connected
// output (a 3x3 convolution over the final 3x3 map) of 215 values: 106 (x, y) pairs in crop
// units [0, 1], then pitch, yaw, roll in units of 90 degrees (roll relative to the crop).
//
// Every convolution but the last is followed by batch normalisation, which export folds into
// the convolution's weights and bias. The exported file is a facekit graph model
// (docs/model-format.md) that the engine runs without libtorch.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/model_file.hpp"
#include "models/landmarks/crop106.hpp"

namespace facekit::train {

struct NetSpec {
  int input_size = 96;
  int stem = 16;
  std::vector<std::vector<int>> stages = {{2, 24, 1, 1}, {2, 32, 2, 2}, {3, 64, 4, 2}};  // expansion t, channels, blocks, stride
  int head = 64;
  int outputs = 215;
};

constexpr float kPoseUnitDegrees = 90.f;

class LandmarkNetImpl : public torch::nn::Module {
 public:
  explicit LandmarkNetImpl(const NetSpec& spec);
  torch::Tensor forward(torch::Tensor x);  // [N, 3, S, S] -> [N, 215]

  // The facekit graph model (BN folded). Metadata describing input, output and crop framing
  // is added by the caller.
  engine::ModelFile exportModel() const;
  // Loads weights exported by exportModel() (fine-tuning). Batch norms become identities with
  // the folded bias as their shift; call freezeBatchNorm() to keep them that way while training.
  void importModel(const engine::ModelFile& m);
  void freezeBatchNorm(bool freeze) { bn_frozen_ = freeze; }
  void train(bool on = true) override;

  const NetSpec& spec() const { return spec_; }
  // Sets the output layer's bias (e.g. to the mean shape, so training starts from it).
  void setOutputBias(const std::vector<float>& bias);

 private:
  struct ConvUnit {  // conv (+ BN) (+ ReLU6)
    std::string name;
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d bn{nullptr};
    bool relu6 = false, depthwise = false;
    int stride = 1, pad = 0;
  };
  struct Step {  // one node of the exported graph
    enum Kind { kConv, kAdd } kind;
    int unit = -1;       // kConv: index into units_
    int input = -1;      // index of the step whose value it reads (-1: the input)
    int input2 = -1;     // kAdd
  };
  int addUnit(const std::string& name, int in, int out, int k, int stride, int groups, bool bn, bool relu6, int input_step);

  NetSpec spec_;
  std::vector<ConvUnit> units_;
  std::vector<Step> steps_;
  bool bn_frozen_ = false;
};
TORCH_MODULE(LandmarkNet);

// Parameter count and multiply-accumulates of a spec at its input size.
struct NetCost {
  int64_t parameters = 0, macs = 0;
};
NetCost netCost(const NetSpec& spec);

}  // namespace facekit::train
