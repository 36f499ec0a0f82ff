#include "pipeline/label_consensus.hpp"

#include <cmath>
#include <opencv2/core.hpp>
#include <random>

#include "models/cv_interop.hpp"

namespace facekit {
namespace {

float wrapDegrees(float a) {
  while (a > 180.f) a -= 360.f;
  while (a <= -180.f) a += 360.f;
  return a;
}

float interOcular(const FaceLandmarks& f) {
  const Point2f a = f.points[74], b = f.points[83];
  return std::hypot(a.x - b.x, a.y - b.y);
}

}  // namespace

Face mirrorFace(const Face& f, int width) {
  Face m = f;
  const float w = float(width);
  m.box = {w - f.box.x2, f.box.y1, w - f.box.x1, f.box.y2};
  static const int swap5[5] = {1, 0, 2, 4, 3};
  for (int i = 0; i < 5; ++i) m.landmarks[size_t(i)] = {w - f.landmarks[size_t(swap5[i])].x, f.landmarks[size_t(swap5[i])].y};
  return m;
}

FaceLandmarks unmirrorLandmarks(const FaceLandmarks& m, int width) {
  FaceLandmarks r = m;
  const float w = float(width);
  r.face = mirrorFace(m.face, width);  // mirroring is an involution
  const auto& mirror = landmark106Mirror();
  for (size_t i = 0; i < r.points.size(); ++i) r.points[i] = {w - m.points[size_t(mirror[i])].x, m.points[size_t(mirror[i])].y};
  r.pose.yaw = -m.pose.yaw;
  r.pose.roll = -m.pose.roll;
  r.mesh.clear();  // the mesh has its own (unshipped) mirror map; consensus keeps the first pass's
  return r;
}

ConsensusLandmarks consensusLandmarks(FaceLandmarker& lm, const ImageView& image, const Face& face, const ConsensusOptions& opt) {
  std::vector<FaceLandmarks> passes;
  passes.push_back(lm.landmark(image, face));
  if (opt.mirror) {
    cv::Mat flipped;
    cv::flip(matView(image), flipped, 1);
    const ImageView fv{flipped.data, flipped.cols, flipped.rows, image.format, flipped.step};
    passes.push_back(unmirrorLandmarks(lm.landmark(fv, mirrorFace(face, image.width)), image.width));
  }
  std::mt19937_64 rng(opt.seed);
  std::uniform_real_distribution<float> u(-opt.jitter, opt.jitter);
  for (int j = 0; j < opt.jitters; ++j) {
    Face f = face;
    const float side = std::max(f.box.width(), f.box.height());
    const float dx = u(rng) * side, dy = u(rng) * side, s = 1.f + u(rng);
    const float cx = 0.5f * (f.box.x1 + f.box.x2) + dx, cy = 0.5f * (f.box.y1 + f.box.y2) + dy;
    const float hw = 0.5f * s * f.box.width(), hh = 0.5f * s * f.box.height();
    f.box = {cx - hw, cy - hh, cx + hw, cy + hh};
    for (auto& p : f.landmarks) p = {p.x + dx, p.y + dy};
    passes.push_back(lm.landmark(image, f));
  }

  ConsensusLandmarks r;
  r.passes = int(passes.size());
  FaceLandmarks& avg = r.landmarks;
  avg = passes[0];
  const float n = float(passes.size());
  for (size_t i = 0; i < avg.points.size(); ++i) {
    double x = 0, y = 0;
    for (const auto& p : passes) x += p.points[i].x, y += p.points[i].y;
    avg.points[i] = {float(x / n), float(y / n)};
  }
  // Angles are averaged as offsets from the first pass, so a roll near +-180 does not wrap.
  double dp = 0, dy = 0, dr = 0, conf = 0;
  for (const auto& p : passes) {
    dp += wrapDegrees(p.pose.pitch - passes[0].pose.pitch);
    dy += wrapDegrees(p.pose.yaw - passes[0].pose.yaw);
    dr += wrapDegrees(p.pose.roll - passes[0].pose.roll);
    conf += p.confidence;
  }
  avg.pose = {wrapDegrees(passes[0].pose.pitch + float(dp / n)), wrapDegrees(passes[0].pose.yaw + float(dy / n)),
              wrapDegrees(passes[0].pose.roll + float(dr / n))};
  avg.confidence = float(conf / n);
  const float iod = std::max(interOcular(avg), 1e-3f);
  double spread = 0;
  for (const auto& p : passes) {
    double d = 0;
    for (size_t i = 0; i < avg.points.size(); ++i) d += std::hypot(p.points[i].x - avg.points[i].x, p.points[i].y - avg.points[i].y);
    spread += d / double(avg.points.size()) / iod;
  }
  r.spread = float(spread / n);
  return r;
}

}  // namespace facekit
