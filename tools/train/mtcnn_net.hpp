// The three MTCNN networks in libtorch, with the layer names and tensor layouts of facekit's
// MTCNN model file (src/models/mtcnn/mtcnn_nets.cpp): "<net>.<layer>.weight|bias|slope", conv
// weights OHWI, fully connected [out, in] over features flattened in (y, x, c) order, P-Net heads
// as 1x1 convolutions. Import and export are exact, so a stage trained here runs in the detector.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/model_file.hpp"

namespace facekit::train {

// One of "pnet", "rnet", "onet". forward() takes NCHW RGB normalised (x - 127.5) / 128 and
// returns the fused heads as the detector reads them: P-Net {n, 6, h, w}; R-Net {n, 6};
// O-Net {n, 16} (2 logits, 4 box offsets, 5 x, 5 y).
class MtcnnNetImpl : public torch::nn::Module {
 public:
  explicit MtcnnNetImpl(const std::string& which);
  torch::Tensor forward(torch::Tensor x);
  const std::string& which() const { return which_; }
  int inputSize() const;  // 12, 24, 48
  int outputs() const;    // 6, 6, 16
  // Copies this net's tensors from an MTCNN model file (throws facekit::Error(kBadModel) naming
  // a missing or mis-shaped tensor) / writes them into one, replacing what it held.
  void importFrom(const engine::ModelFile& m);
  void exportInto(engine::ModelFile& m) const;

 private:
  struct Layer {
    char kind;  // 'c' conv, 'p' prelu, 'm' max pool, 'f' fully connected
    std::string name;
    int k = 0, stride = 0;
    std::shared_ptr<torch::nn::Module> module;
  };
  std::string which_;
  std::vector<Layer> trunk_, heads_;
};
TORCH_MODULE(MtcnnNet);

// An MTCNN model file holding all three nets freshly initialised (for runs from scratch).
engine::ModelFile freshMtcnnModel(uint64_t seed);

// A copy of `m` in which the nets after `keep_through` ("pnet": R-Net and O-Net; "rnet": O-Net)
// are replaced by neutral nets: every window scores 0.99 and keeps its box. Run through
// facekit's FaceDetector with the later thresholds at 0 and their NMS off, it reports exactly
// the boxes that the kept stages hand on (used to mine hard samples for the next stage).
engine::ModelFile neutralAfter(const engine::ModelFile& m, const std::string& keep_through);

}  // namespace facekit::train
