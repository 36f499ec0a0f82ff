// Output helpers: ModelScope-compatible JSON and drawings of detections.
// Thread safety: these functions only read their arguments and return new values: any number of
// threads may call them at once, with the same arguments (tests/test_threads.cpp).
#pragma once

#include <string>
#include <vector>

#include "facekit/detector.hpp"
#include "facekit/landmarks.hpp"
#include "facekit/image.hpp"

namespace facekit {

// The JSON object ModelScope's face_detection pipeline returns:
//   {"scores": [s, ...], "boxes": [[x1, y1, x2, y2], ...], "keypoints": [[x1, y1, ..., x5, y5], ...]}
// Entries are parallel arrays in the order of `faces`; numbers have 2 decimals (scores 4).
std::string toModelScopeJson(const std::vector<Face>& faces, int indent = -1);

// Draws each face's box, score and 5 points onto an RGB copy of `image` (in the spirit of
// ModelScope's draw_face_detection_result: green boxes, score above the box, coloured points).
Image drawDetections(const ImageView& image, const std::vector<Face>& faces);

// Draws the 106 points (one colour per group), the box and the head-pose axes (red: the face's
// x axis to its image-right, green: down, blue: out of the face) onto an RGB copy of `image`.
// with_indices also writes each point's index (for layout pictures).
Image drawLandmarks(const ImageView& image, const std::vector<FaceLandmarks>& faces, bool with_indices = false);

// JSON for landmark results: {"faces": [{"score", "box", "keypoints", "points": [[x, y] x 106],
// "pose": {"pitch", "yaw", "roll"}, "confidence"}]}.
std::string toLandmarksJson(const std::vector<FaceLandmarks>& faces, int indent = -1);

// The JSON object of ModelScope's face_2d_keypoints pipeline, keys in its order:
//   {"boxes": [[x1, y1, x2, y2], ...], "keypoints": [[[x, y] x 106], ...], "poses": [[pitch, roll, yaw], ...]}
// (note ModelScope's pose order: pitch, roll, yaw, in degrees). Parallel arrays in the order of
// `faces`; 2 decimals.
std::string toModelScopeLandmarksJson(const std::vector<FaceLandmarks>& faces, int indent = -1);

}  // namespace facekit
