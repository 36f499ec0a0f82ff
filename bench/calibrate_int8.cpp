// facekit_calibrate_int8: measures the FP32 activation ranges that MTCNN's int8 nets quantize
// with (the table int8Calibration() in src/models/mtcnn/mtcnn_nets.cpp), on training-side images
// only: ../shared/data/faces and ../shared/data/widerface-train-subset (never the validation
// subset the AP is measured on).
//   facekit_calibrate_int8 [--model models/mtcnn.safetensors] [--quantile 0.9999] DIR...
// P-Net sees every pyramid level (min face 12, factor 0.709) of every image (scaled to at most
// 1024 px), as the detector builds them. R-Net and O-Net see crops: the detector's faces (found with low thresholds) jittered
// in place and size, and random squares of 12 px to the image side, the kind of windows P-Net and
// R-Net pass on. For each PReLU output the range is [q(1 - quantile) of the negatives' low end,
// q(quantile)] of the values, with q from an evenly strided sample; the output is the C++ table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/model_file.hpp"
#include "facekit/facekit.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"

namespace {

using facekit::engine::Sequential;
using facekit::engine::Shape;
using facekit::engine::Tensor;

struct Stats {
  std::vector<float> sample;
  float lo = 0, hi = 0;
  size_t seen = 0;
  void add(const float* v, size_t n) {
    for (size_t i = 0; i < n; ++i, ++seen) {
      lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
      if (seen % 211 == 0) sample.push_back(v[i]);  // a strided sample bounds memory (P-Net sees ~10^9 values)
    }
  }
};

// Runs `net` layer by layer, recording every PReLU output.
void record(Sequential& net, const Tensor& input, std::vector<Stats>& stats) {
  Tensor a = input, b;
  size_t k = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    net.layer(i).forward(a, b, nullptr);
    if (std::string(net.layer(i).type()) == "PReLU") {
      if (stats.size() <= k) stats.emplace_back();
      stats[k++].add(b.data(), b.numel());
    }
    std::swap(a, b);
  }
}

void normalizeInto(const cv::Mat& rgb, float* dst) {
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* s = rgb.ptr<uint8_t>(y);
    for (int i = 0; i < rgb.cols * 3; ++i) *dst++ = (float(s[i]) - 127.5f) * 0.0078125f;
  }
}

