// facekit video mode: landmark tracks over frames, smoothed so points do not jitter.
//
//   facekit::LandmarkSmoother smoother;               // one per video stream
//   for each frame (time t in seconds):
//     auto faces = smoother.update(landmarker->detect(frame), t);
//
// Each face is matched to the previous frame's faces by box overlap (IoU >= 0.3, greedy, best
// first); a matched face's points, box and pose are filtered with a One Euro filter (Casiez,
// Roussel, Vogel, CHI 2012): a low-pass whose cut-off rises with speed, so a still face is steady
// and a moving one does not lag. The speed that opens the filter is measured in face sizes per
// second (angles: 45 degrees per second), so the same settings work at any resolution. A new face starts unfiltered; faces that disappear are dropped.
//
// Thread safety: a LandmarkSmoother holds per-stream state; use one per stream and thread.
#pragma once

#include <memory>
#include <vector>

#include "facekit/landmarks.hpp"

namespace facekit {

struct SmoothingOptions {
  float min_cutoff = 1.0f;  // Hz: the cut-off for a still face (lower: steadier, more lag)
  float beta = 5.0f;        // how fast the cut-off rises with speed (in face sizes per second)
  float d_cutoff = 1.0f;    // Hz: cut-off of the speed estimate
};

class LandmarkSmoother {
 public:
  explicit LandmarkSmoother(const SmoothingOptions& options = {});
  ~LandmarkSmoother();
  LandmarkSmoother(LandmarkSmoother&&) noexcept;
  LandmarkSmoother& operator=(LandmarkSmoother&&) noexcept;
  // Filters this frame's faces (same order as given). time_s must increase from call to call;
  // throws facekit::Error(kInvalidArgument) otherwise.
  std::vector<FaceLandmarks> update(const std::vector<FaceLandmarks>& faces, double time_s);
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace facekit
