#include "models/landmarks/landmark106_net.hpp"

#include <cstdio>

#include "facekit/error.hpp"

namespace facekit::landmarks {
namespace {
constexpr int kOutputs = 2 * kNumLandmarks106 + 3;
constexpr float kPoseUnitDegrees = 90.f;
}  // namespace

Landmark106Net::Landmark106Net(const std::string& path, engine::Backend backend, int threads) : pool_(threads) {
  const engine::ModelFile m = engine::ModelFile::load(path);
  auto meta = [&](const char* key) -> std::string {
    auto it = m.metadata.find(key);
    return it == m.metadata.end() ? "" : it->second;
  };
  if (meta("facekit.model") != "landmark106") throw Error(Error::Code::kBadModel, "model file " + path + " is not a facekit-106 landmark model");
  int h = 0, w = 0, c = 0;
  if (std::sscanf(meta("input_size").c_str(), "%dx%dx%d", &h, &w, &c) != 3 || h != w || c != 3 || h < 16 || h > 512)
    throw Error(Error::Code::kBadModel, "model file " + path + ": bad or missing input_size metadata");
  size_ = h;
  double k[3];
  if (std::sscanf(meta("crop.box_calibration").c_str(), "%lf,%lf,%lf", &k[0], &k[1], &k[2]) != 3 || !(k[0] > 0.2 && k[0] < 5))
    throw Error(Error::Code::kBadModel, "model file " + path + ": bad or missing crop.box_calibration metadata");
  calibration_ = {k[0], k[1], k[2]};
  graph_ = engine::Graph::build(m, backend);
  if (graph_.outputNames().size() != 1) throw Error(Error::Code::kBadModel, "model file " + path + ": expected one output");
  input_.resize({1, size_, size_, 3});
}

const engine::Tensor& Landmark106Net::runRaw(const engine::Tensor& input) {
  const auto outs = graph_.forward(input, &pool_);
  if (outs[0]->numel() != size_t(input.shape().n) * kOutputs)
    throw Error(Error::Code::kBadModel, "facekit-106 model produced " + std::to_string(outs[0]->numel()) + " values, expected 215 per face");
  return *outs[0];
}

Landmark106Output Landmark106Net::run(const uint8_t* rgb) {
  float* in = input_.data();
  for (size_t i = 0; i < input_.numel(); ++i) in[i] = (float(rgb[i]) - 127.5f) * (1.f / 128.f);
  const float* o = runRaw(input_).data();
  Landmark106Output r;
  for (size_t i = 0; i < kNumLandmarks106; ++i) r.points[i] = {o[2 * i] * float(size_), o[2 * i + 1] * float(size_)};
  r.pose = {o[2 * kNumLandmarks106] * kPoseUnitDegrees, o[2 * kNumLandmarks106 + 1] * kPoseUnitDegrees, o[2 * kNumLandmarks106 + 2] * kPoseUnitDegrees};
  return r;
}

}  // namespace facekit::landmarks
