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
// Thread safety: a LandmarkSmoother holds one stream's state: one instance is called by one
// thread at a time (in turn from different threads if the caller orders the calls); separate
// smoothers are independent and may run on different threads at once (tests/test_threads.cpp).
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
  // The same with the faces' identities given (track ids, e.g. from FaceTracker): a face is
  // filtered with the state of its id however far it moved; ids not given again are dropped.
  std::vector<FaceLandmarks> update(const std::vector<FaceLandmarks>& faces, const std::vector<int>& ids, double time_s);
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Video mode: faces followed from frame to frame instead of detected in every frame.
//
//   auto tracker = facekit::FaceTracker::create(options);      // one per video stream
//   for each frame (time t in seconds, increasing):
//     for (const facekit::TrackedFace& f : tracker->process(frame, t)) { f.track_id; f.landmarks.points; }
//
// Each frame: every live track is landmarked from its own previous points, moved on by its last
// step (FaceLandmarker::track, so a turning head is followed at any roll), and re-checked by
// MTCNN's last stage (O-Net on the box the new points give, turned to its eye line); tracks that land on
// one face merge into the older. The detector runs on the first frame, every `detect_interval`
// frames, whenever no face is tracked, and on a frame where a track's check fell below
// `keep_threshold`: a detection where that track was heading (within 0.6 face sizes, similar size)
// takes it back with its id (a face that moved faster than its crop); otherwise the track ends.
// A detection that overlaps no live track starts a new track with a new id (ids count up from 1
// and are never reused, so a face that leaves and comes back gets a new one). With smoothing on, each track's
// points, box and pose go through the One Euro filter of LandmarkSmoother, by track id.
//
// Thread safety: a FaceTracker holds one stream's state and its own FaceLandmarker: process() and
// reset() of one instance are called one at a time (in turn from different threads if the
// caller orders the calls); separate trackers, one per stream, may run on different threads at
// once over the same frames (tests/test_threads.cpp).
struct TrackerOptions {
  LandmarkerOptions landmarker;  // detector options (all_orientations, min face, ...) and landmark backend
  int detect_interval = 10;      // frames; 1 = detect on every frame (tracks still keep their ids)
  float keep_threshold = 0.5f;   // O-Net face probability below which a track ends
  float same_face_iou = 0.3f;    // a detection overlapping a live track by more is that track's face
  bool smooth = true;
  SmoothingOptions smoothing;
};

struct TrackedFace {
  int track_id = 0;         // >= 1, stable while the face is followed
  int age = 0;              // frames since the track started (0 on its first frame)
  bool detected = false;    // this frame's result came from a detection, not from tracking
  FaceLandmarks landmarks;  // smoothed when TrackerOptions::smooth; face.score = the latest check
};

class FaceTracker {
 public:
  // Throws facekit::Error for bad options or model files.
  static std::unique_ptr<FaceTracker> create(const TrackerOptions& options = {});
  virtual ~FaceTracker() = default;
  // Faces in this frame, by track id. time_s must increase from call to call (else throws
  // facekit::Error(kInvalidArgument)).
  virtual std::vector<TrackedFace> process(const ImageView& frame, double time_s) = 0;
  // Forgets every track (ids keep counting up).
  virtual void reset() = 0;
};

}  // namespace facekit
