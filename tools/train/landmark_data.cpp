#include "landmark_data.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <opencv2/imgproc.hpp>

#include "facekit/error.hpp"
#include "facekit/image.hpp"
#include "models/cv_interop.hpp"

namespace facekit::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

float wrapDegrees(double a) {
  while (a > 180) a -= 360;
  while (a <= -180) a += 360;
  return float(a);
}

struct LabelLine {
  std::string image;
  Points106 points;
  Face face;
  HeadPose pose;
  std::string where;  // file:line, for errors found once the image is read
};

// A field of a label line that is missing or malformed: what() names it, loadDataset adds the
// file and line.
struct BadField : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Coordinates (pixels) and angles (degrees) beyond these are not labels of a photo: refused, so
// that what is computed from them (int pixel positions, region sizes, wrapped angles) stays
// defined and bounded.
constexpr double kMaxCoordinate = 1e6;
constexpr double kMaxDegrees = 360;

const Json& field(const Json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw BadField(std::string("no \"") + key + "\"");
  return *it;
}

float number(const Json& v, const std::string& what, double limit) {
  if (!v.is_number()) throw BadField(what + " is not a number");
  const double d = v.get<double>();
  if (!(std::fabs(d) <= limit)) throw BadField(what + " is out of range");
  return float(d);
}

// An array of exactly n numbers (or at least n when `at_least`).
const Json& numbers(const Json& v, const std::string& what, size_t n, bool at_least = false) {
  if (!v.is_array() || (at_least ? v.size() < n : v.size() != n))
    throw BadField(what + " is not " + (at_least ? "an array of at least " : "an array of ") + std::to_string(n) + " numbers");
  return v;
}

LabelLine parseLabel(const Json& j) {
  LabelLine l;
  const Json& image = field(j, "image");
  if (!image.is_string()) throw BadField("\"image\" is not a string");
  l.image = image.get<std::string>();
  const Json& pts = field(j, "points");
  if (!pts.is_array() || pts.size() != kNumLandmarks106) throw BadField("\"points\" is not an array of 106 points");
  for (size_t i = 0; i < kNumLandmarks106; ++i) {
    const std::string name = "point " + std::to_string(i);
    const Json& pt = numbers(pts[i], name, 2, /*at_least=*/true);
    l.points[i] = {number(pt[0], name, kMaxCoordinate), number(pt[1], name, kMaxCoordinate)};
  }
  const Json& b = numbers(field(j, "box"), "\"box\"", 4);
  l.face.box = {number(b[0], "\"box\"", kMaxCoordinate), number(b[1], "\"box\"", kMaxCoordinate), number(b[2], "\"box\"", kMaxCoordinate),
                number(b[3], "\"box\"", kMaxCoordinate)};
  const Json& kp = numbers(field(j, "keypoints"), "\"keypoints\"", 10);
  for (size_t i = 0; i < 5; ++i)
    l.face.landmarks[i] = {number(kp[2 * i], "\"keypoints\"", kMaxCoordinate), number(kp[2 * i + 1], "\"keypoints\"", kMaxCoordinate)};
  l.face.score = j.contains("score") ? number(j["score"], "\"score\"", 1e6) : 1.0f;
  const Json& p = field(j, "pose");
  if (!p.is_object()) throw BadField("\"pose\" is not an object");
  l.pose = {number(field(p, "pitch"), "pose pitch", kMaxDegrees), number(field(p, "yaw"), "pose yaw", kMaxDegrees),
            number(field(p, "roll"), "pose roll", kMaxDegrees)};
  return l;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

namespace {
// A config value outside what the trainer can use: one line naming the key.
template <typename T>
T inRange(T v, T lo, T hi, const std::string& key) {
  if (!(v >= lo && v <= hi)) {
    std::ostringstream msg;
    msg << "config: key '" << key << "' must be in [" << lo << ", " << hi << "], not " << v;
    throw Error(Error::Code::kInvalidArgument, msg.str());
  }
  return v;
}
}  // namespace

DataOptions DataOptions::fromConfig(const Json& d) {
  DataOptions o;
  o.labels = get<std::vector<std::string>>(d, "labels");
  o.val_fraction = inRange(get<double>(d, "val_fraction"), 0.0, 1.0, "data.val_fraction");
  o.min_face_px = inRange(get<double>(d, "min_face_px"), 0.0, 1e6, "data.min_face_px");
  o.max_spread = inRange(get<double>(d, "max_spread"), 0.0, 1e6, "data.max_spread");
  o.region_px = inRange(get<int>(d, "region_px"), 16, 2048, "data.region_px");
  o.max_faces = size_t(std::max(0, get<int>(d, "max_faces")));
  o.large_pose_repeat = d.contains("large_pose_repeat") ? inRange(get<int>(d, "large_pose_repeat"), 1, 100, "data.large_pose_repeat") : 1;
  return o;
}

AugmentOptions AugmentOptions::fromConfig(const Json& a) {
  AugmentOptions o;
  auto prob = [&](const char* key) { return inRange(get<double>(a, key), 0.0, 1.0, std::string("augment.") + key); };
  o.box_crop_prob = prob("box_crop_prob");
  o.scale = inRange(get<double>(a, "scale"), 0.0, 0.9, "augment.scale");
  o.shift = inRange(get<double>(a, "shift"), 0.0, 1.0, "augment.shift");
  o.rotate_deg = inRange(get<double>(a, "rotate_deg"), 0.0, 180.0, "augment.rotate_deg");
  o.full_circle_prob = prob("full_circle_prob");
  o.flip_prob = prob("flip_prob");
  o.color = inRange(get<double>(a, "color"), 0.0, 1.0, "augment.color");
  o.gray_prob = prob("gray_prob");
  o.blur_prob = prob("blur_prob");
  o.motion_blur_prob = prob("motion_blur_prob");
  o.occlusion_prob = prob("occlusion_prob");
  o.noise_prob = prob("noise_prob");
  return o;
}

std::vector<size_t> epochIndices(const std::vector<FaceSample>& train, int large_pose_repeat) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < train.size(); ++i) {
    const bool large = std::fabs(train[i].pose.yaw) >= 30 || std::fabs(train[i].pose.pitch) >= 25;
    for (int r = 0; r < (large ? large_pose_repeat : 1); ++r) idx.push_back(i);
  }
  return idx;
}

