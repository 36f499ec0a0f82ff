// AFLW2000-3D annotation files (MATLAB .mat, one per image): head pose and 68 points.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "facekit/landmarks.hpp"

namespace facekit::eval {

struct AflwAnnotation {
  HeadPose pose;  // degrees, from Pose_Para = [pitch, yaw, roll, tx, ty, tz, scale] in radians
  std::vector<Point2f> pts68;  // pt3d_68 x, y (image pixels)
};

// Throws facekit::Error naming the file if it is missing or lacks Pose_Para.
AflwAnnotation loadAflwAnnotation(const std::string& mat_path);

}  // namespace facekit::eval
