// The official WIDER FACE evaluation protocol (Yang et al., CVPR 2016; eval_tools 2015),
// reimplemented from its published description and behaviour:
//   * scores are normalised over all predictions of the run: (s - min) / (max - min);
//   * per image, predictions (sorted by descending score) are matched to the ground-truth box of
//     highest IoU (areas counted with the "+1" pixel convention); IoU >= 0.5 to a box of the
//     setting is a true positive (the first time), to a box outside the setting ("ignore") it
//     is neither true nor false positive;
//   * the PR curve is sampled at 1000 score thresholds t_k = 1 - k/1000, k = 1..1000;
//   * AP is the VOC-style area under the monotone precision envelope.
// Settings easy / medium / hard choose which boxes count (wider_{easy,medium,hard}_val.mat).
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

namespace facekit::eval {

struct XywhBox {
  double x = 0, y = 0, w = 0, h = 0;
};

struct GtImage {
  std::string name;                    // file name without extension, e.g. "0_Parade_marchingband_1_465"
  std::vector<XywhBox> boxes;          // every face box of the image
  std::vector<std::vector<int>> keep;  // per setting: 0-based indices of the boxes that count
};

struct GtEvent {
  std::string name;  // e.g. "0--Parade"
  std::vector<GtImage> images;
};

struct GroundTruth {
  std::vector<std::string> settings;  // e.g. {"easy", "medium", "hard"}
  std::vector<GtEvent> events;
  size_t imageCount() const;
  size_t boxCount() const;
};

// Reads wider_face_val.mat and wider_{easy,medium,hard}_val.mat from `dir` (libmatio).
// Throws facekit::Error naming the file on anything unexpected.
GroundTruth loadWiderMat(const std::string& dir);

// Reads a WIDER-style *_bbx_gt.txt annotation file ("path / count / x y w h [blur expression
// illumination invalid occlusion pose]" per image). Every valid box counts (one setting,
// "all"); boxes flagged invalid are in the ignore set. Image paths keep their folder as event.
GroundTruth loadBbxGtText(const std::string& path);

struct Detection {
  XywhBox box;
  double score = 0;
};
// Predictions keyed by "event/name" (name without extension).
using Predictions = std::map<std::string, std::vector<Detection>>;

struct SettingResult {
  std::string setting;
  double ap = 0;
  size_t gt_faces = 0;                     // faces that count in the evaluated images
  std::vector<std::pair<double, double>> pr;  // (recall, precision) at the 1000 thresholds
};

// Evaluates predictions for the images present in `predictions` (images of the ground truth
// without a prediction entry are skipped: this is how a subset of the val images is scored).
std::vector<SettingResult> evaluate(const GroundTruth& gt, const Predictions& predictions, double iou_threshold = 0.5,
                                    int thresholds = 1000);

// IoU with the "+1" convention of the official tools (boxes as inclusive pixel ranges).
double iouPlusOne(const XywhBox& a, const XywhBox& b);

// Writes predictions in the official text format: <dir>/<event>/<name>.txt holding
// "<name>\n<count>\nx y w h score\n...".
void writePredictionFiles(const Predictions& predictions, const std::string& dir);

}  // namespace facekit::eval
