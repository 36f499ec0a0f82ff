// Training data for the facekit-106 model: faces from `facekit label` JSON-lines files, held in
// memory as eye-level-independent square regions around each face, and turned into augmented
// 96x96 crops framed as the pipeline frames them (src/models/landmarks/crop106.hpp).
//
// No libtorch here: batches are plain float buffers (NCHW), so the data code is testable and
// reusable without the trainer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "facekit/landmarks.hpp"
#include "models/landmarks/crop106.hpp"
#include "train_config.hpp"

namespace facekit::train {

using Points106 = std::array<Point2f, kNumLandmarks106>;

struct FaceSample {
  std::string image;      // source file (as in the labels)
  cv::Mat region;         // RGB uint8, region_px x region_px around the face
  Points106 points;       // labels, region pixels
  Face face;              // the detector's box and 5 points, region pixels
  HeadPose pose;          // degrees, image frame
};

struct DataOptions {
  std::vector<std::string> labels;  // label files (facekit label output)
  double val_fraction = 0.1;
  double min_face_px = 40;          // smaller faces (box side) are skipped
  double max_spread = 0.05;         // faces whose label passes disagree more are skipped
  int region_px = 192;
  double region_scale = 2.6;        // region side / extent of the 106 points
  size_t max_faces = 0;             // 0: all
  // Faces turned far (|yaw| >= 30 or |pitch| >= 25 degrees) are rare in photo collections; each
  // appears this many times per epoch (1: no oversampling).
  int large_pose_repeat = 1;
  static DataOptions fromConfig(const Json& data);
};

struct AugmentOptions {
  double box_crop_prob = 0.5;   // frame from the detector box (first pass) instead of the points
  double scale = 0.1;           // crop side x U(1 - s, 1 + s)
  double shift = 0.06;          // centre shift, fraction of the side
  double rotate_deg = 15;       // extra turn, N(0, rotate_deg) clipped at 3 sigma
  double full_circle_prob = 0;  // turn uniformly over the full circle instead
  double flip_prob = 0.5;
  double color = 0.3;           // brightness / contrast / saturation jitter strength
  double gray_prob = 0.1;
  double blur_prob = 0.1;
  double motion_blur_prob = 0.1;
  double occlusion_prob = 0.15;
  double noise_prob = 0.1;
  static AugmentOptions fromConfig(const Json& augment);
};

struct Dataset {
  std::vector<FaceSample> train, val;
  landmarks::BoxCalibration calibration;  // measured on train
  size_t skipped_status = 0, skipped_small = 0, skipped_spread = 0, unreadable = 0;
};

// Reads the label files, keeps usable faces, splits by a hash of the image file name (so every
// face of a photo lands on the same side, and the split does not depend on the order or the
// machine), loads the regions (2 threads). Throws facekit::Error on unreadable label files or
// when no face is usable.
Dataset loadDataset(const DataOptions& opt, int threads);

// The training faces of one epoch (unshuffled): every index once, large poses repeated.
std::vector<size_t> epochIndices(const std::vector<FaceSample>& train, int large_pose_repeat);

// Which side of the fixed split a file falls on.
bool isValidationImage(const std::string& image_path, double val_fraction);

// The framing of a sample: from its points (jittered or not) or from its detector box.
landmarks::Crop106 sampleCrop(const FaceSample& s, bool from_box, const landmarks::BoxCalibration& k);

// One training example: crop pixels (3 x size x size floats, (v - 127.5) / 128, RGB, CHW),
// 212 targets (points / size, x then y per point) and 3 pose targets (pitch, yaw, roll in
// degrees, roll relative to the crop). `seed` makes it deterministic.
void makeTrainingExample(const FaceSample& s, const AugmentOptions& aug, const landmarks::BoxCalibration& k, int size, uint64_t seed,
                         float* pixels, float* points, float* pose);

// Crop pixels for a given framing (no augmentation), layout as above.
void cropPixels(const cv::Mat& region, const landmarks::Crop106& crop, int size, float* pixels);

// Mean of the (unaugmented, points-framed) targets: the output layer's starting bias.
std::vector<float> meanTargets(const std::vector<FaceSample>& samples, int size);

}  // namespace facekit::train
