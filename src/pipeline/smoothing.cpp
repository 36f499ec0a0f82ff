#include <algorithm>
#include <cmath>
#include <map>

#include "facekit/error.hpp"
#include "facekit/video.hpp"

namespace facekit {
namespace {

class OneEuro {
 public:
  // `scale` converts the speed into the units beta is given in (face sizes, or 45 degrees).
  double filter(double x, double dt, double scale, const SmoothingOptions& o) {
    if (!init_) {
      init_ = true;
      x_ = x;
      return x;
    }
    const double dx = (x - x_) / dt;
    dx_ += alpha(o.d_cutoff, dt) * (dx - dx_);
    const double cutoff = o.min_cutoff + o.beta * std::fabs(dx_) / scale;
    x_ += alpha(cutoff, dt) * (x - x_);
    return x_;
  }

 private:
  static double alpha(double cutoff, double dt) {
    const double tau = 1.0 / (2.0 * M_PI * cutoff);
    return 1.0 / (1.0 + tau / dt);
  }
  bool init_ = false;
  double x_ = 0, dx_ = 0;
};

// The values of a face that are filtered, in a flat list: 106 points, 5 points, box, then the
// three pose angles last.
void collect(const FaceLandmarks& f, std::vector<double>& values) {
  values.clear();
  for (const auto& p : f.points) values.push_back(p.x), values.push_back(p.y);
  for (const auto& p : f.face.landmarks) values.push_back(p.x), values.push_back(p.y);
  values.insert(values.end(), {f.face.box.x1, f.face.box.y1, f.face.box.x2, f.face.box.y2, f.pose.pitch, f.pose.yaw, f.pose.roll});
}

struct Track {
  Box box;
  std::vector<OneEuro> filters;
};

}  // namespace

// Filters one face in place with its track's state.
void filterFace(FaceLandmarks& f, Track& tr, double dt, const SmoothingOptions& opt) {
  std::vector<double> values;
  const double size = std::max(1.0f, std::max(f.face.box.width(), f.face.box.height()));
  collect(f, values);
  tr.filters.resize(values.size());
  const size_t angles = values.size() - 3;  // pose angles are filtered in degrees
  for (size_t v = 0; v < values.size(); ++v) {
    // Values stay in pixels (degrees): dividing them by a jittering face size would add jitter.
    // Only the speed that opens the filter is measured in face sizes (or 45 degrees).
    // A new track (fresh filters) passes its first values through.
    values[v] = tr.filters[v].filter(values[v], dt > 0 ? dt : 1.0, v < angles ? size : 45.0, opt);
  }
  size_t v = 0;
  for (auto& p : f.points) p.x = float(values[v++]), p.y = float(values[v++]);
  for (auto& p : f.face.landmarks) p.x = float(values[v++]), p.y = float(values[v++]);
  f.face.box = {float(values[v]), float(values[v + 1]), float(values[v + 2]), float(values[v + 3])};
  f.pose = {float(values[v + 4]), float(values[v + 5]), float(values[v + 6])};
  tr.box = f.face.box;
}

struct LandmarkSmoother::State {
  SmoothingOptions opt;
  std::vector<Track> tracks;
  std::map<int, Track> by_id;
  double last_time = -1;
  // Checks that time increases; returns the step.
  double step(double t) {
    if (last_time >= 0 && !(t > last_time)) throw Error(Error::Code::kInvalidArgument, "LandmarkSmoother: frame times must increase");
    const double dt = last_time >= 0 ? t - last_time : 0;
    last_time = t;
    return dt;
  }
};

LandmarkSmoother::LandmarkSmoother(const SmoothingOptions& o) : state_(std::make_unique<State>()) {
  if (!(o.min_cutoff > 0 && o.beta >= 0 && o.d_cutoff > 0))
    throw Error(Error::Code::kInvalidArgument, "SmoothingOptions: min_cutoff and d_cutoff must be > 0, beta >= 0");
  state_->opt = o;
}
LandmarkSmoother::~LandmarkSmoother() = default;
LandmarkSmoother::LandmarkSmoother(LandmarkSmoother&&) noexcept = default;
LandmarkSmoother& LandmarkSmoother::operator=(LandmarkSmoother&&) noexcept = default;

void LandmarkSmoother::reset() {
  state_->tracks.clear();
  state_->by_id.clear();
  state_->last_time = -1;
}

std::vector<FaceLandmarks> LandmarkSmoother::update(const std::vector<FaceLandmarks>& faces, double t) {
  auto& tracks = state_->tracks;
  const SmoothingOptions& opt = state_->opt;
  const double dt = state_->step(t);

  // Greedy matching, best overlap first.
  std::vector<std::tuple<float, size_t, size_t>> pairs;
  for (size_t i = 0; i < faces.size(); ++i)
    for (size_t k = 0; k < tracks.size(); ++k)
      if (const float o = iou(faces[i].face.box, tracks[k].box); o >= 0.3f) pairs.emplace_back(o, i, k);
  std::sort(pairs.begin(), pairs.end(), [](auto& a, auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<int> track_of(faces.size(), -1);
  std::vector<bool> used(tracks.size(), false);
  for (auto& [o, i, k] : pairs)
    if (track_of[i] < 0 && !used[k]) track_of[i] = int(k), used[k] = true;

  std::vector<Track> next;
  std::vector<FaceLandmarks> out = faces;
  for (size_t i = 0; i < out.size(); ++i) {
    Track tr = track_of[i] >= 0 ? std::move(tracks[size_t(track_of[i])]) : Track{};
    filterFace(out[i], tr, dt, opt);
    next.push_back(std::move(tr));
  }
  tracks = std::move(next);
  return out;
}

std::vector<FaceLandmarks> LandmarkSmoother::update(const std::vector<FaceLandmarks>& faces, const std::vector<int>& ids, double t) {
  if (ids.size() != faces.size()) throw Error(Error::Code::kInvalidArgument, "LandmarkSmoother: one id per face");
  const double dt = state_->step(t);
  std::map<int, Track> next;
  std::vector<FaceLandmarks> out = faces;
  for (size_t i = 0; i < out.size(); ++i) {
    auto it = state_->by_id.find(ids[i]);
    Track tr = it != state_->by_id.end() ? std::move(it->second) : Track{};
    filterFace(out[i], tr, dt, state_->opt);
    next[ids[i]] = std::move(tr);
  }
  state_->by_id = std::move(next);
  return out;
}

}  // namespace facekit