Tensor crops(const cv::Mat& rgb, const std::vector<cv::Rect2f>& boxes, int size) {
  Tensor t(Shape{int(boxes.size()), size, size, 3});
  cv::Mat patch;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const cv::Rect2f& b = boxes[i];
    // Bilinear crop with a black outside, as the detector pads crops past the border.
    const cv::Matx23d M(b.width / size, 0, b.x + 0.5 * b.width / size - 0.5, 0, b.height / size, b.y + 0.5 * b.height / size - 0.5);
    cv::warpAffine(rgb, patch, M, cv::Size(size, size), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    normalizeInto(patch, t.data() + i * size_t(size) * size * 3);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = facekit::defaultModelPath();
  double quantile = 0.9999;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) model = argv[++i];
    else if (a == "--quantile" && i + 1 < argc) quantile = std::stod(argv[++i]);
    else dirs.push_back(a);
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: facekit_calibrate_int8 [--model FILE] [--quantile Q] DIR...\n");
    return 2;
  }
  std::vector<std::string> files;
  for (const auto& d : dirs)
    for (const auto& e : std::filesystem::recursive_directory_iterator(d)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) files.push_back(e.path().string());
    }
  std::sort(files.begin(), files.end());
  const auto mf = facekit::engine::ModelFile::load(model);
  auto nets = facekit::mtcnn::buildNets(mf, facekit::engine::Backend::kFast);
  facekit::DetectorOptions o;
  o.model_path = model;
  o.min_face_size = 12;
  o.thresholds = {0.5f, 0.5f, 0.5f};
  auto det = facekit::FaceDetector::create(o);
  std::map<std::string, std::vector<Stats>> stats;
  std::mt19937 rng(12345);
  for (const auto& f : files) {
    facekit::Image img = facekit::loadImage(f);
    if (img.format != facekit::PixelFormat::kRGB) continue;
    cv::Mat rgb(img.height, img.width, CV_8UC3, img.pixels.data());
    // At most 1024 px on the long side (the photos of data/faces reach 4000 px: P-Net's first
    // level alone would hold gigabytes of activations); WIDER images are 1024 px wide.
    if (std::max(rgb.cols, rgb.rows) > 1024) {
      const double f = 1024.0 / std::max(rgb.cols, rgb.rows);
      cv::Mat small;
      cv::resize(rgb, small, cv::Size(int(rgb.cols * f), int(rgb.rows * f)), 0, 0, cv::INTER_AREA);
      img.pixels.assign(small.data, small.data + small.total() * 3);
      img.width = small.cols, img.height = small.rows;
      rgb = cv::Mat(img.height, img.width, CV_8UC3, img.pixels.data());
    }
    // P-Net: the pyramid, min face 12.
    const float m = 1.f;
    float min_side = float(std::min(rgb.cols, rgb.rows)) * m;
    cv::Mat level;
    for (float scale = m; min_side >= 12; scale *= 0.709f, min_side *= 0.709f) {
      const int ws = int(std::ceil(rgb.cols * scale)), hs = int(std::ceil(rgb.rows * scale));
      if (ws < 12 || hs < 12) break;
      cv::resize(rgb, level, cv::Size(ws, hs), 0, 0, scale < 0.5f ? cv::INTER_AREA : cv::INTER_LINEAR);
      Tensor t(Shape{1, hs, ws, 3});
      normalizeInto(level, t.data());
      record(nets.pnet, t, stats["pnet"]);
    }
    // R-Net / O-Net: jittered faces and random windows.
    std::vector<cv::Rect2f> boxes;
    std::uniform_real_distribution<float> u(0.f, 1.f);
    // A fresh detector per image: its per-size network cache would otherwise grow with every new
    // image size (gigabytes over hundreds of sizes).
    det = facekit::FaceDetector::create(o);
    auto found = det->detect(img.view());
    std::shuffle(found.begin(), found.end(), rng);
    found.resize(std::min<size_t>(found.size(), 8));  // crowds would dominate (and fill memory)
    for (const auto& face : found)
      for (int j = 0; j < 4; ++j) {
        const float side = std::max(face.box.width(), face.box.height()) * (0.8f + 0.5f * u(rng));
        const float cx = 0.5f * (face.box.x1 + face.box.x2) + (u(rng) - 0.5f) * 0.3f * side;
        const float cy = 0.5f * (face.box.y1 + face.box.y2) + (u(rng) - 0.5f) * 0.3f * side;
        boxes.push_back({cx - side / 2, cy - side / 2, side, side});
      }
    for (int j = 0; j < 16; ++j) {
      const float maxs = float(std::min(rgb.cols, rgb.rows));
      const float side = 12.f * std::pow(maxs / 12.f, u(rng));
      boxes.push_back({u(rng) * (rgb.cols - side), u(rng) * (rgb.rows - side), side, side});
    }
    record(nets.rnet, crops(rgb, boxes, 24), stats["rnet"]);
    record(nets.onet, crops(rgb, boxes, 48), stats["onet"]);
  }
  std::printf("// %zu images, quantile %g (min/max in comments)\n", files.size(), quantile);
  for (const char* net : {"pnet", "rnet", "onet"}) {
    std::printf("      {\"%s\", {", net);
    auto& v = stats[net];
    for (size_t k = 0; k < v.size(); ++k) {
      auto& s = v[k].sample;
      std::sort(s.begin(), s.end());
      const float qhi = s[std::min(s.size() - 1, size_t(double(s.size() - 1) * quantile))];
      const float qlo = s[size_t(double(s.size() - 1) * (1 - quantile))];
      std::printf("%s{%.4ff, %.4ff}", k ? ", " : "", std::min(qlo, 0.f), qhi);
    }
    std::printf("}},  //");
    for (auto& s : v) std::printf(" [%.3f, %.3f]", s.lo, s.hi);
    std::printf("\n");
  }
  return 0;
}