bool isValidationImage(const std::string& image_path, double val_fraction) {
  const std::string name = std::filesystem::path(image_path).filename().string();
  return double(fnv1a(name) % 10000) < val_fraction * 10000;
}

Dataset loadDataset(const DataOptions& opt, int threads) {
  Dataset ds;
  std::vector<LabelLine> lines;
  for (const auto& file : opt.labels) {
    std::ifstream in(file);
    if (!in) throw Error(Error::Code::kIoError, file + ": cannot read the label file");
    size_t line_no = 0;
    for (std::string text; std::getline(in, text);) {
      ++line_no;
      if (text.empty()) continue;
      const std::string where = file + ":" + std::to_string(line_no);
      auto badLine = [&](const std::string& what) { return Error(Error::Code::kInvalidArgument, where + ": " + what); };
      Json j;
      try {
        j = Json::parse(text);
      } catch (const Json::exception&) {  // syntax, and numbers beyond double's range (1e400)
        throw badLine("not a JSON line");
      }
      if (!j.is_object()) throw badLine("not a facekit label line (a JSON object)");
      // "unstable" faces (the label passes disagreed beyond the labeller's limit) are judged
      // again by this config's own max_spread below; low-confidence and no-face lines never count.
      std::string status;
      if (j.contains("status")) {
        if (!j["status"].is_string()) throw badLine("\"status\" is not a string");
        status = j["status"].get<std::string>();
      }
      if (status != "ok" && status != "unstable") {
        ++ds.skipped_status;
        continue;
      }
      LabelLine l;
      double spread = status == "ok" ? 0.0 : 1.0;
      try {
        l = parseLabel(j);
        if (j.contains("spread")) spread = number(j["spread"], "\"spread\"", 1e6);
      } catch (const BadField& e) {
        throw badLine(std::string("not a facekit label line: ") + e.what() + " (needs image, points x106, box, keypoints, pose)");
      }
      l.where = where;
      if (std::max(l.face.box.width(), l.face.box.height()) < opt.min_face_px) {
        ++ds.skipped_small;
        continue;
      }
      if (spread > opt.max_spread) {
        ++ds.skipped_spread;
        continue;
      }
      lines.push_back(std::move(l));
    }
  }
  if (opt.max_faces && lines.size() > opt.max_faces) lines.resize(opt.max_faces);

  // Group by image, so a photo with many faces is decoded once.
  std::map<std::string, std::vector<size_t>> by_image;
  for (size_t i = 0; i < lines.size(); ++i) by_image[lines[i].image].push_back(i);
  std::vector<const std::pair<const std::string, std::vector<size_t>>*> groups;
  for (const auto& g : by_image) groups.push_back(&g);

  std::vector<FaceSample> samples(lines.size());
  std::vector<char> ok(lines.size(), 0);
  std::vector<std::string> bad(lines.size());  // a line whose points do not fit its image
  std::atomic<size_t> next{0};
  std::atomic<size_t> unreadable{0};
  auto work = [&] {
    for (size_t gi; (gi = next++) < groups.size();) {
      const auto& [path, idx] = *groups[gi];
      Image img;
      try {
        img = loadImage(path);
      } catch (const Error&) {
        ++unreadable;
        continue;
      }
      cv::Mat rgb = matView(img.view());
      if (rgb.channels() == 1) cv::cvtColor(rgb, rgb, cv::COLOR_GRAY2RGB);
      for (size_t i : idx) {
        const LabelLine& l = lines[i];
        float x0 = 1e30f, x1 = -1e30f, y0 = 1e30f, y1 = -1e30f;
        for (const auto& p : l.points) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
        const double side = opt.region_scale * std::max(x1 - x0, y1 - y0);
        const int rx = int(std::floor(0.5 * (x0 + x1) - side / 2)), ry = int(std::floor(0.5 * (y0 + y1) - side / 2));
        const int rs = std::max(2, int(std::ceil(side)));
        const cv::Rect inside = cv::Rect(rx, ry, rs, rs) & cv::Rect(0, 0, rgb.cols, rgb.rows);
        // Points spread far beyond the photo, or all outside it, are not labels of this photo
        // (and would ask for a region of gigabytes).
        if (rs > 4 * std::max(rgb.cols, rgb.rows) || inside.area() <= 0) {
          bad[i] = l.where + ": the 106 points do not lie on the image " + path + " (" + std::to_string(rgb.cols) + "x" +
                   std::to_string(rgb.rows) + ")";
          continue;
        }
        // The region with a black border where it leaves the image.
        cv::Mat roi(rs, rs, CV_8UC3, cv::Scalar::all(0));
        rgb(inside).copyTo(roi(cv::Rect(inside.x - rx, inside.y - ry, inside.width, inside.height)));
        FaceSample& s = samples[i];
        cv::resize(roi, s.region, cv::Size(opt.region_px, opt.region_px), 0, 0, rs > opt.region_px ? cv::INTER_AREA : cv::INTER_LINEAR);
        const float k = float(opt.region_px) / float(rs);
        auto to = [&](Point2f p) { return Point2f{(p.x - float(rx)) * k, (p.y - float(ry)) * k}; };
        s.image = l.image;
        for (size_t q = 0; q < l.points.size(); ++q) s.points[q] = to(l.points[q]);
        s.face = l.face;
        const Point2f a = to({l.face.box.x1, l.face.box.y1}), b = to({l.face.box.x2, l.face.box.y2});
        s.face.box = {a.x, a.y, b.x, b.y};
        for (auto& p : s.face.landmarks) p = to(p);
        s.pose = l.pose;
        ok[i] = 1;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  ds.unreadable = unreadable;
  for (const auto& b : bad)
    if (!b.empty()) throw Error(Error::Code::kInvalidArgument, b);
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!ok[i]) continue;
    (isValidationImage(samples[i].image, opt.val_fraction) ? ds.val : ds.train).push_back(std::move(samples[i]));
  }
  if (ds.train.empty()) throw Error(Error::Code::kInvalidArgument, "no usable training faces in the label files (status ok, big enough, stable)");

  // Box framing calibrated so that, on average, it frames faces as the points do.
  std::vector<double> ratio, dx, dy;
  for (const auto& s : ds.train) {
    const auto p = landmarks::cropFromPoints(s.points);
    const auto b = landmarks::cropFromFace(s.face, {1.0, 0.0, 0.0});
    const double side = b.side, c = std::cos(b.angle), n = std::sin(b.angle);
    const double ex = p.cx - b.cx, ey = p.cy - b.cy;
    ratio.push_back(p.side / side);
    dx.push_back((c * ex + n * ey) / side);
    dy.push_back((-n * ex + c * ey) / side);
  }
  ds.calibration = {median(ratio), median(dx), median(dy)};
  return ds;
}

landmarks::Crop106 sampleCrop(const FaceSample& s, bool from_box, const landmarks::BoxCalibration& k) {
  return from_box ? landmarks::cropFromFace(s.face, k) : landmarks::cropFromPoints(s.points);
}

namespace {
void toFloats(const cv::Mat& rgb, float* pixels) {
  const int n = rgb.rows * rgb.cols;
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x)
      for (int c = 0; c < 3; ++c) pixels[c * n + y * rgb.cols + x] = (float(row[3 * x + c]) - 127.5f) / 128.f;
  }
}
}  // namespace

