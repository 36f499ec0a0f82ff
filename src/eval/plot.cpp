#include "eval/plot.hpp"

#include <cmath>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facekit/error.hpp"

namespace facekit::eval {

namespace {
// The smallest "round" number >= v (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten), so
// that tenths of the axis land on readable values.
double niceCeil(double v) {
  if (v <= 0) return 1;
  const double e = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * e >= v * (1 - 1e-9)) return m * e;
  return 10 * e;
}
}  // namespace

void savePlot(const LinePlot& plot, const std::string& path, int width, int height) {
  LinePlot p = plot;
  p.x_max = p.x_min + niceCeil(p.x_max - p.x_min);
  p.y_max = p.y_min + niceCeil(p.y_max - p.y_min);
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int left = 80, right = 20, top = 50, bottom = 60;
  const int pw = width - left - right, ph = height - top - bottom;
  auto X = [&](double x) { return left + int((x - p.x_min) / (p.x_max - p.x_min) * pw); };
  auto Y = [&](double y) { return top + ph - int((y - p.y_min) / (p.y_max - p.y_min) * ph); };
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar black(0, 0, 0), grid(225, 225, 225);
  for (int i = 0; i <= 10; ++i) {
    const double fx = p.x_min + (p.x_max - p.x_min) * i / 10, fy = p.y_min + (p.y_max - p.y_min) * i / 10;
    cv::line(img, {X(fx), top}, {X(fx), top + ph}, grid);
    cv::line(img, {left, Y(fy)}, {left + pw, Y(fy)}, grid);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", fx);
    cv::putText(img, buf, {X(fx) - 12, top + ph + 20}, font, 0.45, black, 1, cv::LINE_AA);
    std::snprintf(buf, sizeof buf, "%g", fy);
    cv::putText(img, buf, {left - 45, Y(fy) + 5}, font, 0.45, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {left, top}, {left + pw, top + ph}, black, 1);
  cv::putText(img, p.title, {left, 24}, font, 0.65, black, 2, cv::LINE_AA);
  cv::putText(img, p.x_label, {left + pw / 2 - 40, height - 15}, font, 0.55, black, 1, cv::LINE_AA);
  cv::putText(img, p.y_label, {5, top - 8}, font, 0.5, black, 1, cv::LINE_AA);
  // Colour-blind-safe palette (Okabe-Ito), BGR.
  const cv::Scalar colours[] = {{178, 114, 0}, {0, 94, 213}, {115, 158, 0}, {167, 121, 204}, {233, 180, 86}, {66, 228, 240}, {0, 0, 0}};
  // Legend in the lower left, on white, where rising/falling curves rarely pass.
  const int legend_h = 22 * int(p.series.size()) + 8;
  int legend_y = top + ph - legend_h + 16;
  cv::rectangle(img, {left + 10, top + ph - legend_h - 2}, {left + 300, top + ph - 8}, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(img, {left + 10, top + ph - legend_h - 2}, {left + 300, top + ph - 8}, grid, 1);
  for (size_t s = 0; s < p.series.size(); ++s) {
    const auto& pts = p.series[s].points;
    for (size_t i = 1; i < pts.size(); ++i)
      cv::line(img, {X(pts[i - 1].first), Y(pts[i - 1].second)}, {X(pts[i].first), Y(pts[i].second)}, colours[s % 7], 2, cv::LINE_AA);
  }
  for (size_t s = 0; s < p.series.size(); ++s) {
    const cv::Scalar c = colours[s % 7];
    cv::line(img, {left + 20, legend_y - 5}, {left + 50, legend_y - 5}, c, 3, cv::LINE_AA);
    cv::putText(img, p.series[s].name, {left + 58, legend_y}, font, 0.5, black, 1, cv::LINE_AA);
    legend_y += 22;
  }
  if (!cv::imwrite(path, img)) throw Error(Error::Code::kIoError, "cannot write plot " + path);
}

}  // namespace facekit::eval
