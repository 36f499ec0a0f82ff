// The MTCNN cascade: image pyramid -> P-Net proposals -> R-Net refinement -> O-Net boxes and
// 5 landmarks, with the thresholds and NMS settings of the original paper's code.
#include <fstream>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/thread_pool.hpp"
#include "facekit/detector.hpp"
#include "facekit/error.hpp"
#include "pipeline/cv_interop.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"

#ifndef FACEKIT_SOURCE_MODEL_DIR
#define FACEKIT_SOURCE_MODEL_DIR "models"
#endif

namespace facekit {
namespace {

using engine::Shape;
using engine::Tensor;
using Clock = std::chrono::steady_clock;
using ThreadPoolPtr = engine::ThreadPool*;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Candidate {
  Box box;
  float score = 0;
  float reg[4] = {0, 0, 0, 0};
  std::array<Point2f, 5> points{};
};

float area(const Box& b) { return std::max(0.f, b.width()) * std::max(0.f, b.height()); }

float intersection(const Box& a, const Box& b) {
  const float w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0.f;
}

enum class Overlap { kUnion, kMin };

// Greedy non-maximum suppression: keeps the best-scoring box, drops those overlapping it by
// more than `threshold`, repeats. Output is sorted by descending score.
std::vector<Candidate> nms(std::vector<Candidate> c, float threshold, Overlap mode) {
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<Candidate> keep;
  std::vector<bool> dead(c.size(), false);
  for (size_t i = 0; i < c.size(); ++i) {
    if (dead[i]) continue;
    keep.push_back(c[i]);
    const float ai = area(c[i].box);
    for (size_t j = i + 1; j < c.size(); ++j) {
      if (dead[j]) continue;
      const float inter = intersection(c[i].box, c[j].box);
      const float aj = area(c[j].box);
      const float denom = mode == Overlap::kUnion ? ai + aj - inter : std::min(ai, aj);
      if (denom > 0 && inter / denom > threshold) dead[j] = true;
    }
  }
  return keep;
}

void applyRegression(Candidate& c) {
  const float w = c.box.width(), h = c.box.height();
  c.box = {c.box.x1 + c.reg[0] * w, c.box.y1 + c.reg[1] * h, c.box.x2 + c.reg[2] * w, c.box.y2 + c.reg[3] * h};
}

// Makes the box square (side = the longer side) around its centre, as the next net's input is.
void square(Candidate& c) {
  const float side = std::max(c.box.width(), c.box.height());
  const float cx = 0.5f * (c.box.x1 + c.box.x2), cy = 0.5f * (c.box.y1 + c.box.y2);
  c.box = {cx - 0.5f * side, cy - 0.5f * side, cx + 0.5f * side, cy + 0.5f * side};
}

float faceProbability(const float* logits) { return 1.f / (1.f + std::exp(logits[0] - logits[1])); }

// (x - 127.5) / 128: the normalisation MTCNN was trained with.
void normalizeInto(const cv::Mat& rgb8, float* dst) {
  for (int y = 0; y < rgb8.rows; ++y) {
    const uint8_t* s = rgb8.ptr<uint8_t>(y);
    for (int i = 0; i < rgb8.cols * 3; ++i) *dst++ = (float(s[i]) - 127.5f) * 0.0078125f;
  }
}

// Resizes without aliasing but fast: exact halvings (INTER_AREA, OpenCV's fast integer path)
// until within a factor of 2 of the target, then bilinear, which does not alias at factors
// above 0.5. INTER_AREA at arbitrary factors costs ~15x more (13 ms for a 640x480 pyramid).
void resizeFast(const cv::Mat& src, cv::Size to, cv::Mat& dst, cv::Mat scratch[2]) {
  const cv::Mat* from = &src;
  for (int k = 0; from->cols >= 2 * to.width && from->rows >= 2 * to.height; k ^= 1) {
    cv::resize(*from, scratch[k], cv::Size(from->cols / 2, from->rows / 2), 0, 0, cv::INTER_AREA);
    from = &scratch[k];
  }
  cv::resize(*from, dst, to, 0, 0, cv::INTER_LINEAR);
}

class MtcnnDetector final : public FaceDetector {
 public:
  // Options are checked before anything is built (a bad num_threads must not start threads).
  explicit MtcnnDetector(const DetectorOptions& o) : opt_(validated(o)), pool_(opt_.num_threads) {
    if (opt_.model_path.empty()) opt_.model_path = defaultModelPath();
    const auto backend = opt_.backend == ComputeBackend::kReference ? engine::Backend::kReference : engine::Backend::kFast;
    model_ = engine::ModelFile::load(opt_.model_path);
    backend_ = backend;
    for (int w = 0; w < pool_.threads(); ++w) {
      workers_.push_back(std::make_unique<Worker>());
      workers_.back()->nets = mtcnn::buildNets(model_, backend);
    }
  }

