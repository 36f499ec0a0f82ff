// The MTCNN cascade: image pyramid -> P-Net proposals -> R-Net refinement -> O-Net boxes and
// 5 landmarks, with the thresholds and NMS settings of the original paper's code.
#include <fstream>
#include <algorithm>
#include <atomic>
#include <thread>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/thread_pool.hpp"
#include "facekit/detector.hpp"
#include "facekit/error.hpp"
#include "models/cv_interop.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"

namespace facekit {
namespace {

using engine::Shape;
using engine::Tensor;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Candidate {
  Box box;
  float score = 0;
  float reg[4] = {0, 0, 0, 0};
  std::array<Point2f, 5> points{};
  int turn = 0;  // all_orientations: quarter turns clockwise of the frame box and points are in
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

// Non-maximum suppression within each orientation pass: candidates of different passes are
// different hypotheses and are merged only after verification.
std::vector<Candidate> nmsByTurn(std::vector<Candidate> c, float threshold, Overlap mode) {
  if (std::all_of(c.begin(), c.end(), [&](const Candidate& k) { return k.turn == c.front().turn; })) return nms(std::move(c), threshold, mode);
  std::vector<Candidate> out, group;
  for (int turn = 0; turn < 4; ++turn) {
    group.clear();
    for (const Candidate& k : c)
      if (k.turn == turn) group.push_back(k);
    for (const Candidate& k : nms(std::move(group), threshold, mode)) out.push_back(k);
  }
  return out;
}

// cv::rotate flag of `turn` quarter turns clockwise ([0] is never used).
constexpr cv::RotateFlags kTurnFlag[4] = {cv::ROTATE_180, cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE};

// A point of the image turned `turn` quarter turns clockwise, in the original W x H image.
Point2f unturn(Point2f p, int turn, int W, int H) {
  switch (turn) {
    case 0: return p;
    case 1: return {p.y, float(H) - p.x};  // turned image is H wide, W high
    case 2: return {float(W) - p.x, float(H) - p.y};
    default: return {float(W) - p.y, p.x};
  }
}

Box unturn(const Box& b, int turn, int W, int H) {
  const Point2f a = unturn(Point2f{b.x1, b.y1}, turn, W, H), c = unturn(Point2f{b.x2, b.y2}, turn, W, H);
  return {std::min(a.x, c.x), std::min(a.y, c.y), std::max(a.x, c.x), std::max(a.y, c.y)};
}

// all_orientations: the settings of the turned passes and of the upright re-checks, measured on
// WIDER FACE train images (../shared/data/widerface-train-subset: 118 images turned by 0, 45, 90,
// 135, 180 and 270 degrees, labelled by their official boxes; never the test photos). The
// figures are in detector.hpp.
constexpr float kTurnedPnetThreshold = 0.8f;  // P-Net of the turned passes (fewer R-Net candidates)
constexpr float kKnownCascade = 0.99f;        // an upright face this sure (O-Net)
constexpr float kKnownCheck = 0.9f;           // and checked this well: the turned passes skip its place
constexpr float kEvidence = 12.f;             // a face passes on its own: logits of its cascade O-Net
                                              // score, two checks and the R-Net check sum to this (0.95 each)
constexpr float kTrustedCheck = 0.5f;         // a face of a confirmed pass: its first check at least this
constexpr float kLevelRoll = 30.f;            // degrees: a face this close to a pass's upright is level there
constexpr double kPi = 3.14159265358979323846;

// border_faces. Each pyramid level gets kBorderPad pixels of border (half of P-Net's 12-pixel
// window, at every level: a face cut at its middle is still seen whole by one window; borders
// of 8 and 12 pixels found no more faces), and what lies outside the image, there and in the
// R-Net and O-Net crops, is mean grey (127.5 is 0 after MTCNN's normalisation). Measured on the
// cut portraits of tests/test_border.cpp (192 crops each, 40 % / 50 % of the face cut off;
// found whole with IoU >= 0.4), level border + crop fill: black + black (the original MTCNN's
// crops) 0.932 / 0.646; replicated + black 0.984 / 0.859, replicated + replicated 0.698 / 0.208,
// replicated + grey 0.995 / 0.901; grey + black 0.984 / 0.896, grey + replicated 0.797 / 0.312,
// grey + grey 0.995 / 0.974 (kept).
constexpr int kBorderPad = 6;  // even: P-Net's stride-2 grid stays where it is inside the image
constexpr uint8_t kOutsideGrey = 128;

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
      workers_.back()->nets = buildNets();
    }
  }

  const DetectorOptions& options() const override { return opt_; }
  const DetectorProfile& lastProfile() const override { return prof_; }

  std::vector<Face> detect(const ImageView& view) override {
    checkView(view, "detect");
    prof_ = {};
    const auto t0 = Clock::now();
    const cv::Mat rgb = asRgb(view);
    std::vector<Face> faces;
    if (opt_.all_orientations) {
      faces = allOrientations(rgb);
    } else {
      for (const Candidate& k : cascade(rgb)) faces.push_back({k.score, k.box, k.points});
    }
    prof_.total_ms = msSince(t0);
    return faces;
  }

  VerifiedFace verify(const ImageView& view, const Face& candidate) override {
    checkView(view, "verify");
    if (!(candidate.box.width() > 0 && candidate.box.height() > 0) || !std::isfinite(candidate.box.x1 + candidate.box.y1 + candidate.box.x2 + candidate.box.y2))
      throw Error(Error::Code::kInvalidArgument, "verify: the candidate's box is empty or not finite");
    const cv::Mat rgb = asRgb(view);
    std::vector<Check> checks(1);
    checks[0].setFrom(candidate);
    runChecks(rgb, checks, false);
    return checks[0].result;
  }

 private:
  static void checkView(const ImageView& view, const char* what) {
    if (!view.data) throw Error(Error::Code::kInvalidArgument, std::string(what) + ": image view has no data");
    if (view.width < 12 || view.height < 12)
      throw Error(Error::Code::kInvalidArgument, std::string(what) + ": image is " + std::to_string(view.width) + "x" +
                                                     std::to_string(view.height) + " pixels; MTCNN needs at least 12x12");
  }

