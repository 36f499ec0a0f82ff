// Detect -> crop (rotated so the eyes are level) -> landmark model (facekit-106 or the face
// mesh) -> re-crop from its points -> 106 points + head pose.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "facekit/error.hpp"
#include "facekit/landmarks.hpp"
#include "models/cv_interop.hpp"
#include "models/facemesh/facemesh.hpp"
#include "models/landmarks/crop106.hpp"
#include "models/landmarks/head_pose.hpp"
#include "models/landmarks/landmark106_net.hpp"
#include "models/landmarks/layout106.hpp"

namespace facekit {
namespace {

// A square crop of side `side` centred at (cx, cy), rotated by `angle` radians (clockwise in
// the image), mapped onto the model's 192 x 192 input.
struct Crop {
  double cx, cy, side, angle;
  double scale() const { return facemesh::kInputSize / side; }
  cv::Matx23d toCrop() const {  // image -> crop
    const double s = scale(), c = std::cos(angle), n = std::sin(angle), h = facemesh::kInputSize / 2.0;
    // q = s * R(-angle) * (p - centre) + h
    return cv::Matx23d(s * c, s * n, h - s * (c * cx + n * cy), -s * n, s * c, h - s * (-n * cx + c * cy));
  }
  std::array<float, 3> toImage(const std::array<float, 3>& q) const {
    const double s = scale(), c = std::cos(angle), n = std::sin(angle), h = facemesh::kInputSize / 2.0;
    const double u = (q[0] - h) / s, v = (q[1] - h) / s;
    return {float(cx + c * u - n * v), float(cy + n * u + c * v), float(q[2] / s)};
  }
};

DetectorOptions withThreads(const LandmarkerOptions& o) {
  DetectorOptions d = o.detector;
  d.num_threads = o.num_threads;
  return d;
}

void checkCommonOptions(const LandmarkerOptions& o) {
  if (o.refine_passes < -1 || o.refine_passes > 5) throw Error(Error::Code::kInvalidArgument, "LandmarkerOptions: refine_passes must be in 0..5 (or -1: the backend's default)");
}

// The crop as RGB, whatever the input's pixel format.
void toRgb(cv::Mat& patch, PixelFormat format) {
  if (patch.channels() == 1) cv::cvtColor(patch, patch, cv::COLOR_GRAY2RGB);
  else if (format == PixelFormat::kBGR) cv::cvtColor(patch, patch, cv::COLOR_BGR2RGB);
}

// A face in the detector's convention from 106 points: the box framing inverted (the box the
// detector would give for a face framed like this), the 5 points from their 106-point twins.
Face faceFromPoints(const std::array<Point2f, kNumLandmarks106>& p, const landmarks::BoxCalibration& k, float score) {
  const landmarks::Crop106 c = landmarks::cropFromPoints(p);
  const double side = c.side / k.scale, cs = std::cos(c.angle), sn = std::sin(c.angle);
  const double ox = k.dx * side, oy = k.dy * side;
  const double bx = c.cx - (cs * ox - sn * oy), by = c.cy - (sn * ox + cs * oy);
  Face f;
  f.score = score;
  f.box = {float(bx - side / 2), float(by - side / 2), float(bx + side / 2), float(by + side / 2)};
  f.landmarks = {p[74], p[83], p[64], p[84], p[90]};
  return f;
}

// What landmark() and track() refuse, as the detector does (a crop from a NaN, infinite or empty
// box or from NaN points is NaN, and OpenCV throws its own exception on a view without data).
void checkView(const ImageView& v, const char* what) {
  if (!v.data) throw Error(Error::Code::kInvalidArgument, std::string(what) + ": image view has no data");
  if (v.width < 12 || v.height < 12)
    throw Error(Error::Code::kInvalidArgument, std::string(what) + ": image is " + std::to_string(v.width) + "x" + std::to_string(v.height) +
                                                   " pixels; facekit needs at least 12x12");
}
bool finite(const Point2f& p) { return std::isfinite(p.x) && std::isfinite(p.y); }
void checkFace(const ImageView& v, const Face& f) {
  checkView(v, "FaceLandmarker::landmark");
  const Box& b = f.box;
  if (!(b.width() > 0 && b.height() > 0) || !std::isfinite(b.x1 + b.y1 + b.x2 + b.y2) || !finite(f.landmarks[0]) || !finite(f.landmarks[1]))
    throw Error(Error::Code::kInvalidArgument, "FaceLandmarker::landmark: the face's box is empty or not finite, or its eye points are not finite");
}
inline Point2f xy(const Point2f& p) { return p; }
inline Point2f xy(const std::array<float, 3>& p) { return {p[0], p[1]}; }
template <class Points>
void checkPoints(const ImageView& v, const Points& pts) {
  checkView(v, "FaceLandmarker::track");
  float x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  bool first = true;
  for (const auto& p : pts) {
    const float x = xy(p).x, y = xy(p).y;
    if (!std::isfinite(x) || !std::isfinite(y))
      throw Error(Error::Code::kInvalidArgument, "FaceLandmarker::track: the previous frame's points are not finite");
    if (first) x0 = x1 = x, y0 = y1 = y, first = false;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!(x1 - x0 > 0 || y1 - y0 > 0)) throw Error(Error::Code::kInvalidArgument, "FaceLandmarker::track: the previous frame's points all coincide");
}

float wrapDegrees(double a) {
  while (a > 180) a -= 360;
  while (a <= -180) a += 360;
  return float(a);
}

class Net106Landmarker final : public FaceLandmarker {
 public:
  explicit Net106Landmarker(const LandmarkerOptions& o)
      : opt_((checkCommonOptions(o), o)),
        detector_(FaceDetector::create(withThreads(o))),
        // One thread for the network whatever num_threads says: its layers (0.1 ms in all) are too
        // small to split, and a second thread only adds waits (num_threads still serves the detector).
        net_(o.model_path.empty() ? defaultModelPath("landmark106.safetensors") : o.model_path, engine::Backend::kFast, 1) {}

