#include "models/landmarks/crop106.hpp"

#include <opencv2/imgproc.hpp>

namespace facekit::landmarks {

void cropPatch(const cv::Mat& src, const Crop106& crop, int size, cv::Mat& out) {
  const double scale = size / crop.side;
  const cv::Mat* from = &src;
  cv::Mat reduced;
  double ox = 0, oy = 0, f = 1;  // src coordinates = reduced coordinates / f + offset
  if (scale < 0.5) {
    // Area-reduce the part of the image the (turned) square covers to the crop's scale.
    const double half = 0.5 * crop.side * (std::abs(std::cos(crop.angle)) + std::abs(std::sin(crop.angle))) + 2;
    const int x0 = std::max(0, int(std::floor(crop.cx - half))), y0 = std::max(0, int(std::floor(crop.cy - half)));
    const int x1 = std::min(src.cols, int(std::ceil(crop.cx + half))), y1 = std::min(src.rows, int(std::ceil(crop.cy + half)));
    if (x1 - x0 >= 2 && y1 - y0 >= 2) {
      const int w = std::max(1, int(std::lround((x1 - x0) * scale))), h = std::max(1, int(std::lround((y1 - y0) * scale)));
      cv::resize(src(cv::Rect(x0, y0, x1 - x0, y1 - y0)), reduced, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      from = &reduced;
      ox = x0, oy = y0;
      f = double(w) / (x1 - x0);  // x and y factors differ by rounding only; use each exactly below
      const double fy = double(h) / (y1 - y0);
      // Continuous coordinates: p_reduced = (p_src - offset) * factor.
      Crop106 c = crop;
      c.cx = (crop.cx - ox) * f, c.cy = (crop.cy - oy) * fy, c.side = crop.side * 0.5 * (f + fy);
      const auto m = c.toCrop(size);
      // OpenCV samples at integer pixel centres: shift by half a pixel on both sides.
      cv::Matx23d a(m[0], m[1], m[2] + 0.5 * (m[0] + m[1]) - 0.5, m[3], m[4], m[5] + 0.5 * (m[3] + m[4]) - 0.5);
      cv::warpAffine(*from, out, a, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
      return;
    }
  }
  const auto m = crop.toCrop(size);
  cv::Matx23d a(m[0], m[1], m[2] + 0.5 * (m[0] + m[1]) - 0.5, m[3], m[4], m[5] + 0.5 * (m[3] + m[4]) - 0.5);
  cv::warpAffine(*from, out, a, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
}

}  // namespace facekit::landmarks
