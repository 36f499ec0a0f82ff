#include "models/landmarks/head_pose.hpp"

#include <cmath>
#include <opencv2/core.hpp>
#include <sstream>

#include "facekit/error.hpp"
#include "facekit_pose_template.inc"  // kPoseTemplateCsv, generated from data/pose_template.csv

namespace facekit::landmarks {
namespace {

constexpr double kDeg = 180.0 / M_PI;

// Image-left / image-right twins of an upright frontal face (eyes, brows, mouth, cheeks).
constexpr int kLeft[] = {33, 133, 61, 234, 70, 105, 159, 145};
constexpr int kRight[] = {263, 362, 291, 454, 300, 334, 386, 374};

cv::Matx31d centroid(const Mesh& m) {
  cv::Matx31d c(0, 0, 0);
  for (const auto& p : m) c += cv::Matx31d(p[0], p[1], p[2]);
  return c * (1.0 / double(m.size()));
}

Mesh normalised(const Mesh& m) {
  const auto c = centroid(m);
  double ss = 0;
  for (const auto& p : m) ss += (p[0] - c(0)) * (p[0] - c(0)) + (p[1] - c(1)) * (p[1] - c(1)) + (p[2] - c(2)) * (p[2] - c(2));
  const double s = 1.0 / std::sqrt(ss / double(m.size()));
  Mesh out(m.size());
  for (size_t i = 0; i < m.size(); ++i)
    for (int k = 0; k < 3; ++k) out[i][size_t(k)] = float((m[i][size_t(k)] - c(k)) * s);
  return out;
}

Mesh rotated(const Mesh& m, const cv::Matx33d& r) {
  Mesh out(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    const cv::Matx31d v = r * cv::Matx31d(m[i][0], m[i][1], m[i][2]);
    out[i] = {float(v(0)), float(v(1)), float(v(2))};
  }
  return out;
}

cv::Matx33d toMatx(const std::array<double, 9>& a) { return cv::Matx33d(a.data()); }

const Mesh& poseTemplate() {
  static const Mesh t = [] {
    Mesh m;
    std::istringstream in(kPoseTemplateCsv);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#' || line[0] == 'x') continue;
      std::array<float, 3> p{};
      if (std::sscanf(line.c_str(), "%f,%f,%f", &p[0], &p[1], &p[2]) == 3) m.push_back(p);
    }
    return m;
  }();
  return t;
}

}  // namespace

std::array<double, 9> alignRotation(const Mesh& from, const Mesh& to) {
  if (from.size() != to.size() || from.size() < 3) throw Error(Error::Code::kInvalidArgument, "alignRotation: point sets differ in size");
  const auto cf = centroid(from), ct = centroid(to);
  cv::Matx33d h = cv::Matx33d::zeros();
  for (size_t i = 0; i < from.size(); ++i)
    h += cv::Matx31d(to[i][0] - ct(0), to[i][1] - ct(1), to[i][2] - ct(2)) *
         cv::Matx31d(from[i][0] - cf(0), from[i][1] - cf(1), from[i][2] - cf(2)).t();
  cv::Mat w, u, vt;
  cv::SVD::compute(cv::Mat(h), w, u, vt);
  const cv::Matx33d U(u), Vt(vt);
  const double d = cv::determinant(U * Vt) < 0 ? -1.0 : 1.0;  // a rotation, never a reflection
  const cv::Matx33d r = U * cv::Matx33d(1, 0, 0, 0, 1, 0, 0, 0, d) * Vt;
  std::array<double, 9> out{};
  for (int i = 0; i < 9; ++i) out[size_t(i)] = r.val[i];
  return out;
}

// R = Rz(roll) * Ry(yaw) * Rx(-pitch) (see landmarks.hpp for the signs).
HeadPose eulerFromRotation(const std::array<double, 9>& r) {
  const double y_math = std::asin(std::clamp(-r[6], -1.0, 1.0));
  const double p_math = std::atan2(r[7], r[8]);
  const double roll = std::atan2(r[3], r[0]);
  return {float(-p_math * kDeg), float(y_math * kDeg), float(roll * kDeg)};
}

