// The benchmarks' common scene, so that their figures describe the same image: the sample photo
// (one upright face) scaled to the width and cropped to the height, face kept in view. Needs
// FACEKIT_BENCH_SAMPLE (bench/CMakeLists.txt).
#pragma once

#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "facekit/image.hpp"

namespace bench {

inline const cv::Mat& scene(int w, int h) {  // RGB, cached per size
  static std::map<std::pair<int, int>, cv::Mat> cache;
  auto& m = cache[{w, h}];
  if (m.empty()) {
    facekit::Image a = facekit::loadImage(FACEKIT_BENCH_SAMPLE);
    cv::Mat src(a.height, a.width, CV_8UC3, a.pixels.data()), big;
    cv::resize(src, big, cv::Size(w, w), 0, 0, cv::INTER_AREA);
    m = big(cv::Rect(0, (w - h) / 12, w, h)).clone();  // keeps the face (upper part) in view
  }
  return m;
}

inline facekit::ImageView viewOf(const cv::Mat& rgb) { return {rgb.data, rgb.cols, rgb.rows, facekit::PixelFormat::kRGB, rgb.step}; }

}  // namespace bench
