// What the detection benchmarks share: their scene, so that their figures describe the same image
// (the sample photo, one upright face, scaled to the width and cropped to the height, face kept in
// view; needs FACEKIT_BENCH_SAMPLE, bench/CMakeLists.txt), and the reporter behind their tables.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>
#include <vector>

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

// A console reporter that also keeps, per benchmark, the median over repetitions (or the only
// run) of the adjusted real time and of the counters, for the tables printed after the run.
class MedianCollector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> median_ms;
  std::map<std::string, std::map<std::string, double>> counters;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.str();
      if (!aggregate && median_ms.count(name)) continue;  // repetitions: keep the median only
      median_ms[name] = r.GetAdjustedRealTime();
      for (const auto& [k, c] : r.counters) counters[name][k] = c.value;
    }
  }
};

inline facekit::ImageView viewOf(const cv::Mat& rgb) { return {rgb.data, rgb.cols, rgb.rows, facekit::PixelFormat::kRGB, rgb.step}; }

}  // namespace bench
