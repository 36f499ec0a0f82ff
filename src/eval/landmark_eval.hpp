// Landmark and head-pose accuracy: normalised mean error (NME) by inter-ocular (outer eye
// corners) and inter-pupil (eye centres) distance, failure rate, cumulative error curves, and
// pose mean absolute error. 68-point metrics use the iBUG 300-W layout; facekit-106 results are
// compared through the documented 106 -> 68 correspondence (docs/landmarks-106.md).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "facekit/detector.hpp"
#include "facekit/landmarks.hpp"

namespace facekit::eval {

// kFacekit106To68[i] = the facekit-106 index used for iBUG-68 point i.
extern const std::array<int, 68> kFacekit106To68;
std::vector<Point2f> to68(const std::array<Point2f, kNumLandmarks106>& p);

enum class Normaliser { kInterOcular, kInterPupil };
// Mean point-to-point distance divided by the normaliser, both taken from `truth`. For 68
// points: outer eye corners 36 / 45, or centres of 36-41 / 42-47. For 106 points: 66 / 75, or
// the pupils 104 / 105. Throws kInvalidArgument for other sizes or mismatched point counts.
double nme(const std::vector<Point2f>& predicted, const std::vector<Point2f>& truth, Normaliser n);

struct ErrorSummary {
  size_t count = 0;
  double mean = 0, failure_rate = 0;  // failure: NME > threshold
  std::vector<std::pair<double, double>> ced;  // (NME, fraction of samples with error <= NME)
};
ErrorSummary summarise(std::vector<double> errors, double failure_threshold = 0.1, double ced_max = 0.2);

// dlib's XML landmark files (imglab format): one entry per face box with its parts.
struct XmlFace {
  std::string image;  // path relative to the XML file's folder
  Box box;
  std::vector<Point2f> parts;
};
std::vector<XmlFace> loadDlibXml(const std::string& path);

}  // namespace facekit::eval