  std::vector<FaceLandmarks> detect(const ImageView& image) override {
    std::vector<FaceLandmarks> out;
    for (const Face& f : detector_->detect(image)) out.push_back(landmark(image, f));
    return out;
  }

  FaceLandmarks landmark(const ImageView& image, const Face& face) override {
    checkFace(image, face);
    FaceLandmarks r;
    r.face = face;
    r.confidence = face.score;
    run(image, landmarks::cropFromFace(face, net_.calibration()), opt_.refine_passes < 0 ? 0 : opt_.refine_passes, r);
    return r;
  }

  FaceLandmarks track(const ImageView& image, const FaceLandmarks& previous) override {
    checkPoints(image, previous.points);
    FaceLandmarks r;
    r.face.score = previous.face.score;
    r.confidence = previous.confidence;
    run(image, landmarks::cropFromPoints(previous.points), 0, r);
    r.face = faceFromPoints(r.points, net_.calibration(), previous.face.score);
    return r;
  }

 private:
  // Model passes from a first crop: each later pass re-crops from the previous pass's points.
  void run(const ImageView& image, landmarks::Crop106 crop, int refine_passes, FaceLandmarks& r) {
    const cv::Mat src = matView(image);
    const int size = net_.inputSize();
    for (int pass = 0; pass <= refine_passes; ++pass) {
      if (pass > 0) crop = landmarks::cropFromPoints(r.points);
      landmarks::cropPatch(src, crop, size, patch_);
      toRgb(patch_, image.format);
      const landmarks::Landmark106Output o = net_.run(patch_.data);
      for (size_t i = 0; i < o.points.size(); ++i) r.points[i] = crop.toImage(o.points[i].x, o.points[i].y, size);
      r.pose = {o.pose.pitch, o.pose.yaw, wrapDegrees(o.pose.roll + crop.angle * (180.0 / 3.14159265358979323846))};
    }
  }

  LandmarkerOptions opt_;
  std::unique_ptr<FaceDetector> detector_;
  landmarks::Landmark106Net net_;
  cv::Mat patch_;
};

class MeshLandmarker final : public FaceLandmarker {
 public:
  explicit MeshLandmarker(const LandmarkerOptions& o)
      : opt_(o),
        detector_(FaceDetector::create(withThreads(o))),
        mesh_(o.mesh_model_path.empty() ? defaultModelPath("facemesh.safetensors") : o.mesh_model_path, engine::Backend::kFast,
              o.num_threads) {
    if (!(o.crop_scale >= 1.0f && o.crop_scale <= 4.0f)) throw Error(Error::Code::kInvalidArgument, "LandmarkerOptions: crop_scale must be in [1, 4]");
    checkCommonOptions(o);
  }

  std::vector<FaceLandmarks> detect(const ImageView& image) override {
    std::vector<FaceLandmarks> out;
    for (const Face& f : detector_->detect(image)) out.push_back(landmark(image, f));
    return out;
  }