  // The three MTCNN stages on one RGB image.
  std::vector<Candidate> cascade(const cv::Mat& rgb) {
    std::vector<Candidate> c = stage1(rgb);
    prof_.pnet_candidates += int(c.size());
    const auto t2 = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 1, uniform(opt_.thresholds[1]));
    prof_.rnet_candidates += int(c.size());
    prof_.rnet_ms += msSince(t2);
    const auto t3 = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 2, uniform(opt_.thresholds[2]));
    prof_.onet_ms += msSince(t3);
    return c;
  }

  static std::array<float, 4> uniform(float t) { return {t, t, t, t}; }

  // One upright re-check: O-Net (and R-Net) on a de-rotated crop; see checkCrop().
  struct Check {
    // in: the crop, a square of `side` around `centre`, turned by `roll` (radians)
    Point2f centre;
    float side = 0, roll = 0;
    VerifiedFace result;
    float rnet = 0;   // R-Net on the same crop (when asked for)
    int quarter = 0;  // quarter turns checkFaces() added to the eyes' roll
    void setFrom(const Face& f) {
      centre = {0.5f * (f.box.x1 + f.box.x2), 0.5f * (f.box.y1 + f.box.y2)};
      side = std::max(f.box.width(), f.box.height());
      const float dx = f.landmarks[1].x - f.landmarks[0].x, dy = f.landmarks[1].y - f.landmarks[0].y;
      roll = dx == 0 && dy == 0 ? 0.f : std::atan2(dy, dx);
    }
  };

  // ---- all orientations ---------------------------------------------------------------------
  //
  // One pyramid. Each level is also turned by 90, 180 and 270 degrees (cv::rotate of the resized
  // level: exact quarter turns) and P-Net runs on the turned levels too; the turned passes start
  // at the level that sees faces of 2 x min_face_size. Then:
  //  * the upright pass is the upright detector's cascade. Its faces are checked (checkFaces):
  //    which way up they are (R-Net on the crop turned by the eyes' roll and three more quarter
  //    turns, O-Net to confirm a change: MTCNN also fires on faces turned by 90 or 180 degrees,
  //    with its points in the wrong order, and those are re-derived from the check), then O-Net
  //    on the crop that way up, twice. Where a face is sure, level and checks well, the turned
  //    passes' candidates are dropped (stop early);
  //  * R-Net and O-Net run once on the merged candidates of the three turned passes, and their
  //    faces are checked the same way;
  //  * a face's evidence is the sum of the logits of its cascade O-Net score, the two O-Net
  //    checks and an R-Net check; a face passes on its own with evidence >= kEvidence;
  //  * such a face level in a pass (kLevelRoll) confirms that pass: for a turned pass, a turned
  //    photo (the camera on its side). A confirmed turned pass runs again as the upright
  //    detector would on the image turned that way (all levels, the upright thresholds).
  //    Confirmed passes, and the upright pass when no pass is confirmed, are trusted: their
  //    faces pass on the upright detector's thresholds (turned: and a first check >=
  //    kTrustedCheck the right way up);
  //  * duplicates of one face across passes merge: the face seen level in its pass is kept,
  //    else the one best by cascade and first check.
  std::vector<Face> allOrientations(const cv::Mat& rgb) {
    const int W = rgb.cols, H = rgb.rows;
    const int n = buildPyramid(rgb), F = std::min(n, turnedFirstLevel());
    std::vector<Candidate> up, turned;
    for (const Candidate& k : pnetTurns({0, F, F, F}, n, W, H)) (k.turn == 0 ? up : turned).push_back(k);

    // The upright pass: exactly the upright detector's cascade.
    auto t = Clock::now();
    if (!up.empty()) up = refine(rgb, up, 1, uniform(opt_.thresholds[1]));
    prof_.rnet_candidates += int(up.size());
    prof_.rnet_ms += msSince(t);
    t = Clock::now();
    if (!up.empty()) up = refine(rgb, up, 2, uniform(opt_.thresholds[2]));
    prof_.onet_ms += msSince(t);
    // Its faces are checked: which way up they are, O-Net on the crop that way up, twice.
    t = Clock::now();
    std::vector<Found> faces;
    std::array<bool, 4> confirmed{};
    const std::vector<Check> up_checks = checkFaces(rgb, up);
    std::vector<Check> again(up.size());
    for (size_t i = 0; i < up.size(); ++i) again[i].setFrom(up_checks[i].result.face);
    runChecks(rgb, again, true);
    for (size_t i = 0; i < up.size(); ++i) {
      const Check &k = up_checks[i], &k2 = again[i];
      Found f;
      f.face = {up[i].score, up[i].box, up[i].points};
      // Found the wrong way up: re-derived from its checks.
      f.rederived = k.quarter != 0;
      f.level = !f.rederived && levelIn(0, eyeRoll(f.face));
      if (f.rederived && k2.result.score >= opt_.thresholds[2]) f.face = k2.result.face;
      f.check = k.result.score;
      f.rank = logit(up[i].score) + logit(k.result.score);
      f.evidence = logit(up[i].score) + logit(k.result.score) + logit(k2.result.score) + logit(k2.rnet);
      f.standard = true;
      if (f.evidence >= kEvidence) confirm(eyeRoll(k2.result.face), confirmed);
      faces.push_back(f);
    }
    // Stop early where a face is already found upright: the turned passes' candidates there are
    // dropped.
    std::vector<Box> known;
    for (const Found& f : faces)
      if (f.level && f.face.score >= kKnownCascade && f.check >= kKnownCheck) known.push_back(f.face.box);
    dropKnown(turned, known, W, H);
    prof_.verify_ms += msSince(t);

    // The turned passes, their faces checked.
    turnedFaces(rgb, turned, faces, confirmed);
    // A confirmed turned pass runs again as the upright detector would on the image turned that
    // way: all levels (its finer ones now), the upright thresholds; its faces replace its first.
    for (int turn = 1; turn < 4; ++turn) {
      if (!confirmed[size_t(turn)]) continue;
      std::array<int, 4> from = {-1, -1, -1, -1};
      from[size_t(turn)] = 0;
      std::vector<Candidate> again = pnetTurns(from, F, W, H, n);
      dropKnown(again, known, W, H);
      faces.erase(std::remove_if(faces.begin(), faces.end(), [&](const Found& f) { return f.turn == turn; }), faces.end());
      std::array<bool, 4> unused{};
      turnedFaces(rgb, again, faces, unused);
    }

    // Which passes are trusted like the upright detector: the confirmed ones; the upright pass
    // also when no pass is confirmed.
    std::array<bool, 4> trusted = confirmed;
    if (std::none_of(confirmed.begin(), confirmed.end(), [](bool c) { return c; })) trusted[0] = true;
    // One face per place: of those seen level in their pass the best (cascade and first check),
    // else the best of the others.
    t = Clock::now();
    std::stable_sort(faces.begin(), faces.end(), [](const Found& a, const Found& b) { return a.level != b.level ? a.level : a.rank > b.rank; });
    std::vector<Face> out;
    for (const Found& f : faces) {
      if (!(f.evidence >= kEvidence || (trusted[size_t(f.turn)] && f.standard))) continue;
      if (std::none_of(out.begin(), out.end(), [&](const Face& o) { return samePlace(o.box, f.face.box); })) out.push_back(f.face);
    }
    std::stable_sort(out.begin(), out.end(), [](const Face& a, const Face& b) { return a.score > b.score; });
    prof_.verify_ms += msSince(t);
    return out;
  }

  // A face of some pass with what its checks said.
  struct Found {
    Face face;
    float check = 0;        // first check's O-Net probability
    float rank = 0;         // which duplicate is kept: logits of its cascade O-Net score + first check
    bool rederived = false; // found the wrong way up: its box and points come from its checks
    bool level = false;     // not rederived, and its eyes level in its pass (levelIn): the pass saw
                            // it nearly upright; such a duplicate is kept first
    int turn = 0;
    float evidence = 0;     // logits of cascade O-Net + two checks + R-Net check
    bool standard = false;  // passes in a trusted pass
  };

  // The first pyramid level of the turned passes: faces from 2 x min_face_size.
  int turnedFirstLevel() const {
    int first = 0;
    for (float s = 1; s > 0.5f + 1e-4f; s *= opt_.scale_factor) ++first;
    return first;
  }

  // R-Net and O-Net on the merged candidates of the turned passes, then their checks; the faces
  // are added to `faces` (all of them: which are kept is decided at the end); `confirmed` marks
  // the passes in which one that passes on its own is level.
  void turnedFaces(const cv::Mat& rgb, std::vector<Candidate> c, std::vector<Found>& faces, std::array<bool, 4>& confirmed) {
    const int W = rgb.cols, H = rgb.rows;
    auto t = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 1, uniform(opt_.thresholds[1]));
    prof_.rnet_candidates += int(c.size());
    prof_.rnet_ms += msSince(t);
    t = Clock::now();
    if (!c.empty()) c = refine(rgb, c, 2, uniform(opt_.thresholds[2]));
    prof_.onet_ms += msSince(t);
    t = Clock::now();
    for (Candidate& k : c) {
      for (auto& p : k.points) p = unturn(p, k.turn, W, H);
      k.box = unturn(k.box, k.turn, W, H);
    }
    // O-Net on the crop turned upright (by the eyes' roll and the best quarter turn), again on
    // the crop that check refined, with R-Net.
    const std::vector<Check> first = checkFaces(rgb, c);
    std::vector<Check> second(c.size());
    for (size_t i = 0; i < c.size(); ++i) second[i].setFrom(first[i].result.face);
    runChecks(rgb, second, true);
    for (size_t i = 0; i < c.size(); ++i) {
      Found f;
      f.turn = c[i].turn;
      // As the pass found it (the upright detector's result on the image turned that way), unless
      // the check found it the wrong way up: then re-derived from the checks.
      f.rederived = first[i].quarter != 0;
      f.face = f.rederived ? second[i].result.face : Face{c[i].score, c[i].box, c[i].points};
      f.level = !f.rederived && levelIn(f.turn, eyeRoll(f.face));
      f.check = first[i].result.score;
      f.rank = logit(c[i].score) + logit(first[i].result.score);
      f.evidence = logit(c[i].score) + logit(first[i].result.score) + logit(second[i].result.score) + logit(second[i].rnet);
      f.standard = first[i].quarter == 0 && c[i].score >= opt_.thresholds[2] && first[i].result.score >= kTrustedCheck;
      if (first[i].quarter != 0 && second[i].result.score < opt_.thresholds[2]) f.evidence = -1e30f, f.standard = false;  // its score is the check's
      if (f.evidence >= kEvidence) confirm(eyeRoll(second[i].result.face), confirmed);
      faces.push_back(f);
    }
    prof_.verify_ms += msSince(t);
  }

  // Degrees, clockwise on screen: the angle of a face's eye line.
  static float eyeRoll(const Face& f) {
    return float(std::atan2(f.landmarks[1].y - f.landmarks[0].y, f.landmarks[1].x - f.landmarks[0].x) * 180 / kPi);
  }

  // A face passing on its own confirms the pass that sees it level (the roll of its checked
  // points within kLevelRoll of that pass's upright).
  static void confirm(float roll_degrees, std::array<bool, 4>& confirmed) {
    for (int turn = 0; turn < 4; ++turn)
      if (levelIn(turn, roll_degrees)) confirmed[size_t(turn)] = true;
  }

  // A face of this roll (degrees) is level in the pass turned `turn` quarter turns: within
  // kLevelRoll of that pass's upright.
  static bool levelIn(int turn, float roll_degrees) {
    return std::fabs(std::remainder(roll_degrees + 90.f * float(turn), 360.f)) <= kLevelRoll;
  }

  // Orientation test, then the first check, for faces in image coordinates.
  // The way up is the eyes' unless R-Net prefers another quarter turn and O-Net agrees: the
  // sum of both logits there beats the sum at the eyes' roll.
  std::vector<Check> checkFaces(const cv::Mat& rgb, const std::vector<Candidate>& c) {
    std::vector<Check> checks(c.size());
    for (size_t i = 0; i < c.size(); ++i) checks[i].setFrom({c[i].score, c[i].box, c[i].points});
    std::vector<std::array<float, 4>> rnet = orient(rgb, checks);
    runChecks(rgb, checks, false);
    std::vector<Check> turned;
    std::vector<size_t> which;
    for (size_t i = 0; i < c.size(); ++i) {
      int best = 0;
      for (int q = 1; q < 4; ++q)
        if (rnet[i][size_t(q)] > rnet[i][size_t(best)]) best = q;
      if (best == 0) continue;
      turned.push_back(checks[i]);
      turned.back().roll += float(best * kPi / 2), turned.back().quarter = best;
      which.push_back(i);
    }
    runChecks(rgb, turned, false);
    for (size_t j = 0; j < turned.size(); ++j) {
      const size_t i = which[j];
      if (logit(turned[j].result.score) + rnet[i][size_t(turned[j].quarter)] > logit(checks[i].result.score) + rnet[i][0]) checks[i] = turned[j];
    }
    return checks;
  }

  // Drops candidates (in their turned frames) lying where a known face is.
  static void dropKnown(std::vector<Candidate>& c, const std::vector<Box>& known, int W, int H) {
    if (known.empty()) return;
    std::vector<Candidate> rest;
    for (const Candidate& k : c) {
      const Box b = unturn(k.box, k.turn, W, H);
      if (std::none_of(known.begin(), known.end(), [&](const Box& f) { return samePlace(f, b); })) rest.push_back(k);
    }
    c.swap(rest);
  }

  // Two boxes on one face: overlap above half of the smaller box, which is at least a quarter
  // of the larger (a face box around a smaller one is not the same face).
  static bool samePlace(const Box& a, const Box& b) {
    const float m = std::min(area(a), area(b));
    return m > 0 && m >= 0.25f * std::max(area(a), area(b)) && intersection(a, b) / m > 0.5f;
  }

  static float logit(float p) {
    p = std::min(std::max(p, 1e-5f), 1 - 1e-5f);
    return std::log(p / (1 - p));
  }

  // The upright pyramid, kept in rgb_levels_: each level made from the previous one, as stage1.
  int buildPyramid(const cv::Mat& rgb) {
    const auto t = Clock::now();
    if (pnet_by_size_.size() > 256) pnet_by_size_.clear();
    const int W = rgb.cols, H = rgb.rows;
    const float m = float(mtcnn::kPNetCell) / float(opt_.min_face_size);
    float min_side = float(std::min(W, H)) * m;
    size_t n = 0;
    for (float scale = m; min_side >= mtcnn::kPNetCell; scale *= opt_.scale_factor, min_side *= opt_.scale_factor, ++n) {
      const int ws = int(std::ceil(W * scale)), hs = int(std::ceil(H * scale));
      if (ws < mtcnn::kPNetCell || hs < mtcnn::kPNetCell) break;
      if (rgb_levels_.size() <= n) rgb_levels_.emplace_back();
      resizeFast(n == 0 ? rgb : rgb_levels_[n - 1], cv::Size(ws, hs), rgb_levels_[n], scratch_);
    }
    prof_.pyramid_ms += msSince(t);
    return int(n);
  }

  // P-Net on levels from[turn] .. to - 1 of each turn (from = -1: not that turn) of the W x H
  // image's pyramid; the candidates of levels from[turn] .. collect - 1 (collect > to: levels run
  // before too) after cross-scale NMS, regression and squaring, in their turn's frame, tagged.
  std::vector<Candidate> pnetTurns(const std::array<int, 4>& from, int to, int W, int H, int collect = -1) {
    if (collect < 0) collect = to;
    auto t = Clock::now();
    // One task per (level, turn), largest levels first. Each has its own image, input and
    // workspace, and a P-Net of its own size and turn (passes turned by 0 and 180 degrees have
    // levels of one size; keyed by turn, no two tasks that may run at once share a net).
    struct Task {
      int turn, level;
    };
    std::vector<Task> tasks;
    const int pad = opt_.border_faces ? kBorderPad : 0;
    long kept = 0;  // pixels of the band nets that tiled levels keep for the next call
    for (int turn = 0; turn < 4; ++turn)
      if (tlevels_[turn].size() < size_t(to)) tlevels_[turn].resize(size_t(to));
    for (int i = 0; i < to; ++i)
      for (int turn = 0; turn < 4; ++turn) {
        Level& lv = tlevels_[turn][size_t(i)];
        lv.found.clear();
        if (from[size_t(turn)] < 0 || i < from[size_t(turn)]) {
          lv.net = nullptr;
          continue;
        }
        const cv::Mat& src = rgb_levels_[size_t(i)];
        const bool sideways = turn & 1;
        const int cols = sideways ? src.rows : src.cols, rows = sideways ? src.cols : src.rows;
        if (band_pixels_ > 0 && long(cols + 2 * pad) * (rows + 2 * pad) > band_pixels_) {
          planTiles(lv, pad, cols, rows);  // bounded memory, as stage1: row bands of the turned level
          kept += long(lv.band_nets.size()) * (2 * lv.band_rows + 10) * (cols + 2 * pad);
          lv.keep = kept <= kKeepPixels;  // band nets kept for the next call within the budget (else rebuilt)
        } else {
          lv.tiled = false, lv.pad = pad, lv.band_nets.clear(), lv.band_width = 0;
          lv.net = &pnetFor(rows + 2 * pad, cols + 2 * pad, turn);
        }
        tasks.push_back({turn, i});
      }
    prof_.pyramid_ms += msSince(t);
    t = Clock::now();
    const bool parallel = pool_.threads() > 1;
    pool_.parallelFor(tasks.size(), [&](size_t k) {
      const int turn = tasks[k].turn;
      Level& lv = tlevels_[turn][size_t(tasks[k].level)];
      const cv::Mat& src = rgb_levels_[size_t(tasks[k].level)];
      if (turn > 0)
        cv::rotate(src, lv.image, kTurnFlag[turn]);
      else
        lv.image = src;  // shares the pixels
      if (!lv.tiled) fillLevel(lv.image, lv, pad);
      const int w = turn & 1 ? H : W, h = turn & 1 ? W : H;  // the image's size in the turn's frame
      runLevel(lv, w, h, parallel ? lv.scratch : pnet_scratch_);
    });
    std::vector<Candidate> out;
    for (int turn = 0; turn < 4; ++turn) {
      if (from[size_t(turn)] < 0) continue;
      const float threshold = turn == 0 || from[size_t(turn)] == 0 ? opt_.thresholds[0] : std::max(opt_.thresholds[0], kTurnedPnetThreshold);
      std::vector<Candidate> all;
      for (int i = from[size_t(turn)]; i < collect; ++i)
        for (const Candidate& k : tlevels_[turn][size_t(i)].found)
          if (k.score >= threshold) all.push_back(k);
      all = nms(std::move(all), opt_.nms[0], Overlap::kUnion);
      for (Candidate& k : all) applyRegression(k), square(k), k.turn = turn, out.push_back(k);
    }
    prof_.pnet_candidates += int(out.size());
    prof_.pnet_ms += msSince(t);
    return out;
  }

  // ---- the upright re-check (verify) ------------------------------------------------------

  // The de-rotated 48 x 48 O-Net input of one check: image point of crop coordinates (a, b)
  // (pixels of the `side` square, from its top-left corner, in the face's own frame) is
  // centre + (a - side/2) * (cos, sin) + (b - side/2) * (-sin, cos).
  void checkCrop(const cv::Mat& rgb, const Check& k, int S, float* dst, cv::Mat& patch, cv::Mat& shrunk) {
    const double cs = std::cos(k.roll), sn = std::sin(k.roll);
    // Large faces are first shrunk (area averaging) to about twice the input size, so the
    // bilinear warp below does not alias.
    const cv::Mat* src = &rgb;
    double ox = 0, oy = 0, kx = 1, ky = 1;
    if (k.side > 2 * S) {
      const double half = 0.5 * k.side * (std::fabs(cs) + std::fabs(sn)) + 2;
      const cv::Rect r = cv::Rect(int(std::floor(k.centre.x - half)), int(std::floor(k.centre.y - half)), int(std::ceil(2 * half)) + 1,
                                  int(std::ceil(2 * half)) + 1) & cv::Rect(0, 0, rgb.cols, rgb.rows);
      if (r.width >= 2 && r.height >= 2) {
        const double f = 2.0 * S / k.side;
        const cv::Size to(std::max(1, int(std::lround(r.width * f))), std::max(1, int(std::lround(r.height * f))));
        resizeFast(rgb(r), to, shrunk, check_scratch_);
        src = &shrunk, ox = r.x, oy = r.y, kx = double(to.width) / r.width, ky = double(to.height) / r.height;
      }
    }
    // dst pixel (u, v) -> source pixel index: continuous crop point (u + 0.5) * side / S.
    const double step = k.side / S, a0 = 0.5 * step - 0.5 * k.side;
    const double x0 = k.centre.x + a0 * cs - a0 * sn, y0 = k.centre.y + a0 * sn + a0 * cs;
    const cv::Matx23d M(kx * step * cs, -kx * step * sn, (x0 - ox) * kx - 0.5,  //
                        ky * step * sn, ky * step * cs, (y0 - oy) * ky - 0.5);
    cv::warpAffine(*src, patch, M, cv::Size(S, S), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    normalizeInto(patch, dst);
  }

  // R-Net on each check's crop turned by 0, 90, 180 and 270 degrees more (one batch): the face
  // logits of the four.
  std::vector<std::array<float, 4>> orient(const cv::Mat& rgb, const std::vector<Check>& checks) {
    constexpr int R = mtcnn::kRNetSize;
    std::vector<std::array<float, 4>> logits(checks.size());
    if (checks.empty()) return logits;
    const size_t per = size_t(R) * R * 3;
    Worker& wk = *workers_[0];
    rnet_input_.resize(Shape{int(4 * checks.size()), R, R, 3});
    for (size_t i = 0; i < checks.size(); ++i)
      for (int q = 0; q < 4; ++q) {
        Check k = checks[i];
        k.roll += float(q * kPi / 2);
        checkCrop(rgb, k, R, rnet_input_.data() + (4 * i + size_t(q)) * per, wk.patch, check_shrunk_);
      }
    const Tensor& out = wk.nets.rnet.forward(rnet_input_, nullptr);
    const size_t oc = size_t(out.shape().c);
    for (size_t i = 0; i < checks.size(); ++i)
      for (int q = 0; q < 4; ++q) {
        const float* o = out.data() + (4 * i + size_t(q)) * oc;
        logits[i][size_t(q)] = o[1] - o[0];
      }
    return logits;
  }

  // O-Net on every check's de-rotated crop (one batch), results back in image coordinates.
  void runChecks(const cv::Mat& rgb, std::vector<Check>& checks, bool with_rnet) {
    constexpr int S = mtcnn::kONetSize, R = mtcnn::kRNetSize;
    if (checks.empty()) return;
    const size_t per = size_t(S) * S * 3;
    Worker& wk = *workers_[0];
    wk.input.resize(Shape{int(checks.size()), S, S, 3});
    if (with_rnet) rnet_input_.resize(Shape{int(checks.size()), R, R, 3});
    for (size_t i = 0; i < checks.size(); ++i) {
      checkCrop(rgb, checks[i], S, wk.input.data() + i * per, wk.patch, check_shrunk_);
      if (with_rnet) {
        cv::resize(wk.patch, wk.turned, cv::Size(R, R), 0, 0, cv::INTER_AREA);
        normalizeInto(wk.turned, rnet_input_.data() + i * size_t(R) * R * 3);
      }
    }
    if (with_rnet) {
      const Tensor& ro = wk.nets.rnet.forward(rnet_input_, nullptr);
      for (size_t i = 0; i < checks.size(); ++i) checks[i].rnet = faceProbability(ro.data() + i * size_t(ro.shape().c));
    }
    const Tensor& out = wk.nets.onet.forward(wk.input, nullptr);
    const size_t oc = size_t(out.shape().c);
    for (size_t i = 0; i < checks.size(); ++i) {
      Check& k = checks[i];
      const float* o = out.data() + i * oc;
      const float s = k.side, cs = std::cos(k.roll), sn = std::sin(k.roll);
      auto toImage = [&](float a, float b) {  // crop pixels -> image
        a -= 0.5f * s, b -= 0.5f * s;
        return Point2f{k.centre.x + a * cs - b * sn, k.centre.y + a * sn + b * cs};
      };
      VerifiedFace& r = k.result;
      r.score = faceProbability(o);
      r.roll = std::remainder(k.roll * float(180 / kPi), 360.f);
      const float x1 = o[2] * s, y1 = o[3] * s, x2 = s + o[4] * s, y2 = s + o[5] * s;
      r.centre = toImage(0.5f * (x1 + x2), 0.5f * (y1 + y2));
      r.width = x2 - x1, r.height = y2 - y1;
      const bool sideways = std::fabs(sn) > std::fabs(cs);
      const float hw = 0.5f * (sideways ? r.height : r.width), hh = 0.5f * (sideways ? r.width : r.height);
      r.face.score = r.score;
      r.face.box = {r.centre.x - hw, r.centre.y - hh, r.centre.x + hw, r.centre.y + hh};
      for (int p = 0; p < 5; ++p) r.face.landmarks[size_t(p)] = toImage(o[6 + p] * s, o[11 + p] * s);
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
  // `slot` keeps apart the nets of passes that may run at the same time (all_orientations: the
  // turn, as the passes of two turns have levels of the same sizes).
  // The per-size cache within a budget: when the nets it holds were built for more than
  // kCachePixels input pixels in all (or 256 sizes), it starts again.
  void boundPnetCache() {
    long pixels = 0;
    for (const auto& e : pnet_by_size_) pixels += long(e.first[0]) * e.first[1];
    if (pnet_by_size_.size() > 256 || pixels > kCachePixels) pnet_by_size_.clear();
  }

  engine::Sequential& pnetFor(int h, int w, int slot = 0) {
    auto it = pnet_by_size_.find({h, w, slot});
    if (it == pnet_by_size_.end()) it = pnet_by_size_.emplace(std::array<int, 3>{h, w, slot}, buildNets(true).pnet).first;
    return it->second;
  }

  // The nets at the options' precision (int8: the nets of int8Nets(), the others FP32).
  // pnet_only: only P-Net is wanted (R-Net and O-Net are still built in FP32, they are small).
  mtcnn::Nets buildNets(bool pnet_only = false) const {
    if (opt_.precision != ComputePrecision::kInt8) return mtcnn::buildNets(model_, backend_);
    return mtcnn::buildNetsInt8(model_, pnet_only ? (int8Nets().find("pnet") != std::string::npos ? "pnet" : "") : int8Nets(), backend_);
  }
  // FACEKIT_INT8_NETS (comma-separated pnet, rnet, onet; default pnet,rnet): which nets kInt8
  // quantizes. O-Net stays FP32 by default: int8 there saved ~0.5 ms at 640x480 and cost 0.005
  // easy AP (min face 12), and its points feed the landmark models.
  static std::string int8Nets() {
    const char* e = std::getenv("FACEKIT_INT8_NETS");
    return e && *e ? std::string(e) : std::string("pnet,rnet");
  }

  // One pyramid level: its normalised input, the P-Net that serves its size, its workspace and
  // the candidates it produced.
  struct Level {
    Tensor input;
    engine::Sequential* net = nullptr;
    Tensor scratch[2];
    std::vector<Candidate> found;
    int pad = 0;  // pixels of border around the level's image in `input` (border_faces)
    // The level's 8-bit image (turned, in a turned pass; normalised into `input` by its task).
    // Tiled levels (more than band_pixels_ padded pixels) run through P-Net in row bands of it;
    // band height -> the P-Net for that band size (at most two sizes).
    bool tiled = false, keep = false;  // keep: its nets, image and buffers stay for the next call
    cv::Mat image;
    int band_rows = 0;  // P-Net output rows per band
    std::vector<std::pair<int, std::shared_ptr<engine::Sequential>>> band_nets;  // shared_ptr: Level stays copyable for std::vector
    engine::Sequential& bandNet(int rows) {
      for (auto& b : band_nets)
        if (b.first == rows) return *b.second;
      throw Error(Error::Code::kInternal, "P-Net band of unplanned height");
    }
    int band_width = 0;  // padded width band_nets were built for
  };

  // Writes one pyramid level into lv.input, normalised, with `pad` pixels of border on every
  // side in the outside fill (border_faces: P-Net windows that start outside the image see a
  // cut face as they would see it cropped by refine()).
  static void fillLevel(const cv::Mat& level, Level& lv, int pad) {
    lv.pad = pad;
    const int W = level.cols + 2 * pad, H = level.rows + 2 * pad;
    lv.input.resize(Shape{1, H, W, 3});
    if (pad == 0) return normalizeInto(level, lv.input.data());
    float* d = lv.input.data();
    const float grey = (float(kOutsideGrey) - 127.5f) * 0.0078125f;
    std::fill(d, d + size_t(pad) * W * 3, grey);
    for (int y = 0; y < level.rows; ++y) {
      float* row = d + (size_t(pad + y) * W) * 3;
      std::fill(row, row + pad * 3, grey);
      const uint8_t* src = level.ptr<uint8_t>(y);
      for (int i = 0; i < level.cols * 3; ++i) row[pad * 3 + i] = (float(src[i]) - 127.5f) * 0.0078125f;  // as normalizeInto
      std::fill(row + (pad + level.cols) * 3, row + W * 3, grey);
    }
    std::fill(d + size_t(pad + level.rows) * W * 3, d + size_t(H) * W * 3, grey);
  }

  // P-Net on one level, then per-level NMS (on the calling thread: levels are the tasks).
  void runLevel(Level& lv, int w, int h, Tensor (&scratch)[2]) {
    if (lv.tiled) return runTiled(lv, w, h, scratch);
    const Tensor& out = lv.net->forward(lv.input, nullptr, scratch);
    lv.found.clear();
    decode(out, 0, float(lv.input.shape().w - 2 * lv.pad) / float(w), float(lv.input.shape().h - 2 * lv.pad) / float(h), lv);
    lv.found = nms(std::move(lv.found), opt_.pnet_scale_nms, Overlap::kUnion);
  }

  // P-Net's output cells above thresholds[0] as candidates; output row y is row y0 + y of the
  // level's whole output. sx, sy: the level's exact per-axis factors (level size / image size).
  void decode(const Tensor& out, int y0, float sx, float sy, Level& lv) const {
    const float pad = float(lv.pad);
    const Shape os = out.shape();
    for (int y = 0; y < os.h; ++y)
      for (int x = 0; x < os.w; ++x) {
        const float* o = out.data() + (size_t(y) * os.w + x) * os.c;
        const float p = faceProbability(o);
        if (p < opt_.thresholds[0]) continue;
        Candidate c;
        c.score = p;
        const int gy = y0 + y;
        c.box = {(float(mtcnn::kPNetStride * x) - pad) / sx, (float(mtcnn::kPNetStride * gy) - pad) / sy,
                 (float(mtcnn::kPNetStride * x + mtcnn::kPNetCell) - pad) / sx, (float(mtcnn::kPNetStride * gy + mtcnn::kPNetCell) - pad) / sy};
        std::copy(o + 2, o + 6, c.reg);
        lv.found.push_back(c);
      }
  }

  // Bounded memory. A level of more than band_pixels_ padded pixels runs through P-Net in row
  // bands: output rows [y0, y0 + R) need padded input rows [2 y0, 2 y0 + 2 R + 10) (the 12-row
  // receptive field, stride 2); bands start on even rows, so every conv and pool sees exactly the
  // rows it sees on the whole level and the outputs are those of the whole level. Working memory
  // is then a band's input, activations and XNNPACK buffers, whatever the image size.
  static int pnetOutputRows(int rows) { return (rows - 1) / 2 - 4; }  // 3x3, pool 2 (ceil), 3x3, 3x3
  int bandRows(int padded_width) const { return std::max(1, (band_pixels_ / padded_width - 10) / 2); }

  void runTiled(Level& lv, int w, int h, Tensor (&scratch)[2]) {
    const int Hp = lv.image.rows + 2 * lv.pad, R = lv.band_rows;
    const float sx = float(lv.image.cols) / float(w), sy = float(lv.image.rows) / float(h);
    lv.found.clear();
    for (int y0 = 0; y0 < pnetOutputRows(Hp); y0 += R) {
      const int r0 = 2 * y0, r1 = std::min(Hp, 2 * y0 + 2 * R + 10);
      fillRows(lv.image, lv.input, lv.pad, r0, r1);
      decode(lv.bandNet(r1 - r0).forward(lv.input, nullptr, scratch), y0, sx, sy, lv);
    }
    lv.found = nms(std::move(lv.found), opt_.pnet_scale_nms, Overlap::kUnion);
    if (!lv.keep) {  // over the cache budget: nothing of it stays
      lv.band_nets.clear(), lv.band_width = 0;
      lv.input = Tensor(), lv.image.release();
      if (&scratch[0] == &lv.scratch[0]) lv.scratch[0] = Tensor(), lv.scratch[1] = Tensor();
    }
  }

  // Padded rows [r0, r1) of a level (pad pixels of outside fill around `level`) into t, normalised.
  static void fillRows(const cv::Mat& level, Tensor& t, int pad, int r0, int r1) {
    const int W = level.cols + 2 * pad;
    t.resize(Shape{1, r1 - r0, W, 3});
    const float grey = (float(kOutsideGrey) - 127.5f) * 0.0078125f;
    for (int r = r0; r < r1; ++r) {
      float* row = t.data() + size_t(r - r0) * W * 3;
      const int y = r - pad;
      if (y < 0 || y >= level.rows) {
        std::fill(row, row + W * 3, grey);
        continue;
      }
      std::fill(row, row + pad * 3, grey);
      const uint8_t* src = level.ptr<uint8_t>(y);
      for (int i = 0; i < level.cols * 3; ++i) row[pad * 3 + i] = (float(src[i]) - 127.5f) * 0.0078125f;  // as normalizeInto
      std::fill(row + (pad + level.cols) * 3, row + W * 3, grey);
    }
  }

  // Sets a level up for tiling: its band size and the P-Nets of its (at most two) band heights,
  // built here, before levels run in parallel.
  void planTiles(Level& lv, int pad, int cols, int rows) {
    const int Wp = cols + 2 * pad, Hp = rows + 2 * pad;
    lv.tiled = true, lv.pad = pad, lv.net = nullptr;
    lv.band_rows = bandRows(Wp);
    if (lv.band_width != Wp) lv.band_nets.clear(), lv.band_width = Wp;
    for (int y0 = 0; y0 < pnetOutputRows(Hp); y0 += lv.band_rows) {
      const int rows = std::min(Hp, 2 * y0 + 2 * lv.band_rows + 10) - 2 * y0;
      if (std::none_of(lv.band_nets.begin(), lv.band_nets.end(), [&](const auto& b) { return b.first == rows; }))
        lv.band_nets.emplace_back(rows, std::make_shared<engine::Sequential>(buildNets(true).pnet));
    }
  }

  std::vector<Candidate> stage1(const cv::Mat& rgb) {
    const int w = rgb.cols, h = rgb.rows;
    auto t = Clock::now();
    boundPnetCache();
    // The pyramid: each level is made from the previous one (one factor-0.709 step). Levels of
    // more than band_pixels_ padded pixels keep their 8-bit image and run in bands (runTiled).
    const float m = float(mtcnn::kPNetCell) / float(opt_.min_face_size);
    const int pad = opt_.border_faces ? kBorderPad : 0;
    std::vector<cv::Size> sizes;
    float min_side = float(std::min(w, h)) * m;
    for (float scale = m; min_side >= mtcnn::kPNetCell; scale *= opt_.scale_factor, min_side *= opt_.scale_factor) {
      const int ws = int(std::ceil(w * scale)), hs = int(std::ceil(h * scale));
      if (ws < mtcnn::kPNetCell || hs < mtcnn::kPNetCell) break;
      sizes.emplace_back(ws, hs);
    }
    const size_t n = sizes.size();
    if (levels_.size() < n) levels_.resize(n);  // before any task runs: tasks hold references
    long kept = 0;  // pixels of the band nets that tiled levels keep for the next call
    auto makeLevel = [&](size_t k) {  // level k's image (from level k - 1's) and its P-Net(s)
      Level& lv = levels_[k];
      const int ws = sizes[k].width, hs = sizes[k].height;
      resizeFast(k == 0 ? rgb : levels_[k - 1].image, sizes[k], lv.image, scratch_);
      if (band_pixels_ > 0 && long(ws + 2 * pad) * (hs + 2 * pad) > band_pixels_) {
        planTiles(lv, pad, ws, hs);
        kept += long(lv.band_nets.size()) * (2 * lv.band_rows + 10) * (ws + 2 * pad);
        lv.keep = kept <= kKeepPixels;
        return;
      }
      lv.tiled = false, lv.pad = pad, lv.band_nets.clear(), lv.band_width = 0;
      lv.net = &pnetFor(hs + 2 * pad, ws + 2 * pad);
    };
    if (n > 0) makeLevel(0);
    prof_.pyramid_ms += msSince(t);
    t = Clock::now();
    // Levels are normalised and run as tasks, largest first: whole levels balance (at 640x480
    // level 0 is ~47% of the work; while one thread runs it, the other runs levels 1-5), and
    // P-Net's operators are too small to split over threads. With 2+ threads each level has its
    // own workspace; no operator is split over threads (see engine/thread_pool.hpp).
    // Task 1 first makes levels 1 .. n-1 (each from the one before), so with 2+ threads the rest
    // of the pyramid is built while P-Net runs on level 0; tasks 2+ wait for it. Tasks are taken
    // in order, so the builder has started before any task waits for it.
    const bool parallel = pool_.threads() > 1 && n > 1;
    std::atomic<int> pyramid{n > 1 ? 0 : 1};  // 0: being built, 1: built, 2: building failed
    double build_ms = 0;
    pool_.parallelFor(n, [&](size_t i) {
      if (i == 1) {
        const auto tb = Clock::now();
        try {
          for (size_t k = 1; k < n; ++k) makeLevel(k);
        } catch (...) {
          pyramid.store(2, std::memory_order_release);
          throw;
        }
        build_ms = msSince(tb);
        pyramid.store(1, std::memory_order_release);
      }
      if (i >= 2) {
        int state;
        while ((state = pyramid.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
        if (state == 2) return;  // the builder's exception reaches the caller
      }
      Level& lv = levels_[i];
      if (!lv.tiled) fillLevel(lv.image, lv, lv.pad);
      runLevel(lv, w, h, parallel ? lv.scratch : pnet_scratch_);
    });
    if (levels_.size() > n) levels_.resize(n);  // a larger image's levels: their buffers go
    // One thread: the pyramid's time moves from pnet_ms to pyramid_ms. 2+ threads: it overlapped
    // P-Net on level 0 and stays in pnet_ms (see DetectorProfile).
    if (!parallel) prof_.pyramid_ms += build_ms;
    std::vector<Candidate> all;
    for (size_t i = 0; i < n; ++i) all.insert(all.end(), levels_[i].found.begin(), levels_[i].found.end());
    all = nms(std::move(all), opt_.nms[0], Overlap::kUnion);
    for (Candidate& c : all) applyRegression(c), square(c);
    prof_.pnet_ms += msSince(t) - (parallel ? 0 : build_ms);
    return all;
  }

  // What one thread needs to run R-Net and O-Net on its share of the candidates: XNNPACK
  // operators and buffers cannot be shared between threads that run at the same time.
  struct Worker {
    mtcnn::Nets nets;
    Tensor input;
    cv::Mat patch, scratch[2], turned;
  };

  // Crops box b (rounded to whole pixels, `outside` outside the image), resizes it to size x size
  // and writes it normalised to dst. Moves the box onto the pixel grid: the net's outputs are
  // relative to exactly what it saw. With turn > 0 the box is in the frame of the image turned
  // `turn` quarter turns clockwise, and so is the crop (cut from the image, then turned).
  static void cropInto(const cv::Mat& rgb, Box& b, int turn, int size, float* dst, Worker& wk, uint8_t outside) {
    const int x1 = int(std::floor(b.x1)), y1 = int(std::floor(b.y1));
    const int bw = std::max(1, int(std::lround(b.width()))), bh = std::max(1, int(std::lround(b.height())));
    b = {float(x1), float(y1), float(x1 + bw), float(y1 + bh)};
    cv::Rect box(x1, y1, bw, bh);
    if (turn != 0) {  // the same pixels in the image's frame (whole pixels map to whole pixels)
      const Box u = unturn(b, turn, rgb.cols, rgb.rows);
      box = cv::Rect(int(std::lround(u.x1)), int(std::lround(u.y1)), int(std::lround(u.width())), int(std::lround(u.height())));
    }
    const cv::Rect inside = box & cv::Rect(0, 0, rgb.cols, rgb.rows);
    cv::Mat crop;
    if (inside == box) {
      crop = rgb(box);
    } else {
      crop = cv::Mat(box.height, box.width, CV_8UC3, cv::Scalar::all(outside));
      if (inside.area() > 0) rgb(inside).copyTo(crop(cv::Rect(inside.x - box.x, inside.y - box.y, inside.width, inside.height)));
    }
    resizeFast(crop, cv::Size(size, size), wk.patch, wk.scratch);
    if (turn != 0) {  // resizing and quarter turns commute (up to how odd sides are halved)
      cv::rotate(wk.patch, wk.turned, kTurnFlag[turn]);
      normalizeInto(wk.turned, dst);
      return;
    }
    normalizeInto(wk.patch, dst);
  }

  // Runs R-Net (stage 1) or O-Net (stage 2, which adds landmarks) on the candidates' crops.
  // Crops go through in chunks of kChunk: a chunk's activations stay in the L2 cache, which
  // measured ~30% faster than one batch of all candidates. With 2+ threads the chunks are
  // taken by the threads one at a time; results do not depend on the thread count.
  std::vector<Candidate> refine(const cv::Mat& rgb, std::vector<Candidate> c, int stage, const std::array<float, 4>& threshold) {
    constexpr size_t kChunk = 32, kTasksPerThread = 4;
    const int size = stage == 1 ? mtcnn::kRNetSize : mtcnn::kONetSize;
    // With T threads, chunks of (nearly) equal size, kTasksPerThread per thread where there are
    // enough candidates (crops of large boxes cost more: small tasks even the threads out).
    const size_t T = workers_.size();
    size_t chunks = (c.size() + kChunk - 1) / kChunk;
    if (T > 1) chunks = std::min(c.size(), std::max(chunks, kTasksPerThread * T));
    const size_t chunk = chunks ? (c.size() + chunks - 1) / chunks : 0;
    chunks = chunk ? (c.size() + chunk - 1) / chunk : 0;
    const size_t per = size_t(size) * size * 3;
    std::vector<std::array<float, 16>> outs(c.size());
    const uint8_t outside = opt_.border_faces ? kOutsideGrey : 0;  // without border_faces: black, as the original MTCNN
    // One chunk per task, on the worker of the thread that runs it (a network's outputs for a
    // crop do not depend on the other crops of its batch: results do not depend on threads).
    pool_.parallelFor(chunks, [&](size_t k, size_t slot) {
      Worker& wk = *workers_[slot];
      engine::Sequential& net = stage == 1 ? wk.nets.rnet : wk.nets.onet;
      const size_t start = k * chunk, n = std::min(chunk, c.size() - start);
      wk.input.resize(Shape{int(n), size, size, 3});
      for (size_t i = 0; i < n; ++i) cropInto(rgb, c[start + i].box, c[start + i].turn, size, wk.input.data() + i * per, wk, outside);
      const Tensor& out = net.forward(wk.input, nullptr);
      const size_t oc = size_t(out.shape().c);
      for (size_t i = 0; i < n; ++i) std::copy(out.data() + i * oc, out.data() + (i + 1) * oc, outs[start + i].begin());
    });
    std::vector<Candidate> kept;
    for (size_t i = 0; i < c.size(); ++i) {
      const float* o = outs[i].data();
      Candidate k = c[i];
      k.score = faceProbability(o);
      if (k.score < threshold[size_t(k.turn)]) continue;
      std::copy(o + 2, o + 6, k.reg);
      if (stage == 2)
        for (int p = 0; p < 5; ++p)
          k.points[size_t(p)] = {k.box.x1 + o[6 + p] * k.box.width(), k.box.y1 + o[11 + p] * k.box.height()};
      kept.push_back(k);
    }
    if (stage == 1) {
      kept = nmsByTurn(std::move(kept), opt_.nms[1], Overlap::kUnion);
      for (Candidate& k : kept) applyRegression(k), square(k);
    } else {
      for (Candidate& k : kept) applyRegression(k);
      kept = nmsByTurn(std::move(kept), opt_.nms[2], Overlap::kMin);
    }
    return kept;
  }

  DetectorOptions opt_;
  engine::ThreadPool pool_;
  engine::ModelFile model_;
  engine::Backend backend_ = engine::Backend::kFast;
  std::vector<std::unique_ptr<Worker>> workers_;  // one per thread; workers_[0] also when single-threaded
  std::map<std::array<int, 3>, engine::Sequential> pnet_by_size_;
  // Bounded memory (runTiled): padded pixels a level may have before it runs in bands
  // (FACEKIT_PNET_BAND_PIXELS overrides it, 0: never, for tests and measurements); pixels of
  // band nets kept between calls; pixels of whole-level nets in the per-size cache.
  int band_pixels_ = bandPixelsFromEnv();
  static constexpr long kKeepPixels = 1L << 20, kCachePixels = 1L << 21;
  static int bandPixelsFromEnv() {
    const char* e = std::getenv("FACEKIT_PNET_BAND_PIXELS");
    return e && *e ? std::max(0, std::atoi(e)) : 20480;
  }
  DetectorProfile prof_;
  Tensor pnet_scratch_[2];  // shared by every level's P-Net when levels run one after another
  std::vector<Level> levels_;
  cv::Mat scratch_[2];
  // all_orientations
  std::array<std::vector<Level>, 4> tlevels_;  // per turn: the turned pyramid levels
  std::vector<cv::Mat> rgb_levels_;             // the upright pyramid (RGB)
  cv::Mat check_shrunk_, check_scratch_[2];
  Tensor rnet_input_;                           // R-Net inputs of the upright re-checks
};

}  // namespace

std::unique_ptr<FaceDetector> FaceDetector::create(const DetectorOptions& options) {
  return std::make_unique<MtcnnDetector>(options);
}

float iou(const Box& a, const Box& b) {
  const float inter = intersection(a, b);
  const float u = area(a) + area(b) - inter;
  return u > 0 ? inter / u : 0.f;
}

}  // namespace facekit
