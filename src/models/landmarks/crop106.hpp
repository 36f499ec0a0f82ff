// Crop geometry of the facekit-106 landmark model, shared by the trainer (tools/train) and the
// pipeline (src/pipeline/landmarker.cpp) so both see faces framed exactly alike.
//
// A crop is a square of side `side` (image pixels) centred at (cx, cy) and turned by `angle`
// radians (clockwise in the image, i.e. the angle of the eye line), resampled to size x size.
// Two ways to frame a face:
//   fromPoints: from 106 points (the refinement passes and the training labels): the eye line
//               (eye centres 74 -> 83) gives the angle, the points' extent in that turned frame
//               gives centre and side (side = scale * the larger extent).
//   fromFace:   from a detection (the first pass): the angle of the detector's two eyes, centre
//               and side from the box through a calibration (box_scale, box_dx, box_dy) that the
//               trainer measures on its labels so that both framings agree on average; it is
//               stored in the model file's metadata.
#pragma once

#include <array>
#include <cmath>

#include "facekit/detector.hpp"
#include "facekit/landmarks.hpp"

namespace facekit::landmarks {

struct Crop106 {
  double cx = 0, cy = 0, side = 1, angle = 0;

  // 2x3 affine matrix (row-major) taking image coordinates to crop pixels of a size x size crop.
  std::array<double, 6> toCrop(int size) const {
    const double s = size / side, c = std::cos(angle), n = std::sin(angle), h = size / 2.0;
    return {s * c, s * n, h - s * (c * cx + n * cy), -s * n, s * c, h - s * (-n * cx + c * cy)};
  }
  // Crop pixel (u, v) of a size x size crop back to the image.
  Point2f toImage(double u, double v, int size) const {
    const double s = size / side, c = std::cos(angle), n = std::sin(angle), h = size / 2.0;
    const double a = (u - h) / s, b = (v - h) / s;
    return {float(cx + c * a - n * b), float(cy + n * a + c * b)};
  }
};

struct BoxCalibration {
  double scale = 1.2, dx = 0, dy = 0.1;  // side = scale * box side; centre offset in box sides, eye-aligned frame
};

constexpr double kPointsCropScale = 1.3;  // crop side / extent of the 106 points

inline Crop106 cropFromPoints(const std::array<Point2f, kNumLandmarks106>& p, double scale = kPointsCropScale) {
  const double ex = p[83].x - p[74].x, ey = p[83].y - p[74].y;
  const double angle = std::atan2(ey, ex), c = std::cos(angle), s = std::sin(angle);
  double u0 = 1e30, u1 = -1e30, v0 = 1e30, v1 = -1e30;
  for (const auto& q : p) {
    const double u = c * q.x + s * q.y, v = -s * q.x + c * q.y;
    u0 = std::min(u0, u), u1 = std::max(u1, u), v0 = std::min(v0, v), v1 = std::max(v1, v);
  }
  const double uc = 0.5 * (u0 + u1), vc = 0.5 * (v0 + v1);
  return {c * uc - s * vc, s * uc + c * vc, scale * std::max(u1 - u0, v1 - v0), angle};
}

inline Crop106 cropFromFace(const Face& f, const BoxCalibration& k) {
  const Point2f le = f.landmarks[0], re = f.landmarks[1];
  const double angle = std::atan2(re.y - le.y, re.x - le.x), c = std::cos(angle), s = std::sin(angle);
  const double side = std::max(f.box.width(), f.box.height());
  const double bx = 0.5 * (f.box.x1 + f.box.x2), by = 0.5 * (f.box.y1 + f.box.y2);
  // The offset is measured in the eye-aligned frame, so it turns with the face.
  const double ox = k.dx * side, oy = k.dy * side;
  return {bx + c * ox - s * oy, by + s * ox + c * oy, k.scale * side, angle};
}

}  // namespace facekit::landmarks

namespace cv { class Mat; }

namespace facekit::landmarks {

// Resamples `crop` of `src` (8-bit, 1 or 3 channels) into `out` (size x size, same type) in
// facekit's continuous pixel coordinates (pixel i covers [i, i+1)), bilinear, black outside the
// image. Crops that shrink the face more than 2x are first reduced with area averaging, so large
// faces are not aliased. Training and inference both frame faces through this one function.
void cropPatch(const cv::Mat& src, const Crop106& crop, int size, cv::Mat& out);

}  // namespace facekit::landmarks
