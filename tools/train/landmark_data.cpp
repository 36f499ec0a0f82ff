#include "landmark_data.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
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
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

DataOptions DataOptions::fromConfig(const Json& d) {
  DataOptions o;
  o.labels = get<std::vector<std::string>>(d, "labels");
  o.val_fraction = get<double>(d, "val_fraction");
  o.min_face_px = get<double>(d, "min_face_px");
  o.max_spread = get<double>(d, "max_spread");
  o.region_px = get<int>(d, "region_px");
  o.max_faces = size_t(std::max(0, get<int>(d, "max_faces")));
  o.large_pose_repeat = d.contains("large_pose_repeat") ? std::max(1, get<int>(d, "large_pose_repeat")) : 1;
  return o;
}

AugmentOptions AugmentOptions::fromConfig(const Json& a) {
  AugmentOptions o;
  o.box_crop_prob = get<double>(a, "box_crop_prob");
  o.scale = get<double>(a, "scale");
  o.shift = get<double>(a, "shift");
  o.rotate_deg = get<double>(a, "rotate_deg");
  o.full_circle_prob = get<double>(a, "full_circle_prob");
  o.flip_prob = get<double>(a, "flip_prob");
  o.color = get<double>(a, "color");
  o.gray_prob = get<double>(a, "gray_prob");
  o.blur_prob = get<double>(a, "blur_prob");
  o.motion_blur_prob = get<double>(a, "motion_blur_prob");
  o.occlusion_prob = get<double>(a, "occlusion_prob");
  o.noise_prob = get<double>(a, "noise_prob");
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
      Json j;
      try {
        j = Json::parse(text);
      } catch (const Json::parse_error&) {
        throw Error(Error::Code::kInvalidArgument, file + ":" + std::to_string(line_no) + ": not a JSON line");
      }
      // "unstable" faces (the label passes disagreed beyond the labeller's limit) are judged
      // again by this config's own max_spread below; low-confidence and no-face lines never count.
      const std::string status = j.value("status", "");
      if (status != "ok" && status != "unstable") {
        ++ds.skipped_status;
        continue;
      }
      try {
        LabelLine l;
        l.image = j.at("image").get<std::string>();
        const auto pts = j.at("points");
        if (pts.size() != kNumLandmarks106) throw std::runtime_error("points");
        for (size_t i = 0; i < pts.size(); ++i) l.points[i] = {pts[i][0].get<float>(), pts[i][1].get<float>()};
        const auto b = j.at("box");
        l.face.box = {b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()};
        const auto kp = j.at("keypoints");
        if (kp.size() != 10) throw std::runtime_error("keypoints");
        for (size_t i = 0; i < 5; ++i) l.face.landmarks[i] = {kp[2 * i].get<float>(), kp[2 * i + 1].get<float>()};
        l.face.score = j.value("score", 1.0f);
        const auto p = j.at("pose");
        l.pose = {p.at("pitch").get<float>(), p.at("yaw").get<float>(), p.at("roll").get<float>()};
        if (std::max(l.face.box.width(), l.face.box.height()) < opt.min_face_px) {
          ++ds.skipped_small;
          continue;
        }
        if (j.value("spread", status == "ok" ? 0.0 : 1.0) > opt.max_spread) {
          ++ds.skipped_spread;
          continue;
        }
        lines.push_back(std::move(l));
      } catch (const std::exception&) {
        throw Error(Error::Code::kInvalidArgument, file + ":" + std::to_string(line_no) + ": not a facekit label line (needs image, points x106, box, keypoints, pose)");
      }
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
        // The region with a black border where it leaves the image.
        cv::Mat roi(rs, rs, CV_8UC3, cv::Scalar::all(0));
        const cv::Rect inside = cv::Rect(rx, ry, rs, rs) & cv::Rect(0, 0, rgb.cols, rgb.rows);
        if (inside.area() > 0) rgb(inside).copyTo(roi(cv::Rect(inside.x - rx, inside.y - ry, inside.width, inside.height)));
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
