#include "dlib_peer.hpp"

#include "models/cv_interop.hpp"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <filesystem>
#include <opencv2/imgproc.hpp>

namespace facekit::cli {

struct DlibPeer::Impl {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::shape_predictor predictor;
  bool have_predictor = false;
};

DlibPeer::DlibPeer(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (!path.empty()) {
    if (!std::filesystem::exists(path)) throw Error(Error::Code::kIoError, path + ": no such file (dlib shape predictor, Debian libdlib-data)");
    dlib::deserialize(path) >> impl_->predictor;
    impl_->have_predictor = true;
  }
}
DlibPeer::~DlibPeer() = default;

namespace {
cv::Mat rgbMat(const ImageView& v, cv::Mat& storage) {
  const cv::Mat src = matView(v);
  if (v.format == PixelFormat::kRGB) return src;
  cv::cvtColor(src, storage, v.format == PixelFormat::kGray ? cv::COLOR_GRAY2RGB : cv::COLOR_BGR2RGB);
  return storage;
}
}  // namespace

std::vector<Box> DlibPeer::detect(const ImageView& image, int upsample) {
  cv::Mat storage;
  const cv::Mat rgb = rgbMat(image, storage);
  dlib::cv_image<dlib::rgb_pixel> img(rgb);
  std::vector<dlib::rectangle> rects;
  if (upsample > 0) {
    dlib::array2d<dlib::rgb_pixel> big;
    dlib::assign_image(big, img);
    for (int i = 0; i < upsample; ++i) dlib::pyramid_up(big);
    rects = impl_->detector(big);
    const double s = std::pow(2.0, upsample);
    for (auto& r : rects) r = dlib::rectangle(long(r.left() / s), long(r.top() / s), long(r.right() / s), long(r.bottom() / s));
  } else {
    rects = impl_->detector(img);
  }
  std::vector<Box> out;
  for (const auto& r : rects) out.push_back({float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)});
  return out;
}

std::vector<Point2f> DlibPeer::landmarks68(const ImageView& image, const Box& b) {
  if (!impl_->have_predictor) throw Error(Error::Code::kInvalidArgument, "DlibPeer: no shape predictor loaded");
  cv::Mat storage;
  const cv::Mat rgb = rgbMat(image, storage);
  dlib::cv_image<dlib::rgb_pixel> img(rgb);
  const dlib::full_object_detection shape =
      impl_->predictor(img, dlib::rectangle(long(b.x1), long(b.y1), long(b.x2) - 1, long(b.y2) - 1));
  std::vector<Point2f> out;
  for (unsigned i = 0; i < shape.num_parts(); ++i) out.push_back({float(shape.part(i).x()), float(shape.part(i).y())});
  return out;
}

}  // namespace facekit::cli
