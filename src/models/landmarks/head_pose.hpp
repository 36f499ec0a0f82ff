// Head pose from a 3-D face mesh: a similarity alignment (Umeyama 1991) of a neutral frontal
// template to the 468 vertices, then Euler angles of the rotation (convention in
// include/facekit/landmarks.hpp). The template (data/pose_template.csv, compiled in) is the
// Procrustes mean of MediaPipe meshes of frontal faces, expressed in a frame fixed by the face's
// own symmetry; `facekit make-pose-template` rebuilds it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "facekit/landmarks.hpp"

namespace facekit::landmarks {

using Mesh = std::vector<std::array<float, 3>>;

// Rotation matrix (row-major) that best maps `from` onto `to` up to scale and translation.
std::array<double, 9> alignRotation(const Mesh& from, const Mesh& to);
HeadPose eulerFromRotation(const std::array<double, 9>& r);
std::array<double, 9> rotationFromEuler(const HeadPose& p);

// Pose of a mesh given in image coordinates (x right, y down, z away from the camera).
// Throws facekit::Error(kInternal) if the library was built without a template.
HeadPose headPose(const Mesh& mesh);
bool havePoseTemplate();

// Builds a template from meshes of (mostly) frontal faces: generalised Procrustes mean, then
// rotated into the frame of the face's symmetry (x from the image-left to the image-right
// features, y from forehead to chin, z = x cross y). Writes CSV "x,y,z" per vertex.
Mesh buildPoseTemplate(const std::vector<Mesh>& meshes);
std::string poseTemplateCsv(const Mesh& t);

}  // namespace facekit::landmarks
