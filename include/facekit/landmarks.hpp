// facekit 106-point landmarks and head pose.
//
//   auto lm = facekit::FaceLandmarker::create(options);
//   for (const facekit::FaceLandmarks& f : lm->detect(image.view())) { f.points[0]; f.pose.yaw; }
//
// Layout (facekit-106, data/facekit106.csv, picture in docs/landmarks-106.md): 0-32 face
// contour from the image-left ear along the jaw to the image-right ear; 33-41 / 42-50 eyebrows
// (image-left / -right); 51-65 nose (bridge top to tip, lower nose left to right, tip, bottom);
// 66-74 / 75-83 eyes (8 contour points + centre); 84-103 mouth (12 outer, 8 inner lip);
// 104 / 105 pupils. Points are in the continuous pixel coordinates of facekit::Face.
//
// Head pose (degrees), the signs of AFLW2000-3D / 300W-LP so published figures compare:
//   yaw   > 0: the face turns towards the image's left (the subject's right);
//   pitch > 0: the face turns up;
//   roll  > 0: the face is rotated clockwise in the image.
// Exactly: with camera axes x right, y down, z away from the camera, the rotation taking a
// frontal head to the observed one is R = Rz(roll) * Ry(yaw) * Rx(-pitch), angles in that
// order. Rotating the image clockwise by a adds a to roll; mirroring it negates yaw and roll.
//
// Backends:
//   kLandmark106 (default): facekit's own small model (weights/landmark106.safetensors, 0.26 M
//     parameters, 7.6 M multiply-accumulates, 96 x 96 crop), trained by facekit-train on labels
//     the mesh made (docs/landmarks-106.md); points and pose straight from the network.
//     `confidence` is the detector's score (the model has no face-probability output).
//   kMesh: MediaPipe Face Mesh (468 vertices) on each face, the 106 points and the pose derived
//     from it: the teacher, slower (192 x 192 input) and used to label training data.
// Both frame each face the same way: a crop turned to the detector's eye line, then
// `refine_passes` re-crops from the previous pass's points.
//
// Thread safety, as for FaceDetector (detector.hpp): separate FaceLandmarker instances may run on
// different threads at once (create() too), over the same images. One instance (its detector,
// network and crop buffer) is not safe to call concurrently: detect(), landmark() and track()
// must be called one at a time; different threads may use it in turn if the caller orders the
// calls. num_threads > 1 parallelises one call and gives the result of num_threads = 1.
// tests/test_threads.cpp checks each point (under ThreadSanitizer too: make test-tsan).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "facekit/detector.hpp"

namespace facekit {

constexpr int kNumLandmarks106 = 106;

struct HeadPose {
  float pitch = 0, yaw = 0, roll = 0;  // degrees
};

struct FaceLandmarks {
  Face face;                                     // the detection it came from
  std::array<Point2f, kNumLandmarks106> points;  // facekit-106 layout
  HeadPose pose;
  float confidence = 0;                          // the landmark model's face probability, [0, 1]
  std::vector<std::array<float, 3>> mesh;        // kMesh only: the 468 vertices, image pixels (z relative)
};

enum class LandmarkBackend { kLandmark106, kMesh };

struct LandmarkerOptions {
  // Faces at any roll by default: the product promises landmarks and pose in every orientation,
  // and the verified all-orientations search costs 1.4x to 1.7x the upright detection (detector.hpp).
  // Set detector.all_orientations = false for upright faces only (CLI: --upright-only).
  DetectorOptions detector = [] {
    DetectorOptions d;
    d.all_orientations = true;
    return d;
  }();
  LandmarkBackend backend = LandmarkBackend::kLandmark106;
  std::string model_path;       // kLandmark106; empty: defaultModelPath("landmark106.safetensors")
  std::string mesh_model_path;  // kMesh; empty: defaultModelPath("facemesh.safetensors")
  float crop_scale = 1.5f;      // kMesh: crop side / face box side (kLandmark106 frames as it was trained)
  // Re-crops from the previous pass's points, +1 model run each; -1: the backend's default
  // (landmark106: 0, since on its validation split a second pass changes NME by < 0.0005 and
  // costs 2x; mesh: 1, which lowers its AFLW2000 error from 0.161 to 0.122).
  int refine_passes = -1;
  int num_threads = 1;
};

class FaceLandmarker {
 public:
  static std::unique_ptr<FaceLandmarker> create(const LandmarkerOptions& options = {});
  virtual ~FaceLandmarker() = default;
  // Detects faces, then landmarks each one.
  virtual std::vector<FaceLandmarks> detect(const ImageView& image) = 0;
  // Landmarks a face already detected in `image`.
  virtual FaceLandmarks landmark(const ImageView& image, const Face& face) = 0;
  // Landmarks a face followed from an earlier frame, without a detection: the crop comes from
  // `previous`'s points (their eye line and extent, so any roll works), one model pass. The
  // result's face box and 5 points are derived from the new points (box in the detector's
  // convention; 5 points: eye centres 74 / 83, nose tip 64, mouth corners 84 / 90); its score
  // is carried over from `previous` (check it, as FaceTracker does with O-Net, to end lost tracks).
  virtual FaceLandmarks track(const ImageView& image, const FaceLandmarks& previous) = 0;
};

// The facekit-106 layout as data: names and the mirror map (point i <-> its twin when the
// image is flipped horizontally).
const std::array<std::string, kNumLandmarks106>& landmark106Names();
const std::array<int, kNumLandmarks106>& landmark106Mirror();

}  // namespace facekit
