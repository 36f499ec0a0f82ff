// MTCNN training samples as Zhang et al. (2016) make them, from WIDER-style annotations:
// square windows classified by their best IoU with a face box (>= 0.65 positive, 0.4-0.65 part
// face, < 0.3 negative, 0.3-0.4 unused), cut and resized to the net's input (12, 24, 48 px);
// landmark windows (positives whose 5 points are known); and for R-Net and O-Net, hard samples:
// the windows that the previous stages (facekit's own FaceDetector, run with the model being
// trained) hand on, classified the same way.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "engine/model_file.hpp"
#include "facekit/detector.hpp"
#include "train_config.hpp"

namespace facekit::train {

enum SampleKind : int8_t { kNegative = 0, kPositive = 1, kPart = 2, kLandmark = 3, kIgnored = -1 };

// The class of `window` against the faces (continuous pixel boxes): by the best plain IoU.
// `best` receives the index of that face (or -1 when there is none).
SampleKind classifyWindow(const Box& window, const std::vector<Box>& faces, int* best = nullptr);

// Box-regression targets as the detector applies them (x1 + dx1 * w, ...): the face's corners
// relative to the window, in window widths / heights.
std::array<float, 4> regressionTarget(const Box& window, const Box& face);

// Samples of one net's input size, stored flat: RGB uint8 pixels, kind, 4 offsets, 10 points
// (x0..x4 then y0..y4 in window fractions, the O-Net head's order).
struct SampleSet {
  int size = 12;
  std::vector<uint8_t> pixels;
  std::vector<int8_t> kind;
  std::vector<float> box, points;
  size_t count() const { return kind.size(); }
  size_t count(SampleKind k) const;
  // Cuts `window` (moved onto whole pixels as the detector's crops are; black outside the image)
  // from an RGB image and resizes it as the detector does.
  void add(const cv::Mat& rgb, Box window, SampleKind k, const Box* face, const std::array<Point2f, 5>* pts);
  void append(const SampleSet& other);
};

// `n` samples of `s` chosen at random (all of them when it has no more).
SampleSet subsample(const SampleSet& s, size_t n, std::mt19937_64& rng);

// The detector's crop: window on whole pixels, zero outside, halvings by area then bilinear.
void cropWindow(const cv::Mat& rgb, const Box& window, int size, uint8_t* dst);

// One annotated training image: every face (for negatives' IoU) and the ones usable as
// positives (valid and at least min_face_px), with their 5 points when a source gave them.
struct TrainImage {
  std::string path, key;  // key: "<event>/<name>"
  std::vector<Box> all, faces;
  std::vector<std::optional<std::array<Point2f, 5>>> points;  // per entry of `faces`
};

// A WIDER-style images folder and its annotations: a *_bbx_gt.txt file, or a folder holding the
// official wider_face_val.mat (src/eval reads both).
std::vector<TrainImage> loadAnnotated(const std::string& images, const std::string& annotations, int min_face_px);

// 5-point labels from a detector run: each face takes the points of the detection that overlaps
// it by IoU >= 0.65 (the best one), if any. Returns how many faces got points.
size_t labelPointsFromDetector(std::vector<TrainImage>& images, const std::string& model_path, int min_face);

struct SamplingOptions {
  int random_neg_per_image = 50;  // random windows anywhere, kept if negative
  int near_neg_per_face = 5;      // windows near a face, kept if negative
  int pos_per_face = 20;          // positives (and as many parts) per face from jittered windows
  int landmark_per_face = 5;      // jittered positives of faces with points (O-Net)
  int mined_per_image = 60;       // at most this many hard negatives per image (mined positives and parts all kept)
  bool random_negatives = true;   // R/O-Net: also random negatives beside the mined ones
  static SamplingOptions fromConfig(const Json& j);
};

// Random (paper-style) windows of one image. Landmark samples only when `landmarks`.
void randomSamples(const cv::Mat& rgb, const TrainImage& im, const SamplingOptions& o, bool landmarks, std::mt19937_64& rng, SampleSet& out);

// Hard samples: the previous stages' boxes (`candidates`), classified and cut; all positives and
// parts, at most o.mined_per_image negatives (random choice). Returns how many were added.
size_t minedSamples(const cv::Mat& rgb, const TrainImage& im, const std::vector<Box>& candidates, const SamplingOptions& o, std::mt19937_64& rng,
                    SampleSet& out);

// FaceDetector on `model` with the nets after `keep_through` ("pnet" or "rnet") neutral (see
// neutralAfter) and their thresholds 0 and NMS off: detect() then returns the boxes that the
// kept stages pass on, as facekit's pipeline computes them. The model is written to `tmp_path`.
std::unique_ptr<FaceDetector> makeMiner(const engine::ModelFile& model, const std::string& keep_through, const std::string& tmp_path,
                                        float pnet_threshold, float rnet_threshold, int min_face);
std::vector<Box> previousStageBoxes(FaceDetector& miner, const cv::Mat& rgb);

// FaceDetector keeps one P-Net per image size it has seen (up to 256, some MB each): over
// WIDER's many sizes that grew to 2.5 GB, so loops over images make a new one this often.
constexpr size_t kDetectorReuse = 32;

cv::Mat readRgb(const std::string& path);  // throws facekit::Error(kIoError)

}  // namespace facekit::train
