// Internal: facekit images <-> OpenCV matrices, written once. It lives with the models, the
// lowest layer that needs it; the pipeline and the tools above include it from here.
#pragma once

#include <opencv2/core.hpp>

#include "facekit/image.hpp"

namespace facekit {

// A cv::Mat header over the view's pixels (no copy; valid while the pixels are). The Mat is
// writable only because OpenCV has no const Mat: callers must not write through it.
inline cv::Mat matView(const ImageView& v) {
  return cv::Mat(v.height, v.width, v.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(v.data), v.rowBytes());
}

// Copies an 8-bit 1- or 3-channel matrix into an Image of the given format (packed rows).
inline Image imageFromMat(const cv::Mat& m, PixelFormat format) {
  const cv::Mat packed = m.isContinuous() ? m : m.clone();
  Image out;
  out.width = m.cols, out.height = m.rows, out.format = format;
  out.pixels.assign(packed.data, packed.data + packed.total() * packed.elemSize());
  return out;
}

}  // namespace facekit