  const DetectorOptions& options() const override { return opt_; }
  const DetectorProfile& lastProfile() const override { return prof_; }

  std::vector<Face> detect(const ImageView& view) override {
    if (!view.data) throw Error(Error::Code::kInvalidArgument, "detect: image view has no data");
    if (view.width < 12 || view.height < 12)
      throw Error(Error::Code::kInvalidArgument, "detect: image is " + std::to_string(view.width) + "x" + std::to_string(view.height) +
                                                     " pixels; MTCNN needs at least 12x12");
    prof_ = {};
    const auto t0 = Clock::now();
    const cv::Mat rgb = asRgb(view);
    std::vector<Candidate> c = cascade(rgb);
    if (opt_.all_orientations) {
      // MTCNN finds faces within about +-45 degrees of upright: the quarter turns of the image
      // cover the rest. Results are mapped back; the same face found twice keeps its best score.
      const int W = rgb.cols, H = rgb.rows;
      cv::Mat turned;
      for (int turn = 1; turn <= 3; ++turn) {
        cv::rotate(rgb, turned, turn == 1 ? cv::ROTATE_90_CLOCKWISE : turn == 2 ? cv::ROTATE_180 : cv::ROTATE_90_COUNTERCLOCKWISE);
        for (Candidate k : cascade(turned)) {
          for (auto& p : k.points) p = unturn(p, turn, W, H);
          const Point2f a = unturn({k.box.x1, k.box.y1}, turn, W, H), b = unturn({k.box.x2, k.box.y2}, turn, W, H);
          k.box = {std::min(a.x, b.x), std::min(a.y, b.y), std::max(a.x, b.x), std::max(a.y, b.y)};
          c.push_back(k);
        }
      }
      c = nms(std::move(c), 0.5f, Overlap::kMin);
    }
    prof_.total_ms = msSince(t0);

    std::vector<Face> faces;
    for (const Candidate& k : c) faces.push_back({k.score, k.box, k.points});
    return faces;
  }

 private:
  // The three MTCNN stages on one RGB image.
  std::vector<Candidate> cascade(const cv::Mat& rgb) {
    std::vector<Candidate> c = stage1(rgb);
    prof_.pnet_candidates += int(c.size());
    const auto t2 = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 1);
    prof_.rnet_candidates += int(c.size());
    prof_.rnet_ms += msSince(t2);
    const auto t3 = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 2);
    prof_.onet_ms += msSince(t3);
    return c;
  }

  // A point of the image turned `turn` quarter turns clockwise, in the original W x H image.
  static Point2f unturn(Point2f p, int turn, int W, int H) {
    switch (turn) {
      case 1: return {p.y, float(H) - p.x};             // turned image is H wide, W high
      case 2: return {float(W) - p.x, float(H) - p.y};
      default: return {float(W) - p.y, p.x};
    }
  }

