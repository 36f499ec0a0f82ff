// libfacekit_imgcodecs.so: OpenCV's imgcodecs behind the C interface of imgcodecs_plugin.h, for
// the formats libfacekit does not decode itself (BMP, TIFF, WebP, PNM) and for writing anything
// but PNG and JPEG. Links OpenCV only; libfacekit dlopen()s it when it needs it.
#include "plugins/imgcodecs_plugin.h"

#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "pipeline/codecs.hpp"

static_assert(facekit::codecs::kImreadUnchanged == cv::IMREAD_UNCHANGED && facekit::codecs::kImreadAnyColor == cv::IMREAD_ANYCOLOR,
              "libfacekit passes OpenCV's flags by value");

#define FACEKIT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
void setError(char* error, size_t size, const std::string& what) {
  if (!error || !size) return;
  std::string line = what;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::snprintf(error, size, "%s", line.c_str());
}
}  // namespace

FACEKIT_EXPORT int facekit_imgcodecs_abi(void) { return FACEKIT_IMGCODECS_ABI; }

FACEKIT_EXPORT int facekit_imgcodecs_decode(const unsigned char* data, size_t size, int flags, int* rows, int* cols, int* channels,
                                            int* depth, facekit_imgcodecs_alloc alloc, void* context, char* error, size_t error_size) {
  try {
    if (size > size_t(INT_MAX)) {
      setError(error, error_size, "cannot decode a file of more than 2 GiB");
      return 1;
    }
    const cv::Mat m = cv::imdecode(cv::Mat(1, int(size), CV_8U, const_cast<unsigned char*>(data)), flags);
    if (m.empty()) {
      setError(error, error_size, "cannot decode (corrupt file or unsupported format)");
      return 1;
    }
    *rows = m.rows, *cols = m.cols, *channels = m.channels(), *depth = m.depth();
    const size_t row_bytes = size_t(m.cols) * m.elemSize();
    auto* out = static_cast<unsigned char*>(alloc(context, row_bytes * size_t(m.rows)));
    if (!out) return 2;
    for (int r = 0; r < m.rows; ++r) std::memcpy(out + size_t(r) * row_bytes, m.ptr(r), row_bytes);
    return 0;
  } catch (const cv::Exception& e) {
    setError(error, error_size, "cannot decode: " + e.err);
  } catch (const std::exception& e) {
    setError(error, error_size, std::string("cannot decode: ") + e.what());
  } catch (...) {
    setError(error, error_size, "cannot decode (unknown error)");
  }
  return 1;
}

FACEKIT_EXPORT int facekit_imgcodecs_encode(const char* ext, const unsigned char* pixels, int rows, int cols, int channels, size_t step,
                                            facekit_imgcodecs_alloc alloc, void* context, size_t* out_size, char* error,
                                            size_t error_size) {
  try {
    if (channels != 1 && channels != 3) {
      setError(error, error_size, "cannot write an image of " + std::to_string(channels) + " channels");
      return 1;
    }
    const cv::Mat m(rows, cols, CV_8UC(channels), const_cast<unsigned char*>(pixels), step);
    std::vector<uchar> buf;
    if (!cv::imencode(ext, m, buf)) {
      setError(error, error_size, "cannot write image (unknown extension?)");
      return 1;
    }
    auto* out = static_cast<unsigned char*>(alloc(context, buf.size()));
    if (!out) {
      setError(error, error_size, "out of memory");
      return 1;
    }
    if (!buf.empty()) std::memcpy(out, buf.data(), buf.size());
    *out_size = buf.size();
    return 0;
  } catch (const cv::Exception& e) {
    setError(error, error_size, "cannot write image: " + e.err);
  } catch (const std::exception& e) {
    setError(error, error_size, std::string("cannot write image: ") + e.what());
  } catch (...) {
    setError(error, error_size, "cannot write image (unknown error)");
  }
  return 1;
}
