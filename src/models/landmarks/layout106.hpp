// The facekit-106 layout: each point as a function of MediaPipe Face Mesh vertices, read from
// data/facekit106.csv (compiled into the library).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "facekit/landmarks.hpp"

namespace facekit::landmarks {

struct PointDef {
  std::string name, group;
  int mirror = -1;
  enum Kind { kVertex, kMean, kPolyline } kind = kVertex;
  std::vector<int> vertices;
  double t = 0;  // kPolyline: arc-length fraction
};

const std::vector<PointDef>& layout106();

// The 106 points (x, y) of a 468-vertex mesh.
std::array<Point2f, kNumLandmarks106> meshTo106(const std::vector<std::array<float, 3>>& mesh);

}  // namespace facekit::landmarks