  static const DetectorOptions& validated(const DetectorOptions& o) {
    auto bad = [](const std::string& m) { throw Error(Error::Code::kInvalidArgument, "DetectorOptions: " + m); };
    if (o.min_face_size < 8) bad("min_face_size must be >= 8 (got " + std::to_string(o.min_face_size) + ")");
    if (!(o.scale_factor > 0.1f && o.scale_factor <= 0.95f)) bad("scale_factor must be in (0.1, 0.95]");
    for (float t : o.thresholds)
      if (!(t >= 0.f && t <= 1.f)) bad("thresholds must be in [0, 1]");
    for (float t : o.nms)
      if (!(t > 0.f && t <= 1.f)) bad("nms overlaps must be in (0, 1]");
    if (!(o.pnet_scale_nms > 0.f && o.pnet_scale_nms <= 1.f)) bad("pnet_scale_nms must be in (0, 1]");
    if (o.num_threads < 1 || o.num_threads > 64) bad("num_threads must be in 1..64");
    return o;
  }

  cv::Mat asRgb(const ImageView& v) {
    const cv::Mat src = matView(v);
    if (v.format == PixelFormat::kRGB) return src;  // no copy
    cv::Mat rgb;
    cv::cvtColor(src, rgb, v.format == PixelFormat::kGray ? cv::COLOR_GRAY2RGB : cv::COLOR_BGR2RGB);
    return rgb;
  }

  // XNNPACK re-derives its indirection buffers whenever an operator sees a new input size,
  // which doubled P-Net's cost when one network served every pyramid level. One P-Net per
  // level size (weights are 28 KB) keeps each operator on a single size. Their activations
  // share pnet_scratch_, so the cache costs XNNPACK's indirection buffers, not activations.
  engine::Sequential& pnetFor(int h, int w) {
    auto it = pnet_by_size_.find({h, w});
    if (it == pnet_by_size_.end()) it = pnet_by_size_.emplace(std::make_pair(h, w), mtcnn::buildNets(model_, backend_).pnet).first;
    return it->second;
  }

  // One pyramid level: its normalised input, the P-Net that serves its size, its workspace and
  // the candidates it produced.
  struct Level {
    Tensor input;
    engine::Sequential* net = nullptr;
    Tensor scratch[2];
    std::vector<Candidate> found;
  };

  // P-Net on one level, then per-level NMS. `pool` is null when levels run in parallel.
  void runLevel(Level& lv, int w, int h, ThreadPoolPtr pool, Tensor (&scratch)[2]) {
    const Tensor& out = lv.net->forward(lv.input, pool, scratch);
    // Map output cells back with the exact per-axis factors of the resized image.
    const float sx = float(lv.input.shape().w) / float(w), sy = float(lv.input.shape().h) / float(h);
    const Shape os = out.shape();
    lv.found.clear();
    for (int y = 0; y < os.h; ++y)
      for (int x = 0; x < os.w; ++x) {
        const float* o = out.data() + (size_t(y) * os.w + x) * os.c;
        const float p = faceProbability(o);
        if (p < opt_.thresholds[0]) continue;
        Candidate c;
        c.score = p;
        c.box = {float(mtcnn::kPNetStride * x) / sx, float(mtcnn::kPNetStride * y) / sy,
                 float(mtcnn::kPNetStride * x + mtcnn::kPNetCell) / sx, float(mtcnn::kPNetStride * y + mtcnn::kPNetCell) / sy};
        std::copy(o + 2, o + 6, c.reg);
        lv.found.push_back(c);
      }
    lv.found = nms(std::move(lv.found), opt_.pnet_scale_nms, Overlap::kUnion);
  }

