// dlib as a peer for side-by-side figures (never part of facekit): its HOG face detector and its
// 68-point shape predictor (Debian libdlib-dev, libdlib-data).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "facekit/facekit.hpp"

namespace facekit::cli {

class DlibPeer {
 public:
  // predictor_path may be empty (detector only). Throws facekit::Error if the file is missing.
  explicit DlibPeer(const std::string& predictor_path = "");
  ~DlibPeer();
  // Face boxes (HOG + linear SVM), upsampling the image `upsample` times first (finds smaller faces).
  std::vector<Box> detect(const ImageView& image, int upsample = 1);
  // 68 iBUG points for a face box.
  std::vector<Point2f> landmarks68(const ImageView& image, const Box& box);
  static std::string defaultPredictorPath() { return "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facekit::cli
