// FaceTracker: detection every N frames, tracking from each face's own previous points in
// between, O-Net checks to end lost tracks, stable ids, One Euro smoothing by id.
#include <algorithm>
#include <cmath>
#include <map>

#include "facekit/error.hpp"
#include "facekit/video.hpp"

namespace facekit {
namespace {

struct Track {
  int id = 0, age = 0;
  FaceLandmarks raw;       // unsmoothed: what the next frame's crop comes from
  Point2f velocity{0, 0};  // pixels per frame of the points' centre, last step
};

Point2f centre(const std::array<Point2f, kNumLandmarks106>& p) {
  double x = 0, y = 0;
  for (const auto& q : p) x += q.x, y += q.y;
  return {float(x / double(p.size())), float(y / double(p.size()))};
}

Point2f boxCentre(const Box& b) { return {0.5f * (b.x1 + b.x2), 0.5f * (b.y1 + b.y2)}; }

class Tracker final : public FaceTracker {
 public:
  explicit Tracker(const TrackerOptions& o) : opt_(o), smoother_(o.smoothing) {
    if (o.detect_interval < 1) throw Error(Error::Code::kInvalidArgument, "TrackerOptions: detect_interval must be >= 1");
    if (!(o.keep_threshold >= 0 && o.keep_threshold <= 1)) throw Error(Error::Code::kInvalidArgument, "TrackerOptions: keep_threshold must be in [0, 1]");
    if (!(o.same_face_iou > 0 && o.same_face_iou < 1)) throw Error(Error::Code::kInvalidArgument, "TrackerOptions: same_face_iou must be in (0, 1)");
    DetectorOptions d = o.landmarker.detector;
    d.num_threads = o.landmarker.num_threads;
    detector_ = FaceDetector::create(d);
    landmarker_ = FaceLandmarker::create(o.landmarker);
  }

  std::vector<TrackedFace> process(const ImageView& frame, double t) override {
    if (last_time_ >= 0 && !(t > last_time_)) throw Error(Error::Code::kInvalidArgument, "FaceTracker: frame times must increase");
    last_time_ = t;
    std::vector<char> detected;
    // 1. Follow every live track from its own points, moved on by its last step (constant
    //    velocity); end those the check no longer calls a face.
    std::vector<Track> live, lost;
    for (Track& tr : tracks_) {
      FaceLandmarks from = tr.raw;
      for (auto& p : from.points) p.x += tr.velocity.x, p.y += tr.velocity.y;
      FaceLandmarks next = landmarker_->track(frame, from);
      const float score = detector_->verify(frame, next.face).score;
      if (score < opt_.keep_threshold) {
        lost.push_back(std::move(tr));
        continue;
      }
      next.face.score = score;
      // Half the new step, half the old estimate: one noisy step does not throw the next crop.
      const Point2f a = centre(tr.raw.points), b = centre(next.points);
      tr.velocity = {0.5f * (tr.velocity.x + b.x - a.x), 0.5f * (tr.velocity.y + b.y - a.y)};
      tr.raw = std::move(next);
      ++tr.age;
      live.push_back(std::move(tr));
    }
    // Two tracks on one face (they converged): the older one keeps it.
    std::sort(live.begin(), live.end(), [](const Track& a, const Track& b) { return a.id < b.id; });
    tracks_.clear();
    for (Track& tr : live) {
      bool dup = false;
      for (const Track& kept : tracks_) dup = dup || iou(kept.raw.face.box, tr.raw.face.box) > 0.5f;
      if (!dup) tracks_.push_back(std::move(tr));
    }
    detected.assign(tracks_.size(), 0);
    // 2. Detect on schedule, when nothing is followed, or when a track was lost this frame. A
    //    detection near where a lost track was heading takes that track back (same id: the face
    //    moved faster than the crop could follow); one overlapping no track starts a new one.
    if (frame_ % opt_.detect_interval == 0 || tracks_.empty() || !lost.empty()) {
      for (const Face& f : detector_->detect(frame)) {
        bool known = false;
        for (const Track& tr : tracks_) known = known || iou(tr.raw.face.box, f.box) > opt_.same_face_iou;
        if (known) continue;
        Track tr;
        int revived = -1;
        for (size_t i = 0; i < lost.size() && revived < 0; ++i) {
          const Box& b = lost[i].raw.face.box;
          // Where it was last seen, or one step further on.
          const Point2f c = boxCentre(b), ahead{c.x + lost[i].velocity.x, c.y + lost[i].velocity.y}, got = boxCentre(f.box);
          const float side = std::max(b.width(), b.height());
          const float dist = std::min(std::hypot(got.x - c.x, got.y - c.y), std::hypot(got.x - ahead.x, got.y - ahead.y));
          if (lost[i].id > 0 && dist < 0.6f * side &&
              std::max(f.box.width(), f.box.height()) < 1.6f * side && std::max(f.box.width(), f.box.height()) > side / 1.6f)
            revived = int(i);
        }
        if (revived >= 0) {
          tr = std::move(lost[size_t(revived)]);
          lost[size_t(revived)].id = 0;  // taken
          ++tr.age;
        } else {
          tr.id = next_id_++;
        }
        const Point2f before = centre(tr.raw.points);
        tr.raw = landmarker_->landmark(frame, f);
        if (revived >= 0) {
          const Point2f after = centre(tr.raw.points);
          tr.velocity = {0.5f * (after.x - before.x), 0.5f * (after.y - before.y)};
        }
        tracks_.push_back(std::move(tr));
        detected.push_back(1);
      }
    }
    ++frame_;
    // 3. Smoothing by id; results in id order.
    std::vector<FaceLandmarks> faces;
    std::vector<int> ids;
    for (const Track& tr : tracks_) faces.push_back(tr.raw), ids.push_back(tr.id);
    if (opt_.smooth) faces = smoother_.update(faces, ids, t);
    std::vector<TrackedFace> out;
    for (size_t i = 0; i < tracks_.size(); ++i) out.push_back({tracks_[i].id, tracks_[i].age, detected[i] != 0, std::move(faces[i])});
    return out;
  }

  void reset() override {
    tracks_.clear();
    smoother_.reset();
    last_time_ = -1;
    frame_ = 0;
  }

 private:
  TrackerOptions opt_;
  std::unique_ptr<FaceDetector> detector_;
  std::unique_ptr<FaceLandmarker> landmarker_;
  LandmarkSmoother smoother_;
  std::vector<Track> tracks_;
  int next_id_ = 1;
  long frame_ = 0;
  double last_time_ = -1;
};

}  // namespace

std::unique_ptr<FaceTracker> FaceTracker::create(const TrackerOptions& options) { return std::make_unique<Tracker>(options); }

}  // namespace facekit