  std::vector<Candidate> stage1(const cv::Mat& rgb) {
    const int w = rgb.cols, h = rgb.rows;
    auto t = Clock::now();
    if (pnet_by_size_.size() > 256) pnet_by_size_.clear();  // bound memory when image sizes keep changing
    // The pyramid: each level is made from the previous one (one factor-0.709 step).
    const float m = float(mtcnn::kPNetCell) / float(opt_.min_face_size);
    float min_side = float(std::min(w, h)) * m;
    size_t n = 0;
    for (float scale = m; min_side >= mtcnn::kPNetCell; scale *= opt_.scale_factor, min_side *= opt_.scale_factor, ++n) {
      const int ws = int(std::ceil(w * scale)), hs = int(std::ceil(h * scale));
      if (ws < mtcnn::kPNetCell || hs < mtcnn::kPNetCell) break;
      if (levels_.size() <= n) levels_.emplace_back();
      Level& lv = levels_[n];
      resizeFast(n == 0 ? rgb : level_, cv::Size(ws, hs), resized_, scratch_);
      std::swap(level_, resized_);
      lv.input.resize(Shape{1, hs, ws, 3});
      normalizeInto(level_, lv.input.data());
      lv.net = &pnetFor(hs, ws);
    }
    prof_.pyramid_ms += msSince(t);
    t = Clock::now();
    if (pool_.threads() > 1 && n > 1) {
      // Whole levels per thread: P-Net's ops are too small to split well, whole levels balance
      // (level 0 is about half the work, the rest the other half). Each level has its own workspace.
      pool_.parallelFor(n, [&](size_t i) { runLevel(levels_[i], w, h, nullptr, levels_[i].scratch); });
    } else {
      for (size_t i = 0; i < n; ++i) runLevel(levels_[i], w, h, &pool_, pnet_scratch_);
    }
    std::vector<Candidate> all;
    for (size_t i = 0; i < n; ++i) all.insert(all.end(), levels_[i].found.begin(), levels_[i].found.end());
    all = nms(std::move(all), opt_.nms[0], Overlap::kUnion);
    for (Candidate& c : all) applyRegression(c), square(c);
    prof_.pnet_ms += msSince(t);
    return all;
  }

  // What one thread needs to run R-Net and O-Net on its share of the candidates: XNNPACK
  // operators and buffers cannot be shared between threads that run at the same time.
  struct Worker {
    mtcnn::Nets nets;
    Tensor input;
    cv::Mat patch, scratch[2];
  };

  // Crops box b (rounded to whole pixels, zero outside the image), resizes it to size x size
  // and writes it normalised to dst. Moves the box onto the pixel grid: the net's outputs are
  // relative to exactly what it saw.
  static void cropInto(const cv::Mat& rgb, Box& b, int size, float* dst, Worker& wk) {
    const int x1 = int(std::floor(b.x1)), y1 = int(std::floor(b.y1));
    const int bw = std::max(1, int(std::lround(b.width()))), bh = std::max(1, int(std::lround(b.height())));
    b = {float(x1), float(y1), float(x1 + bw), float(y1 + bh)};
    const cv::Rect box(x1, y1, bw, bh), inside = box & cv::Rect(0, 0, rgb.cols, rgb.rows);
    cv::Mat crop;
    if (inside == box) {
      crop = rgb(box);
    } else {
      crop = cv::Mat::zeros(bh, bw, CV_8UC3);
      if (inside.area() > 0) rgb(inside).copyTo(crop(cv::Rect(inside.x - x1, inside.y - y1, inside.width, inside.height)));
    }
    resizeFast(crop, cv::Size(size, size), wk.patch, wk.scratch);
    normalizeInto(wk.patch, dst);
  }

