#include "mtcnn_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "eval/widerface.hpp"
#include "facekit/error.hpp"
#include "mtcnn_net.hpp"

namespace fs = std::filesystem;

namespace facekit::train {
namespace {

// The paper's IoU classes.
constexpr float kPositiveIou = 0.65f, kPartIou = 0.4f, kNegativeIou = 0.3f;

float iouOf(const Box& a, const Box& b) { return facekit::iou(a, b); }

bool inside(const Box& w, int W, int H) { return w.x1 >= 0 && w.y1 >= 0 && w.x2 <= float(W) && w.y2 <= float(H); }

Box square(float x1, float y1, float side) { return {x1, y1, x1 + side, y1 + side}; }

// Halvings by area while at least 2x too big, then bilinear: how the detector resizes crops.
void resizeLikeDetector(const cv::Mat& src, int size, cv::Mat& dst) {
  cv::Mat cur = src, tmp;
  while (cur.cols >= 2 * size && cur.rows >= 2 * size) {
    cv::resize(cur, tmp, cv::Size(cur.cols / 2, cur.rows / 2), 0, 0, cv::INTER_AREA);
    cur = tmp.clone();
  }
  cv::resize(cur, dst, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
}

}  // namespace

SampleKind classifyWindow(const Box& window, const std::vector<Box>& faces, int* best) {
  float top = 0;
  int at = -1;
  for (size_t i = 0; i < faces.size(); ++i) {
    const float v = iouOf(window, faces[i]);
    if (v > top) top = v, at = int(i);
  }
  if (best) *best = at;
  if (top >= kPositiveIou) return kPositive;
  if (top >= kPartIou) return kPart;
  if (top < kNegativeIou) return kNegative;
  return kIgnored;
}

std::array<float, 4> regressionTarget(const Box& w, const Box& f) {
  const float ww = w.width(), wh = w.height();
  return {(f.x1 - w.x1) / ww, (f.y1 - w.y1) / wh, (f.x2 - w.x2) / ww, (f.y2 - w.y2) / wh};
}

size_t SampleSet::count(SampleKind k) const { return size_t(std::count(kind.begin(), kind.end(), int8_t(k))); }

void cropWindow(const cv::Mat& rgb, const Box& window, int size, uint8_t* dst) {
  const int x1 = int(std::floor(window.x1)), y1 = int(std::floor(window.y1));
  const int bw = std::max(1, int(std::lround(window.width()))), bh = std::max(1, int(std::lround(window.height())));
  const cv::Rect box(x1, y1, bw, bh), in = box & cv::Rect(0, 0, rgb.cols, rgb.rows);
  cv::Mat crop;
  if (in == box) {
    crop = rgb(box);
  } else {
    crop = cv::Mat::zeros(bh, bw, CV_8UC3);
    if (in.area() > 0) rgb(in).copyTo(crop(cv::Rect(in.x - box.x, in.y - box.y, in.width, in.height)));
  }
  cv::Mat out(size, size, CV_8UC3, dst);
  cv::Mat resized;
  resizeLikeDetector(crop, size, resized);
  resized.copyTo(out);
}

void SampleSet::add(const cv::Mat& rgb, Box w, SampleKind k, const Box* face, const std::array<Point2f, 5>* pts) {
  // On whole pixels, as the detector's crops: targets are relative to exactly what the net sees.
  const float x1 = std::floor(w.x1), y1 = std::floor(w.y1);
  w = {x1, y1, x1 + float(std::max(1L, std::lround(w.width()))), y1 + float(std::max(1L, std::lround(w.height())))};
  const size_t per = size_t(size) * size * 3;
  pixels.resize(pixels.size() + per);
  cropWindow(rgb, w, size, pixels.data() + pixels.size() - per);
  kind.push_back(k);
  const std::array<float, 4> r = face ? regressionTarget(w, *face) : std::array<float, 4>{0, 0, 0, 0};
  box.insert(box.end(), r.begin(), r.end());
  for (int axis = 0; axis < 2; ++axis)
    for (int p = 0; p < 5; ++p)
      points.push_back(pts ? (axis == 0 ? ((*pts)[size_t(p)].x - w.x1) / w.width() : ((*pts)[size_t(p)].y - w.y1) / w.height()) : 0.f);
}

void SampleSet::append(const SampleSet& o) {
  pixels.insert(pixels.end(), o.pixels.begin(), o.pixels.end());
  kind.insert(kind.end(), o.kind.begin(), o.kind.end());
  box.insert(box.end(), o.box.begin(), o.box.end());
  points.insert(points.end(), o.points.begin(), o.points.end());
}

SampleSet subsample(const SampleSet& s, size_t n, std::mt19937_64& rng) {
  std::vector<size_t> pick(s.count());
  for (size_t i = 0; i < pick.size(); ++i) pick[i] = i;
  std::shuffle(pick.begin(), pick.end(), rng);
  pick.resize(std::min(n, pick.size()));
  std::sort(pick.begin(), pick.end());
  SampleSet out;
  out.size = s.size;
  const size_t per = size_t(s.size) * s.size * 3;
  for (size_t i : pick) {
    out.pixels.insert(out.pixels.end(), s.pixels.begin() + long(i * per), s.pixels.begin() + long((i + 1) * per));
    out.kind.push_back(s.kind[i]);
    out.box.insert(out.box.end(), s.box.begin() + long(4 * i), s.box.begin() + long(4 * i + 4));
    out.points.insert(out.points.end(), s.points.begin() + long(10 * i), s.points.begin() + long(10 * i + 10));
  }
  return out;
}

cv::Mat readRgb(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) throw Error(Error::Code::kIoError, path + ": cannot read the image");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

std::vector<TrainImage> loadAnnotated(const std::string& images, const std::string& annotations, int min_face_px) {
  const eval::GroundTruth gt = fs::is_directory(annotations) ? eval::loadWiderMat(annotations) : eval::loadBbxGtText(annotations);
  std::vector<TrainImage> out;
  for (const auto& ev : gt.events)
    for (const auto& img : ev.images) {
      TrainImage t;
      for (const char* ext : {".jpg", ".jpeg", ".png"}) {
        const fs::path p = fs::path(images) / ev.name / (img.name + ext);
        if (fs::exists(p)) {
          t.path = p.string();
          break;
        }
      }
      if (t.path.empty()) continue;  // annotated but not in this folder (a subset)
      t.key = ev.name + "/" + img.name;
      for (const auto& b : img.boxes) t.all.push_back({float(b.x), float(b.y), float(b.x + b.w), float(b.y + b.h)});
      // The boxes that count in the widest setting (text files: the valid ones).
      if (!img.keep.empty())
        for (int i : img.keep.back()) {
          const auto& b = img.boxes[size_t(i)];
          if (b.w >= min_face_px && b.h >= min_face_px) t.faces.push_back(t.all[size_t(i)]);
        }
      t.points.resize(t.faces.size());
      out.push_back(std::move(t));
    }
  if (out.empty()) throw Error(Error::Code::kIoError, images + ": none of the images annotated in " + annotations + " found (<event>/<name>.jpg)");
  return out;
}

size_t labelPointsFromDetector(std::vector<TrainImage>& images, const std::string& model_path, int min_face) {
  DetectorOptions o;
  o.model_path = model_path;
  o.min_face_size = min_face;
  std::unique_ptr<FaceDetector> det;
  size_t n = 0, seen = 0;
  for (TrainImage& im : images) {
    if (im.faces.empty()) continue;
    // A fresh detector now and then: it keeps a P-Net per image size it met (kDetectorReuse).
    if (seen++ % kDetectorReuse == 0) det = FaceDetector::create(o);
    const cv::Mat rgb = readRgb(im.path);
    const auto found = det->detect({rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step});
    for (size_t i = 0; i < im.faces.size(); ++i) {
      float best = kPositiveIou;
      for (const Face& f : found)
        if (const float v = iouOf(f.box, im.faces[i]); v >= best) best = v, im.points[i] = f.landmarks;
      n += im.points[i].has_value();
    }
  }
  return n;
}

SamplingOptions SamplingOptions::fromConfig(const Json& j) {
  SamplingOptions o;
  o.random_neg_per_image = get<int>(j, "random_neg_per_image");
  o.near_neg_per_face = get<int>(j, "near_neg_per_face");
  o.pos_per_face = get<int>(j, "pos_per_face");
  o.landmark_per_face = get<int>(j, "landmark_per_face");
  o.mined_per_image = get<int>(j, "mined_per_image");
  o.random_negatives = get<bool>(j, "random_negatives");
  return o;
}

void randomSamples(const cv::Mat& rgb, const TrainImage& im, const SamplingOptions& o, bool landmarks, std::mt19937_64& rng, SampleSet& out) {
  const int W = rgb.cols, H = rgb.rows;
  const float max_side = 0.5f * float(std::min(W, H));
  if (max_side < 12) return;
  auto uni = [&](float a, float b) { return std::uniform_real_distribution<float>(a, std::max(a, b))(rng); };
  if (o.random_negatives)
    for (int kept = 0, tries = 0; kept < o.random_neg_per_image && tries < 5 * o.random_neg_per_image; ++tries) {
      const float side = std::round(uni(12, max_side));
      const Box w = square(std::floor(uni(0, float(W) - side)), std::floor(uni(0, float(H) - side)), side);
      if (classifyWindow(w, im.all) == kNegative) out.add(rgb, w, kNegative, nullptr, nullptr), ++kept;
    }
  for (size_t fi = 0; fi < im.faces.size(); ++fi) {
    const Box& f = im.faces[fi];
    const float fw = f.width(), fh = f.height(), cx = 0.5f * (f.x1 + f.x2), cy = 0.5f * (f.y1 + f.y2);
    // Negatives that overlap the face a little: the hard part of the background.
    if (o.random_negatives)
      for (int i = 0; i < o.near_neg_per_face; ++i) {
        const float side = std::round(uni(12, max_side));
        const Box w = square(std::floor(f.x1 + uni(-side, fw)), std::floor(f.y1 + uni(-side, fh)), side);
        if (inside(w, W, H) && classifyWindow(w, im.all) == kNegative) out.add(rgb, w, kNegative, nullptr, nullptr);
      }
    auto jittered = [&]() {
      const float side = std::round(uni(0.8f * std::min(fw, fh), 1.25f * std::max(fw, fh)));
      return square(std::floor(cx + uni(-0.2f, 0.2f) * fw - 0.5f * side), std::floor(cy + uni(-0.2f, 0.2f) * fh - 0.5f * side), side);
    };
    // Up to pos_per_face positives and as many parts (jitter gives more parts than positives).
    for (int i = 0, pos = 0, part = 0; i < 5 * o.pos_per_face && (pos < o.pos_per_face || part < o.pos_per_face); ++i) {
      const Box w = jittered();
      if (!inside(w, W, H)) continue;
      int best = -1;
      const SampleKind k = classifyWindow(w, im.all, &best);
      // Positives and parts of this face only (another face's would be counted twice).
      if ((k != kPositive && k != kPart) || im.all[size_t(best)].x1 != f.x1 || im.all[size_t(best)].y1 != f.y1) continue;
      int& n = k == kPositive ? pos : part;
      if (n < o.pos_per_face) out.add(rgb, w, k, &f, nullptr), ++n;
    }
    if (landmarks && im.points[fi])
      for (int i = 0, kept = 0; i < 4 * o.landmark_per_face && kept < o.landmark_per_face; ++i) {
        const Box w = jittered();
        if (!inside(w, W, H) || iouOf(w, f) < kPositiveIou) continue;
        bool all_in = true;
        for (const auto& p : *im.points[fi]) all_in = all_in && p.x > w.x1 && p.x < w.x2 && p.y > w.y1 && p.y < w.y2;
        if (all_in) out.add(rgb, w, kLandmark, &f, &*im.points[fi]), ++kept;
      }
  }
}

size_t minedSamples(const cv::Mat& rgb, const TrainImage& im, const std::vector<Box>& candidates, const SamplingOptions& o, std::mt19937_64& rng,
                    SampleSet& out) {
  std::vector<size_t> negatives;
  size_t added = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Box& w = candidates[i];
    if (w.width() < 4 || w.height() < 4) continue;
    int best = -1;
    const SampleKind k = classifyWindow(w, im.all, &best);
    if (k == kNegative) negatives.push_back(i);
    // A positive or part of a face too small or invalid to train on is left out.
    if ((k == kPositive || k == kPart) &&
        std::find_if(im.faces.begin(), im.faces.end(), [&](const Box& f) { return f.x1 == im.all[size_t(best)].x1 && f.y1 == im.all[size_t(best)].y1; }) !=
            im.faces.end())
      out.add(rgb, w, k, &im.all[size_t(best)], nullptr), ++added;
  }
  std::shuffle(negatives.begin(), negatives.end(), rng);
  negatives.resize(std::min(negatives.size(), size_t(std::max(0, o.mined_per_image))));
  for (size_t i : negatives) out.add(rgb, candidates[i], kNegative, nullptr, nullptr), ++added;
  return added;
}

std::unique_ptr<FaceDetector> makeMiner(const engine::ModelFile& model, const std::string& keep_through, const std::string& tmp_path,
                                        float pnet_threshold, float rnet_threshold, int min_face) {
  neutralAfter(model, keep_through).save(tmp_path);
  DetectorOptions o;
  o.model_path = tmp_path;
  o.min_face_size = min_face;
  // Neutral nets score 0.993 and keep their box; threshold 0 and NMS 1.0 (never suppresses) let
  // every box of the kept stages through unchanged.
  o.thresholds = {pnet_threshold, keep_through == "pnet" ? 0.f : rnet_threshold, 0.f};
  o.nms = {0.7f, keep_through == "pnet" ? 1.f : 0.7f, 1.f};
  return FaceDetector::create(o);
}

std::vector<Box> previousStageBoxes(FaceDetector& miner, const cv::Mat& rgb) {
  std::vector<Box> out;
  for (const Face& f : miner.detect({rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step})) out.push_back(f.box);
  return out;
}

}  // namespace facekit::train