  FaceLandmarks landmark(const ImageView& image, const Face& face) override {
    checkFace(image, face);
    const Point2f le = face.landmarks[0], re = face.landmarks[1];
    const Crop crop{0.5 * (face.box.x1 + face.box.x2), 0.5 * (face.box.y1 + face.box.y2),
                    opt_.crop_scale * std::max(face.box.width(), face.box.height()), std::atan2(re.y - le.y, re.x - le.x)};
    FaceLandmarks r = runMesh(image, crop, opt_.refine_passes < 0 ? 1 : opt_.refine_passes);
    r.face = face;
    return r;
  }

  FaceLandmarks track(const ImageView& image, const FaceLandmarks& previous) override {
    if (previous.mesh.size() != size_t(facemesh::kVertices))
      throw Error(Error::Code::kInvalidArgument, "FaceLandmarker::track: the mesh backend needs the previous frame's mesh");
    checkPoints(image, previous.mesh);
    FaceLandmarks r = runMesh(image, cropFromMesh(previous.mesh), 0);
    r.face = previous.face;
    // The mesh spans about the detector's box: its extent is the box.
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (const auto& q : r.mesh) x0 = std::min(x0, q[0]), y0 = std::min(y0, q[1]), x1 = std::max(x1, q[0]), y1 = std::max(y1, q[1]);
    r.face.box = {x0, y0, x1, y1};
    const auto& p = r.points;
    r.face.landmarks = {p[74], p[83], p[64], p[84], p[90]};
    return r;
  }

 private:
  FaceLandmarks runMesh(const ImageView& image, Crop crop, int refine_passes) {
    const cv::Mat src = matView(image);
    FaceLandmarks r;
    for (int pass = 0; pass <= refine_passes; ++pass) {
      if (pass > 0) crop = cropFromMesh(r.mesh);
      cv::warpAffine(src, patch_, crop.toCrop(), cv::Size(facemesh::kInputSize, facemesh::kInputSize), cv::INTER_LINEAR,
                     cv::BORDER_CONSTANT);
      toRgb(patch_, image.format);
      const facemesh::MeshOutput m = mesh_.run(patch_.data);
      r.mesh.resize(m.mesh.size());
      for (size_t i = 0; i < m.mesh.size(); ++i) r.mesh[i] = crop.toImage(m.mesh[i]);
      r.confidence = m.face_flag;
    }
    r.points = landmarks::meshTo106(r.mesh);
    if (landmarks::havePoseTemplate()) r.pose = landmarks::headPose(r.mesh);
    return r;
  }

  // The next crop from the mesh: eye line for the angle, the mesh's extent (in that rotated
  // frame) for centre and size. The mesh spans about the detector's box, so the same scale holds.
  Crop cropFromMesh(const landmarks::Mesh& mesh) const {
    auto mid = [&](int a, int b) { return cv::Point2d(0.5 * (mesh[size_t(a)][0] + mesh[size_t(b)][0]), 0.5 * (mesh[size_t(a)][1] + mesh[size_t(b)][1])); };
    const cv::Point2d le = mid(33, 133), re = mid(263, 362);
    const double angle = std::atan2(re.y - le.y, re.x - le.x), c = std::cos(angle), s = std::sin(angle);
    double u0 = 1e30, u1 = -1e30, v0 = 1e30, v1 = -1e30;
    for (const auto& p : mesh) {
      const double u = c * p[0] + s * p[1], v = -s * p[0] + c * p[1];
      u0 = std::min(u0, u), u1 = std::max(u1, u), v0 = std::min(v0, v), v1 = std::max(v1, v);
    }
    const double uc = 0.5 * (u0 + u1), vc = 0.5 * (v0 + v1);
    return {c * uc - s * vc, s * uc + c * vc, opt_.crop_scale * std::max(u1 - u0, v1 - v0), angle};
  }

  LandmarkerOptions opt_;
  std::unique_ptr<FaceDetector> detector_;
  facemesh::FaceMesh mesh_;
  cv::Mat patch_;
};

}  // namespace

std::unique_ptr<FaceLandmarker> FaceLandmarker::create(const LandmarkerOptions& options) {
  if (options.backend == LandmarkBackend::kMesh) return std::make_unique<MeshLandmarker>(options);
  return std::make_unique<Net106Landmarker>(options);
}

}  // namespace facekit