  // Runs R-Net (stage 1) or O-Net (stage 2, which adds landmarks) on the candidates' crops.
  // Crops go through in chunks of kChunk: a chunk's activations stay in the L2 cache, which
  // measured ~30% faster than one batch of all candidates. With 2+ threads the chunks are
  // shared out whole (one worker per thread); results do not depend on the thread count.
  std::vector<Candidate> refine(const cv::Mat& rgb, std::vector<Candidate> c, int stage) {
    constexpr size_t kChunk = 32;
    const int size = stage == 1 ? mtcnn::kRNetSize : mtcnn::kONetSize;
    const size_t per = size_t(size) * size * 3, chunks = (c.size() + kChunk - 1) / kChunk;
    std::vector<std::array<float, 16>> outs(c.size());
    auto run = [&](Worker& wk, size_t first, size_t step, engine::ThreadPool* pool) {
      engine::Sequential& net = stage == 1 ? wk.nets.rnet : wk.nets.onet;
      for (size_t chunk = first; chunk < chunks; chunk += step) {
        const size_t start = chunk * kChunk, n = std::min(kChunk, c.size() - start);
        wk.input.resize(Shape{int(n), size, size, 3});
        for (size_t i = 0; i < n; ++i) cropInto(rgb, c[start + i].box, size, wk.input.data() + i * per, wk);
        const Tensor& out = net.forward(wk.input, pool);
        const size_t oc = size_t(out.shape().c);
        for (size_t i = 0; i < n; ++i) std::copy(out.data() + i * oc, out.data() + (i + 1) * oc, outs[start + i].begin());
      }
    };
    if (workers_.size() > 1 && chunks > 1) {
      const size_t t = std::min(workers_.size(), chunks);
      pool_.parallelFor(t, [&](size_t w) { run(*workers_[w], w, t, nullptr); });
    } else {
      run(*workers_[0], 0, 1, &pool_);
    }
    std::vector<Candidate> kept;
    for (size_t i = 0; i < c.size(); ++i) {
      const float* o = outs[i].data();
      Candidate k = c[i];
      k.score = faceProbability(o);
      if (k.score < opt_.thresholds[size_t(stage)]) continue;
      std::copy(o + 2, o + 6, k.reg);
      if (stage == 2)
        for (int p = 0; p < 5; ++p)
          k.points[size_t(p)] = {k.box.x1 + o[6 + p] * k.box.width(), k.box.y1 + o[11 + p] * k.box.height()};
      kept.push_back(k);
    }
    if (stage == 1) {
      kept = nms(std::move(kept), opt_.nms[1], Overlap::kUnion);
      for (Candidate& k : kept) applyRegression(k), square(k);
    } else {
      for (Candidate& k : kept) applyRegression(k);
      kept = nms(std::move(kept), opt_.nms[2], Overlap::kMin);
    }
    return kept;
  }

  DetectorOptions opt_;
  engine::ThreadPool pool_;
  engine::ModelFile model_;
  engine::Backend backend_ = engine::Backend::kFast;
  std::vector<std::unique_ptr<Worker>> workers_;  // one per thread; workers_[0] also when single-threaded
  std::map<std::pair<int, int>, engine::Sequential> pnet_by_size_;
  DetectorProfile prof_;
  Tensor pnet_scratch_[2];  // shared by every level's P-Net when levels run one after another
  std::vector<Level> levels_;
  cv::Mat level_, resized_, scratch_[2];
};

}  // namespace

std::unique_ptr<FaceDetector> FaceDetector::create(const DetectorOptions& options) {
  return std::make_unique<MtcnnDetector>(options);
}

std::string defaultModelPath(const std::string& file_name) {
  if (const char* dir = std::getenv("FACEKIT_MODEL_DIR"); dir && *dir) return std::string(dir) + "/" + file_name;
  // Converted models (make models) live in models/, weights that the repository ships in weights/.
  const std::string converted = std::string(FACEKIT_SOURCE_MODEL_DIR) + "/" + file_name;
  const std::string shipped = std::string(FACEKIT_SOURCE_WEIGHTS_DIR) + "/" + file_name;
  return !std::ifstream(converted) && std::ifstream(shipped) ? shipped : converted;
}

float iou(const Box& a, const Box& b) {
  const float inter = intersection(a, b);
  const float u = area(a) + area(b) - inter;
  return u > 0 ? inter / u : 0.f;
}

}  // namespace facekit