void cropPixels(const cv::Mat& region, const landmarks::Crop106& crop, int size, float* pixels) {
  cv::Mat patch;
  landmarks::cropPatch(region, crop, size, patch);
  toFloats(patch, pixels);
}

void makeTrainingExample(const FaceSample& s, const AugmentOptions& aug, const landmarks::BoxCalibration& k, int size, uint64_t seed,
                         float* pixels, float* points, float* pose) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  auto uni = [&](double a, double b) { return a + (b - a) * u(rng); };
  std::normal_distribution<double> gauss(0, 1);

  landmarks::Crop106 crop = sampleCrop(s, u(rng) < aug.box_crop_prob, k);
  crop.side *= uni(1 - aug.scale, 1 + aug.scale);
  crop.cx += uni(-aug.shift, aug.shift) * crop.side;
  crop.cy += uni(-aug.shift, aug.shift) * crop.side;
  if (u(rng) < aug.full_circle_prob) crop.angle += uni(-kPi, kPi);
  else crop.angle += std::clamp(gauss(rng), -3.0, 3.0) * aug.rotate_deg * kPi / 180;

  cv::Mat patch;
  landmarks::cropPatch(s.region, crop, size, patch);
  const auto m = crop.toCrop(size);
  Points106 p;
  for (size_t i = 0; i < p.size(); ++i)
    p[i] = {float(m[0] * s.points[i].x + m[1] * s.points[i].y + m[2]), float(m[3] * s.points[i].x + m[4] * s.points[i].y + m[5])};
  double pitch = s.pose.pitch, yaw = s.pose.yaw, roll = s.pose.roll - crop.angle * 180 / kPi;

  if (u(rng) < aug.flip_prob) {
    cv::flip(patch, patch, 1);
    const auto& mirror = landmark106Mirror();
    Points106 f;
    for (size_t i = 0; i < p.size(); ++i) f[i] = {float(size) - p[size_t(mirror[i])].x, p[size_t(mirror[i])].y};
    p = f;
    yaw = -yaw, roll = -roll;
  }

  // Photometric changes, on float pixels.
  cv::Mat img;
  patch.convertTo(img, CV_32FC3);
  if (aug.color > 0) {
    const double contrast = 1 + uni(-aug.color, aug.color), bright = uni(-aug.color, aug.color) * 80, sat = 1 + uni(-aug.color, aug.color) * 1.5;
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
    cv::cvtColor(gray, gray, cv::COLOR_GRAY2RGB);
    img = gray + (img - gray) * std::max(0.0, sat);
    const cv::Scalar mean = cv::mean(img);
    img = (img - mean) * contrast + mean + cv::Scalar::all(bright);
  }
  if (u(rng) < aug.gray_prob) {
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
    cv::cvtColor(gray, img, cv::COLOR_GRAY2RGB);
  }
  if (u(rng) < aug.blur_prob) cv::GaussianBlur(img, img, cv::Size(0, 0), uni(0.5, 1.6));
  if (u(rng) < aug.motion_blur_prob) {
    const int len = 3 + 2 * int(uni(0, 3.99));
    cv::Mat kernel = cv::Mat::zeros(len, len, CV_32F);
    const double a = uni(0, kPi), c = std::cos(a), n = std::sin(a);
    for (int t = 0; t < 4 * len; ++t) {
      const double r = (t / (4.0 * len - 1) - 0.5) * (len - 1);
      kernel.at<float>(int(std::lround(len / 2 + r * n)), int(std::lround(len / 2 + r * c))) = 1;
    }
    kernel /= cv::sum(kernel)[0];
    cv::filter2D(img, img, -1, kernel);
  }
  if (u(rng) < aug.occlusion_prob) {
    const int w = int(uni(0.15, 0.4) * size), h = int(uni(0.15, 0.4) * size);
    const int x = int(uni(0, size - w)), y = int(uni(0, size - h));
    img(cv::Rect(x, y, w, h)).setTo(cv::Scalar(uni(0, 255), uni(0, 255), uni(0, 255)));
  }
  if (u(rng) < aug.noise_prob) {
    cv::Mat noise(img.size(), img.type());
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(uni(2, 10)));
    img += noise;
  }
  cv::Mat out;
  img.convertTo(out, CV_8UC3);  // saturates to [0, 255]
  toFloats(out, pixels);
  for (size_t i = 0; i < p.size(); ++i) points[2 * i] = p[i].x / float(size), points[2 * i + 1] = p[i].y / float(size);
  pose[0] = float(pitch), pose[1] = float(yaw), pose[2] = wrapDegrees(roll);
}

std::vector<float> meanTargets(const std::vector<FaceSample>& samples, int size) {
  std::vector<double> acc(2 * kNumLandmarks106, 0.0);
  for (const auto& s : samples) {
    const auto crop = landmarks::cropFromPoints(s.points);
    const auto m = crop.toCrop(size);
    for (size_t i = 0; i < s.points.size(); ++i) {
      acc[2 * i] += (m[0] * s.points[i].x + m[1] * s.points[i].y + m[2]) / size;
      acc[2 * i + 1] += (m[3] * s.points[i].x + m[4] * s.points[i].y + m[5]) / size;
    }
  }
  std::vector<float> r(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) r[i] = float(acc[i] / double(std::max<size_t>(1, samples.size())));
  return r;
}

}  // namespace facekit::train
