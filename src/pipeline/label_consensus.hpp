// Teacher labels that are better than one landmark pass: the average of several passes over the
// image, its mirror and small crop jitters, with their disagreement reported so unstable faces can
// be dropped from training data. Used by `facekit label`.
//
// Thread safety: uses (and mutates) the landmarker it is given; one call per landmarker at a time.
#pragma once

#include <cstdint>

#include "facekit/image.hpp"
#include "facekit/landmarks.hpp"

namespace facekit {

struct ConsensusOptions {
  int jitters = 2;            // extra passes with the face box shifted/scaled by up to `jitter`
  float jitter = 0.05f;       // fraction of the box side
  bool mirror = true;         // one pass on the horizontally flipped image
  uint64_t seed = 0;          // jitters are a deterministic function of seed
};

struct ConsensusLandmarks {
  FaceLandmarks landmarks;  // averaged points, pose and confidence; mesh of the first pass
  // Mean over passes of the mean point distance to the average, divided by the inter-ocular
  // distance (eye centres 74, 83): 0 when every pass agrees.
  float spread = 0;
  int passes = 0;
};

// `face` was detected in `image`. The first pass is lm.landmark(image, face).
ConsensusLandmarks consensusLandmarks(FaceLandmarker& lm, const ImageView& image, const Face& face, const ConsensusOptions& opt);

// The face as seen in the horizontally mirrored image of width `width` (box flipped; eyes and
// mouth corners swap so the 5 points keep their order).
Face mirrorFace(const Face& f, int width);
// Landmarks found in the mirrored image, expressed in the original image (points re-indexed
// through the mirror map, yaw and roll negated).
FaceLandmarks unmirrorLandmarks(const FaceLandmarks& m, int width);

}  // namespace facekit