std::array<double, 9> rotationFromEuler(const HeadPose& p) {
  const double a = -p.pitch / kDeg, b = p.yaw / kDeg, c = p.roll / kDeg;
  const cv::Matx33d rx(1, 0, 0, 0, std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a));
  const cv::Matx33d ry(std::cos(b), 0, std::sin(b), 0, 1, 0, -std::sin(b), 0, std::cos(b));
  const cv::Matx33d rz(std::cos(c), -std::sin(c), 0, std::sin(c), std::cos(c), 0, 0, 0, 1);
  const cv::Matx33d r = rz * ry * rx;
  std::array<double, 9> out{};
  for (int i = 0; i < 9; ++i) out[size_t(i)] = r.val[i];
  return out;
}

bool havePoseTemplate() { return poseTemplate().size() == 468; }

HeadPose headPose(const Mesh& mesh) {
  if (!havePoseTemplate()) throw Error(Error::Code::kInternal, "facekit was built without data/pose_template.csv");
  return eulerFromRotation(alignRotation(poseTemplate(), mesh));
}

Mesh buildPoseTemplate(const std::vector<Mesh>& meshes) {
  if (meshes.empty()) throw Error(Error::Code::kInvalidArgument, "buildPoseTemplate: no meshes");
  std::vector<Mesh> norm;
  for (const auto& m : meshes) norm.push_back(normalised(m));
  Mesh ref = norm[0];
  for (int iter = 0; iter < 10; ++iter) {  // generalised Procrustes: align all to the mean, repeat
    Mesh sum(ref.size(), {0, 0, 0});
    for (const auto& m : norm) {
      const Mesh a = rotated(m, toMatx(alignRotation(m, ref)));
      for (size_t i = 0; i < a.size(); ++i)
        for (size_t k = 0; k < 3; ++k) sum[i][k] += a[i][k];
    }
    for (auto& p : sum)
      for (auto& v : p) v /= float(norm.size());
    ref = normalised(sum);
  }
  // Put the mean shape in the photos' average view: average the rotations that take it onto
  // each mesh (projected back onto SO(3)), so "frontal" means "as the frontal photos face the
  // camera" rather than a facial line that may slope.
  cv::Matx33d sum = cv::Matx33d::zeros();
  for (const auto& m : norm) sum += toMatx(alignRotation(ref, m));
  cv::Mat w, u, vt;
  cv::SVD::compute(cv::Mat(sum), w, u, vt);
  ref = rotated(ref, cv::Matx33d(u) * cv::Matx33d(vt));
  // Then remove the residual yaw and roll by the face's symmetry: x runs from the image-left to
  // the image-right twins; z stays as close to the camera axis as that allows; y = z cross x.
  auto mean = [&](const int* idx, size_t n) {
    cv::Vec3d acc(0, 0, 0);
    for (size_t i = 0; i < n; ++i) acc += cv::Vec3d(ref[size_t(idx[i])][0], ref[size_t(idx[i])][1], ref[size_t(idx[i])][2]);
    return acc * (1.0 / double(n));
  };
  const cv::Vec3d x = cv::normalize(mean(kRight, std::size(kRight)) - mean(kLeft, std::size(kLeft)));
  const cv::Vec3d cam_z(0, 0, 1);
  const cv::Vec3d z = cv::normalize(cam_z - x * cam_z.dot(x));
  const cv::Vec3d y = z.cross(x);
  const cv::Matx33d frame(x[0], x[1], x[2], y[0], y[1], y[2], z[0], z[1], z[2]);
  return rotated(ref, frame);
}

std::string poseTemplateCsv(const Mesh& t) {
  std::ostringstream o;
  o << "x,y,z\n";
  char buf[96];
  for (const auto& p : t) {
    std::snprintf(buf, sizeof buf, "%.6f,%.6f,%.6f\n", p[0], p[1], p[2]);
    o << buf;
  }
  return o.str();
}

}  // namespace facekit::landmarks
