// The facekit-106 landmark network on facekit's engine (no libtorch): a graph model written by
// facekit-train (tools/train), e.g. weights/landmark106.safetensors.
//
// Input: a 96 x 96 RGB crop framed by crop106.hpp. Output (the model file's 215 values): 106
// (x, y) in crop units [0, 1], then pitch, yaw, roll in units of 90 degrees, roll relative to
// the crop. The file's metadata also carries the box framing calibration the trainer measured.
//
// Not thread-safe: one Landmark106Net per thread.
#pragma once

#include <array>
#include <string>

#include "engine/graph.hpp"
#include "engine/thread_pool.hpp"
#include "facekit/landmarks.hpp"
#include "models/landmarks/crop106.hpp"

namespace facekit::landmarks {

struct Landmark106Output {
  std::array<Point2f, kNumLandmarks106> points;  // crop pixels
  HeadPose pose;                                 // degrees; roll relative to the crop
};

class Landmark106Net {
 public:
  // Throws facekit::Error(kIoError / kBadModel) for a missing, foreign or malformed file.
  Landmark106Net(const std::string& model_path, engine::Backend backend = engine::Backend::kFast, int threads = 1);
  int inputSize() const { return size_; }
  const BoxCalibration& calibration() const { return calibration_; }
  // rgb: inputSize() x inputSize() x 3 bytes, tightly packed rows.
  Landmark106Output run(const uint8_t* rgb);
  // The raw 215 outputs for a float input already normalised ((v - 127.5) / 128, NHWC).
  const engine::Tensor& runRaw(const engine::Tensor& input);

 private:
  engine::ThreadPool pool_;
  engine::Graph graph_;
  engine::Tensor input_;
  BoxCalibration calibration_;
  int size_ = 96;
};

}  // namespace facekit::landmarks
